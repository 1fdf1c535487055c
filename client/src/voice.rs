//! Voice on the client, as far as the network goes: frames sent for the own voice, and
//! the frames the server relays, counted by speaker (bots report them; the window's
//! playback takes them from here).

use std::collections::{BTreeMap, VecDeque};

use bevy::prelude::*;
use tavern_shared::voice::{VoiceFrame, VoiceMute, VoiceRelay};

use crate::PlaySystems;

/// Frames kept for playback, at most.
const KEEP: usize = 256;

/// What voice came in, and went out.
#[derive(Resource, Debug, Default)]
pub struct Voices {
    /// Frames received from each speaker (client id).
    pub received: BTreeMap<u64, u64>,
    /// The newest frames received, oldest first, for playback.
    pub frames: VecDeque<VoiceRelay>,
    /// Frames sent.
    pub sent: u64,
    next_seq: u16,
}

impl Voices {
    /// Every frame received.
    pub fn total(&self) -> u64 {
        self.received.values().sum()
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Voices>()
        .add_systems(PreUpdate, receive.in_set(PlaySystems::Receive));
}

fn receive(mut relayed: MessageReader<VoiceRelay>, mut voices: ResMut<Voices>) {
    for frame in relayed.read() {
        *voices.received.entry(frame.speaker).or_default() += 1;
        voices.frames.push_back(frame.clone());
        if voices.frames.len() > KEEP {
            voices.frames.pop_front();
        }
    }
}

/// Sends one encoded frame of the own voice.
pub fn speak(world: &mut World, opus: Vec<u8>) {
    let mut voices = world.resource_mut::<Voices>();
    let seq = voices.next_seq;
    voices.next_seq = seq.wrapping_add(1);
    voices.sent += 1;
    world.write_message(VoiceFrame { seq, opus });
}

/// Stops (or starts again) hearing `speaker`.
pub fn mute(world: &mut World, speaker: u64, muted: bool) {
    world.write_message(VoiceMute { speaker, muted });
}
