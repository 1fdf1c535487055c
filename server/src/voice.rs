//! The voice relay: each frame a player sends goes on, unchanged and never decoded, to
//! those who may hear it ([`tavern_shared::voice::hears`]): the players near the
//! speaker that the proximity grid found this tick (so no scan of all players, and
//! never across maps, rooms or private zones), none across a silent zone's edge; a
//! speaker in a meeting (`jitsiRoom` zone) reaches that meeting, wherever in it its
//! members stand, and nobody else. Listeners who muted the speaker get nothing.
//! Oversize frames and floods (beyond a bucket of 60 frames filling at 60 a second)
//! are dropped and counted without disconnecting anyone.

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{InZones, PlayerId};
use tavern_shared::voice::{
    MAX_FRAME_BYTES, MAX_FRAMES_PER_SEC, VoiceFrame, VoiceMute, VoiceRelay, hears, voice_space,
};

use crate::GameSystems;
use crate::metrics::Metrics;
use crate::net::to_client;
use crate::players::{Controls, PlayerDirectory};
use crate::proximity::NearSets;
use crate::world::{MapId, Maps, OnMap};
use crate::zones::{Owner, Presence, ZoneChange, can_hear};

/// On a connection: its allowance of frames (a bucket of [`MAX_FRAMES_PER_SEC`],
/// filling at that rate) and the speakers it muted.
#[derive(Component, Debug)]
pub struct Voice {
    tokens: f64,
    /// When the allowance was last counted (seconds).
    at: f64,
    muted: HashSet<u64>,
}

impl Default for Voice {
    fn default() -> Self {
        Voice {
            tokens: f64::from(MAX_FRAMES_PER_SEC),
            at: 0.0,
            muted: HashSet::new(),
        }
    }
}

impl Voice {
    /// Whether one more frame at `now` is within the allowance (and takes it).
    fn allow(&mut self, now: f64) -> bool {
        let full = f64::from(MAX_FRAMES_PER_SEC);
        self.tokens = (self.tokens + (now - self.at).max(0.0) * full).min(full);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The avatars in each meeting zone, kept from the zone changes.
#[derive(Resource, Debug, Default)]
pub struct Meetings(HashMap<(MapId, u16), HashSet<Entity>>);

pub fn plugin(app: &mut App) {
    app.init_resource::<Meetings>()
        .add_systems(
            PreUpdate,
            (mute, relay).chain().after(GameSystems::ReceiveInputs),
        )
        .add_systems(
            FixedUpdate,
            follow_meetings
                .in_set(GameSystems::Track)
                .after(crate::zones::track_zones),
        );
}

/// Keeps who stands in which meeting zone.
fn follow_meetings(
    mut changes: MessageReader<ZoneChange>,
    maps: Res<Maps>,
    mut meetings: ResMut<Meetings>,
) {
    for change in changes.read() {
        let is_meeting = maps
            .try_get(change.map)
            .and_then(|p| p.data.zones.get(change.zone as usize))
            .is_some_and(|z| z.effects.jitsi.is_some());
        let key = (change.map, change.zone);
        if change.entered && is_meeting {
            meetings.0.entry(key).or_default().insert(change.avatar);
        } else if let Some(members) = meetings.0.get_mut(&key) {
            members.remove(&change.avatar);
            if members.is_empty() {
                meetings.0.remove(&key);
            }
        }
    }
}

fn mute(
    mut received: MessageReader<FromClient<VoiceMute>>,
    mut commands: Commands,
    mut voices: Query<&mut Voice>,
) {
    // Connections without voice state yet: theirs, made here and inserted at the end.
    let mut fresh: HashMap<Entity, Voice> = HashMap::new();
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let mut found = voices.get_mut(client).ok();
        let voice = match &mut found {
            Some(voice) => &mut **voice,
            None => fresh.entry(client).or_default(),
        };
        if message.muted {
            voice.muted.insert(message.speaker);
        } else {
            voice.muted.remove(&message.speaker);
        }
    }
    insert_fresh(&mut commands, fresh);
}

/// Gives connections the voice state made for them this frame.
fn insert_fresh(commands: &mut Commands, fresh: HashMap<Entity, Voice>) {
    for (client, voice) in fresh {
        if let Ok(mut entity) = commands.get_entity(client) {
            entity.insert(voice);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn relay(
    mut received: MessageReader<FromClient<VoiceFrame>>,
    time: Res<Time<Real>>,
    mut commands: Commands,
    connections: Query<&Controls>,
    mut voices: Query<&mut Voice>,
    avatars: Query<(&PlayerId, &OnMap, &InZones, &Presence, Option<&Owner>)>,
    near: Res<NearSets>,
    players: Res<PlayerDirectory>,
    meetings: Res<Meetings>,
    maps: Res<Maps>,
    metrics: Res<Metrics>,
    mut out: MessageWriter<ToClients<VoiceRelay>>,
) {
    let now = time.elapsed_secs_f64();
    let dropped = |why: &str| metrics.voice_frames.with_label_values(&[why]).inc();
    // Connections speaking for the first time: counted here, their state inserted at
    // the end, so a first burst meets the limit too.
    let mut fresh: HashMap<Entity, Voice> = HashMap::new();
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        if message.opus.len() > MAX_FRAME_BYTES {
            dropped("oversize");
            continue;
        }
        // At most so many frames a second per speaker.
        let mut found = voices.get_mut(client).ok();
        let voice = match &mut found {
            Some(voice) => &mut **voice,
            None => fresh.entry(client).or_insert_with(|| Voice {
                at: now,
                ..Voice::default()
            }),
        };
        let allowed = voice.allow(now);
        if !allowed {
            dropped("flood");
            continue;
        }
        let Some((speaker_avatar, (speaker, on, zones, presence, _))) = connections
            .get(client)
            .ok()
            .and_then(|c| Some((c.0, avatars.get(c.0).ok()?)))
        else {
            dropped("no_avatar");
            continue;
        };
        let Some(place) = maps.try_get(on.0) else {
            continue;
        };
        let map_zones = &place.data.zones;
        let space = voice_space(map_zones, &zones.0);
        let meeting = space.1;
        let listeners: Vec<Entity> = match meeting {
            Some(zone) => meetings
                .0
                .get(&(on.0, zone))
                .into_iter()
                .flatten()
                .copied()
                .filter(|a| *a != speaker_avatar)
                .collect(),
            None => near
                .of(speaker.0)
                .iter()
                .filter_map(|id| players.avatar_of(*id))
                .collect(),
        };
        let frame = VoiceRelay {
            speaker: speaker.0,
            seq: message.seq,
            opus: message.opus.clone(),
        };
        for listener in listeners {
            let Ok((_, listener_on, listener_zones, listener_presence, Some(owner))) =
                avatars.get(listener)
            else {
                continue;
            };
            if listener_on.0 != on.0
                || !can_hear(listener_presence, presence)
                || !hears(map_zones, &space, &listener_zones.0)
            {
                continue;
            }
            if voices
                .get(owner.0)
                .is_ok_and(|v| v.muted.contains(&speaker.0))
            {
                continue;
            }
            metrics.voice_frames.with_label_values(&["relayed"]).inc();
            metrics.voice_bytes.inc_by(frame.opus.len() as u64);
            out.write(to_client(owner.0, frame.clone()));
        }
    }
    insert_fresh(&mut commands, fresh);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_is_a_burst_of_60_refilling_at_60_a_second() {
        let mut voice = Voice::default();
        let burst = (0..150).filter(|_| voice.allow(0.0)).count();
        assert_eq!(burst, 60);
        assert!(!voice.allow(0.001), "a fraction of a frame has refilled");
        assert!(voice.allow(0.02), "a frame's worth after 1/60 s");
        // Half a second later, 30 more.
        let later = (0..100).filter(|_| voice.allow(0.52)).count();
        assert_eq!(later, 30);
        // Real time (50 frames a second) is never refused.
        let mut steady = Voice::default();
        assert!((0..500).all(|i| steady.allow(10.0 + f64::from(i) * 0.02)));
    }
}
