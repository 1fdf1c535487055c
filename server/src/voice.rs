//! The voice relay: each frame a player sends goes on, unchanged and never decoded, to
//! those who may hear it ([`tavern_shared::voice::hears`]): the players within the
//! hearing radius ([`HearingRadius`], or the map's `hearingRadius`) of the speaker,
//! found in the proximity grid of the last tick (so no scan of all players, and never
//! across maps, rooms or private zones), none across a silent zone's edge; a speaker in
//! a meeting (`jitsiRoom` zone) reaches that meeting, wherever in it its members stand,
//! and nobody else. Only players whose microphone is on ([`VoiceStatus`]) are relayed;
//! deafened listeners, and listeners who muted the speaker, get nothing. Oversize
//! frames and floods (beyond a bucket of 60 frames filling at 60 a second) are dropped
//! and counted without disconnecting anyone.

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, InZones, PlayerId};
use tavern_shared::map::MapData;
use tavern_shared::stream::StreamId;
use tavern_shared::voice::{
    MAX_FRAME_BYTES, MAX_FRAMES_PER_SEC, VoiceFrame, VoiceMute, VoiceRelay, VoiceStatus, hears,
    voice_space,
};

use crate::GameSystems;
use crate::interest::StreamTag;
use crate::metrics::Metrics;
use crate::net::to_client;
use crate::players::{Controls, PlayerDirectory};
use crate::proximity::Grid;
use crate::world::{MapId, Maps, OnMap};
use crate::zones::{Owner, Presence, ZoneChange, can_hear};

/// How far a voice carries, in pixels, on maps that do not say (`--hearing-radius`,
/// by default the proximity radius).
#[derive(Resource, Debug, Clone, Copy)]
pub struct HearingRadius(pub f32);

impl Default for HearingRadius {
    fn default() -> Self {
        HearingRadius(tavern_shared::proximity::DEFAULT_RADIUS)
    }
}

impl HearingRadius {
    /// The hearing radius on `map`: its own `hearingRadius`, else the server's.
    pub fn of(&self, map: &MapData) -> f32 {
        map.hearing_radius.unwrap_or(self.0)
    }
}

/// On a connection: its voice settings, its allowance of frames (a bucket of
/// [`MAX_FRAMES_PER_SEC`], filling at that rate) and the speakers it muted.
#[derive(Component, Debug)]
pub struct Voice {
    status: VoiceStatus,
    tokens: f64,
    /// When the allowance was last counted (seconds).
    at: f64,
    /// Speakers muted, by their avatars' stream ids.
    muted: HashSet<StreamId>,
}

impl Default for Voice {
    fn default() -> Self {
        Voice {
            status: VoiceStatus::default(),
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
        .init_resource::<HearingRadius>()
        .add_systems(
            PreUpdate,
            (settings, relay).chain().after(GameSystems::ReceiveInputs),
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

/// Voice state of connections that had none yet: made during a system, inserted at its
/// end (so what a connection did in its first frame counts).
#[derive(Default)]
struct Fresh(HashMap<Entity, Voice>);

impl Fresh {
    /// `client`'s voice state, its own or a fresh one.
    fn get<'a>(
        &'a mut self,
        voices: &'a mut Query<&mut Voice>,
        client: Entity,
        make: impl FnOnce() -> Voice,
    ) -> &'a mut Voice {
        match voices.get_mut(client) {
            Ok(voice) => voice.into_inner(),
            Err(_) => self.0.entry(client).or_insert_with(make),
        }
    }

    fn insert(self, commands: &mut Commands) {
        for (client, voice) in self.0 {
            if let Ok(mut entity) = commands.get_entity(client) {
                entity.insert(voice);
            }
        }
    }
}

/// Mutes, and the microphone and deafen switches.
fn settings(
    mut mutes: MessageReader<FromClient<VoiceMute>>,
    mut statuses: MessageReader<FromClient<VoiceStatus>>,
    mut commands: Commands,
    mut voices: Query<&mut Voice>,
) {
    let mut fresh = Fresh::default();
    for FromClient { client_id, message } in mutes.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let voice = fresh.get(&mut voices, client, Voice::default);
        if message.muted {
            voice.muted.insert(message.speaker);
        } else {
            voice.muted.remove(&message.speaker);
        }
    }
    for FromClient { client_id, message } in statuses.read() {
        if let Some(client) = client_id.entity() {
            fresh.get(&mut voices, client, Voice::default).status = *message;
        }
    }
    fresh.insert(&mut commands);
}

#[allow(clippy::too_many_arguments)]
fn relay(
    mut received: MessageReader<FromClient<VoiceFrame>>,
    time: Res<Time<Real>>,
    mut commands: Commands,
    connections: Query<&Controls>,
    mut voices: Query<&mut Voice>,
    avatars: Query<(
        (&PlayerId, &StreamTag),
        &AvatarState,
        &OnMap,
        &InZones,
        &Presence,
        Option<&Owner>,
    )>,
    (grid, hearing): (Res<Grid>, Res<HearingRadius>),
    players: Res<PlayerDirectory>,
    meetings: Res<Meetings>,
    maps: Res<Maps>,
    metrics: Res<Metrics>,
    mut out: MessageWriter<ToClients<VoiceRelay>>,
) {
    let now = time.elapsed_secs_f64();
    let dropped = |why: &str, bytes: usize| {
        metrics.voice_frames.with_label_values(&[why]).inc();
        metrics
            .voice_bytes
            .with_label_values(&[why])
            .inc_by(bytes as u64);
    };
    let mut fresh = Fresh::default();
    let mut listeners: Vec<Entity> = Vec::new();
    let (mut relayed, mut relayed_bytes) = (0u64, 0u64);
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let bytes = message.opus.len();
        if bytes > MAX_FRAME_BYTES {
            dropped("oversize", bytes);
            continue;
        }
        // At most so many frames a second per speaker, counted from its first frame.
        let voice = fresh.get(&mut voices, client, || Voice {
            at: now,
            ..Voice::default()
        });
        if !voice.allow(now) {
            dropped("flood", bytes);
            continue;
        }
        if !voice.status.microphone {
            dropped("no_microphone", bytes);
            continue;
        }
        let Some((speaker_avatar, ((speaker, tag), state, on, zones, presence, _))) = connections
            .get(client)
            .ok()
            .and_then(|c| Some((c.0, avatars.get(c.0).ok()?)))
        else {
            dropped("no_avatar", bytes);
            continue;
        };
        let Some(place) = maps.try_get(on.0) else {
            continue;
        };
        let map_zones = &place.data.zones;
        let space = voice_space(map_zones, &zones.0);
        listeners.clear();
        match space.1 {
            Some(zone) => listeners.extend(
                meetings
                    .0
                    .get(&(on.0, zone))
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|a| *a != speaker_avatar),
            ),
            None => grid.within(
                presence.space(),
                state.motion.pos,
                hearing.of(&place.data),
                |id, _| {
                    if id != speaker.0
                        && let Some(avatar) = players.avatar_of(id)
                    {
                        listeners.push(avatar);
                    }
                },
            ),
        }
        let frame = VoiceRelay {
            speaker: tag.0,
            seq: message.seq,
            opus: message.opus.clone(),
        };
        for &listener in &listeners {
            let Ok((_, _, listener_on, listener_zones, listener_presence, Some(owner))) =
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
                .is_ok_and(|v| v.status.deafened || v.muted.contains(&tag.0))
            {
                continue;
            }
            relayed += 1;
            relayed_bytes += bytes as u64;
            out.write(to_client(owner.0, frame.clone()));
        }
    }
    // Counted once a frame of the game, not once per listener.
    if relayed > 0 {
        metrics
            .voice_frames
            .with_label_values(&["relayed"])
            .inc_by(relayed);
        metrics
            .voice_bytes
            .with_label_values(&["relayed"])
            .inc_by(relayed_bytes);
    }
    fresh.insert(&mut commands);
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
