//! Voice on the client, as far as the network goes: frames sent for the own voice, and
//! the frames the server relays, counted by speaker (bots report them; the window's
//! playback takes them from here).

use std::collections::{BTreeMap, VecDeque};

use bevy::prelude::*;
use tavern_shared::stream::StreamId;
use tavern_shared::voice::{VoiceFrame, VoiceMute, VoiceRelay, VoiceStatus};
use web_time::Instant;

use crate::PlaySystems;

#[cfg(not(target_arch = "wasm32"))]
pub mod bots;
#[cfg(not(target_arch = "wasm32"))]
pub mod codec;
pub mod jitter;
pub mod spatial;
#[cfg(not(target_arch = "wasm32"))]
pub mod speech;

/// Frames kept for playback, at most (20 s of one speaker): what nothing takes is
/// forgotten, oldest first.
const KEEP: usize = 1024;

/// A frame of someone's voice, as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The speaker's avatar (stream id).
    pub speaker: StreamId,
    pub seq: u16,
    pub opus: Vec<u8>,
    pub at: Instant,
}

/// What voice came in, and went out.
#[derive(Resource, Debug, Default)]
pub struct Voices {
    /// Frames received from each speaker (its avatar's stream id).
    pub received: BTreeMap<StreamId, u64>,
    /// When each speaker's newest frame arrived.
    pub last_heard: BTreeMap<StreamId, Instant>,
    /// The newest frames received, oldest first, for playback to take.
    pub frames: VecDeque<Heard>,
    /// Frames sent.
    pub sent: u64,
    /// The settings last sent to the server.
    pub status: VoiceStatus,
    /// How far a voice carries on the current map (pixels), as the server said.
    pub hearing_radius: f32,
    next_seq: u16,
}

impl Voices {
    /// Every frame received.
    pub fn total(&self) -> u64 {
        self.received.values().sum()
    }

    /// Whether `speaker`'s voice arrived within the last `within`.
    pub fn speaking(&self, speaker: StreamId, within: std::time::Duration) -> bool {
        self.last_heard
            .get(&speaker)
            .is_some_and(|at| at.elapsed() <= within)
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Voices>().add_systems(
        PreUpdate,
        (receive, on_entering_a_map).in_set(PlaySystems::Receive),
    );
}

/// Takes the map's hearing radius; and tells a new connection (a first join, or coming
/// back after a drop) the voice settings, which the server keeps per connection.
fn on_entering_a_map(
    mut entered: MessageReader<tavern_shared::protocol::EnterMap>,
    mut voices: ResMut<Voices>,
    mut status: MessageWriter<VoiceStatus>,
) {
    let Some(enter) = entered.read().last() else {
        return;
    };
    voices.hearing_radius = enter.hearing_radius;
    if voices.status != VoiceStatus::default() {
        status.write(voices.status);
    }
}

fn receive(mut relayed: MessageReader<VoiceRelay>, mut voices: ResMut<Voices>) {
    let now = Instant::now();
    for frame in relayed.read() {
        *voices.received.entry(frame.speaker).or_default() += 1;
        voices.last_heard.insert(frame.speaker, now);
        voices.frames.push_back(Heard {
            speaker: frame.speaker,
            seq: frame.seq,
            opus: frame.opus.clone(),
            at: now,
        });
        if voices.frames.len() > KEEP {
            voices.frames.pop_front();
        }
    }
}

/// Sends one encoded frame of the own voice, or (`None`) counts a frame left out as
/// silent, so listeners see the gap in the sequence as time passing. Returns the
/// frame's sequence number.
pub fn speak(world: &mut World, opus: Option<Vec<u8>>) -> u16 {
    let mut voices = world.resource_mut::<Voices>();
    let seq = voices.next_seq;
    voices.next_seq = seq.wrapping_add(1);
    if let Some(opus) = opus {
        voices.sent += 1;
        world.write_message(VoiceFrame { seq, opus });
    }
    seq
}

/// Stops (or starts again) hearing `speaker` (its avatar's stream id).
pub fn mute(world: &mut World, speaker: StreamId, muted: bool) {
    world.write_message(VoiceMute { speaker, muted });
}

/// Turns the microphone on or off and deafens or not: the server relays the own voice
/// only while the microphone is on, and none to a deafened player.
pub fn set_status(world: &mut World, status: VoiceStatus) {
    world.resource_mut::<Voices>().status = status;
    world.write_message(status);
}
