//! The voice relay: each frame a player sends goes on, unchanged and never decoded, to
//! those who may hear it ([`tavern_shared::voice::hears`]): the players near the
//! speaker that the proximity grid found this tick (so no scan of all players, and
//! never across maps, rooms or private zones), none across a silent zone's edge; a
//! speaker in a meeting (`jitsiRoom` zone) reaches that meeting, wherever in it its
//! members stand, and nobody else. Listeners who muted the speaker get nothing.
//! Oversize frames and floods are dropped and counted without disconnecting anyone.

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{InZones, PlayerId};
use tavern_shared::voice::{
    MAX_FRAME_BYTES, MAX_FRAMES_PER_SEC, VoiceFrame, VoiceMute, VoiceRelay, hears,
};

use crate::GameSystems;
use crate::metrics::Metrics;
use crate::net::to_client;
use crate::players::{Controls, PlayerDirectory};
use crate::proximity::NearSets;
use crate::world::{MapId, Maps, OnMap};
use crate::zones::{Owner, Presence, ZoneChange, can_hear};

/// On a connection: its voice frames this second, and the speakers it muted.
#[derive(Component, Debug, Default)]
pub struct Voice {
    second: u64,
    frames: u32,
    muted: HashSet<u64>,
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
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        match voices.get_mut(client) {
            Ok(mut voice) => {
                if message.muted {
                    voice.muted.insert(message.speaker);
                } else {
                    voice.muted.remove(&message.speaker);
                }
            }
            Err(_) => {
                let mut voice = Voice::default();
                if message.muted {
                    voice.muted.insert(message.speaker);
                }
                commands.entity(client).insert(voice);
            }
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
    let second = time.elapsed().as_secs();
    let dropped = |why: &str| metrics.voice_frames.with_label_values(&[why]).inc();
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        if message.opus.len() > MAX_FRAME_BYTES {
            dropped("oversize");
            continue;
        }
        // At most so many frames a second per speaker.
        let allowed = match voices.get_mut(client) {
            Ok(mut voice) => {
                if voice.second != second {
                    voice.second = second;
                    voice.frames = 0;
                }
                voice.frames += 1;
                voice.frames <= MAX_FRAMES_PER_SEC
            }
            Err(_) => {
                commands.entity(client).insert(Voice {
                    second,
                    frames: 1,
                    muted: HashSet::new(),
                });
                true
            }
        };
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
        let (_, meeting) = tavern_shared::voice::voice_space(map_zones, &zones.0);
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
                || !hears(map_zones, &zones.0, &listener_zones.0)
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
}
