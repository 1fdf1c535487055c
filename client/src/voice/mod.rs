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
#[cfg(not(target_arch = "wasm32"))]
pub mod mixer;
pub mod resample;
pub mod spatial;
#[cfg(not(target_arch = "wasm32"))]
pub mod speech;
pub mod vad;

/// Samples a second, for capture, coding and playback.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one frame.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE * tavern_shared::voice::FRAME_MS / 1000) as usize;
/// Bits a second of speech.
pub const BITRATE: u32 = 16_000;

/// What the player asks of voice (`/voice ...`).
#[derive(Message, Debug, Clone, PartialEq)]
pub enum VoiceCommand {
    /// `/voice on`, `/voice off`: the microphone (push to talk with V).
    Microphone(bool),
    /// `/voice open`, `/voice ptt`: an open microphone sent while it hears speech
    /// (voice-activity detection), or push to talk (V, the default).
    OpenMic(bool),
    /// `/voice deafen`, `/voice undeafen`: hear nobody.
    Deafen(bool),
    /// `/voice mute NAME`, `/voice unmute NAME`: stop (or start again) hearing someone.
    Mute(String, bool),
    /// `/voice volume NAME PERCENT` (0 to 200): how loud someone sounds.
    Volume(String, f32),
}

/// How `/voice` is used.
pub const VOICE_HELP: &str = "/voice on|off (hold V to talk), /voice open|ptt (open microphone or push to talk), /voice deafen|undeafen, /voice mute|unmute NAME, /voice volume NAME 0-200";

impl VoiceCommand {
    /// Reads what follows `/voice`.
    pub fn parse(rest: &str) -> Result<VoiceCommand, String> {
        let (word, rest) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
        let named = |rest: &str| -> Result<(String, String), String> {
            let (name, more) = crate::chat::split_name(rest)?;
            if name.is_empty() {
                return Err(format!("whom? {VOICE_HELP}"));
            }
            Ok((name.to_string(), more.trim().to_string()))
        };
        match word.to_lowercase().as_str() {
            "on" => Ok(VoiceCommand::Microphone(true)),
            "off" => Ok(VoiceCommand::Microphone(false)),
            "open" => Ok(VoiceCommand::OpenMic(true)),
            "ptt" => Ok(VoiceCommand::OpenMic(false)),
            "deafen" => Ok(VoiceCommand::Deafen(true)),
            "undeafen" => Ok(VoiceCommand::Deafen(false)),
            "mute" | "unmute" => {
                let (name, _) = named(rest)?;
                Ok(VoiceCommand::Mute(name, word.eq_ignore_ascii_case("mute")))
            }
            "volume" | "vol" => {
                let (name, level) = named(rest)?;
                match level.trim_end_matches('%').parse::<f32>() {
                    Ok(p) if (0.0..=200.0).contains(&p) => {
                        Ok(VoiceCommand::Volume(name, p / 100.0))
                    }
                    _ => Err(format!(
                        "the volume is a percentage from 0 to 200, not `{level}`"
                    )),
                }
            }
            _ => Err(VOICE_HELP.into()),
        }
    }
}

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
    /// The next frame of the own voice: its sequence number, and the message to send
    /// (none for a frame left out as silent).
    pub fn next_frame(&mut self, opus: Option<Vec<u8>>) -> (u16, Option<VoiceFrame>) {
        let seq = self.next_seq();
        (seq, opus.map(|opus| self.frame(seq, opus)))
    }

    /// The sequence number of the next 20 ms of the own voice, whether it goes out or
    /// not (an encoder that answers later sends it with [`Voices::frame`]).
    pub fn next_seq(&mut self) -> u16 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }

    /// The message for frame `seq` of the own voice, counted as sent.
    pub fn frame(&mut self, seq: u16, opus: Vec<u8>) -> VoiceFrame {
        self.sent += 1;
        VoiceFrame { seq, opus }
    }

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
    app.init_resource::<Voices>()
        .add_message::<VoiceCommand>()
        .add_systems(
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
    let (seq, frame) = world.resource_mut::<Voices>().next_frame(opus);
    if let Some(frame) = frame {
        world.write_message(frame);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_commands_are_read_and_bad_ones_say_how() {
        let p = VoiceCommand::parse;
        assert_eq!(p("on"), Ok(VoiceCommand::Microphone(true)));
        assert_eq!(p(" OFF "), Ok(VoiceCommand::Microphone(false)));
        assert_eq!(p("deafen"), Ok(VoiceCommand::Deafen(true)));
        assert_eq!(p("open"), Ok(VoiceCommand::OpenMic(true)));
        assert_eq!(p("ptt"), Ok(VoiceCommand::OpenMic(false)));
        assert_eq!(p("mute Bo"), Ok(VoiceCommand::Mute("Bo".into(), true)));
        assert_eq!(
            p("unmute \"Old Tom\""),
            Ok(VoiceCommand::Mute("Old Tom".into(), false))
        );
        assert_eq!(
            p("volume \"Old Tom\" 150%"),
            Ok(VoiceCommand::Volume("Old Tom".into(), 1.5))
        );
        assert!(
            p("volume Bo 300")
                .unwrap_err()
                .contains("0 to 200, not `300`")
        );
        assert!(p("mute").unwrap_err().contains("whom?"));
        assert_eq!(p("loud"), Err(VOICE_HELP.into()));
    }
}
