//! Playback of everyone's voice: one jitter buffer and Opus decoder per speaker, each
//! voice placed by its gains ([`super::spatial::gains`] times the player's volume for
//! that speaker) and mixed into the sound card's buffer. The sound card's clock drives
//! it: every 20 ms of output takes one frame from each speaker's buffer.

use std::collections::{HashMap, VecDeque};

use tavern_shared::stream::StreamId;

use super::FRAME_SAMPLES;
use super::codec::VoiceDecoder;
use super::jitter::{JitterBuffer, Next};

/// A speaker silent this many frames in a row (10 s) is forgotten, decoder and all.
const FORGET_AFTER: u32 = 500;

struct Speaker {
    buffer: JitterBuffer,
    decoder: VoiceDecoder,
    /// Decoded samples not yet played.
    pending: VecDeque<f32>,
    /// Left and right gains.
    gains: (f32, f32),
    silent_frames: u32,
}

/// Everyone's voice, as played. Shared between the game (which pushes frames and sets
/// gains) and the audio thread (which fills the output).
#[derive(Default)]
pub struct Mixer {
    speakers: HashMap<StreamId, Speaker>,
    /// Set by deafening: nothing plays, nothing is kept.
    pub deafened: bool,
}

impl Mixer {
    /// A frame of `speaker`'s voice, arrived at `arrival_ms`.
    pub fn push(&mut self, speaker: StreamId, seq: u16, arrival_ms: f64, opus: Vec<u8>) {
        if self.deafened {
            return;
        }
        let speaker = match self.speakers.entry(speaker) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => {
                let Ok(decoder) = VoiceDecoder::new() else {
                    return;
                };
                new.insert(Speaker {
                    buffer: JitterBuffer::default(),
                    decoder,
                    pending: VecDeque::new(),
                    gains: (
                        std::f32::consts::FRAC_1_SQRT_2,
                        std::f32::consts::FRAC_1_SQRT_2,
                    ),
                    silent_frames: 0,
                })
            }
        };
        speaker.buffer.push(seq, arrival_ms, opus);
    }

    /// Where `speaker`'s voice sits: its left and right gains.
    pub fn set_gains(&mut self, speaker: StreamId, gains: (f32, f32)) {
        if let Some(s) = self.speakers.get_mut(&speaker) {
            s.gains = gains;
        }
    }

    /// The speakers being played.
    pub fn speakers(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.speakers.keys().copied()
    }

    /// Mixes the next `out.len() / channels` samples (48 kHz) into `out`, interleaved:
    /// left and right on the first two channels (both on one, for a mono device),
    /// silence on any others.
    pub fn fill(&mut self, out: &mut [f32], channels: usize) {
        out.fill(0.0);
        let channels = channels.max(1);
        let frames = out.len() / channels;
        if self.deafened {
            self.speakers.clear();
            return;
        }
        self.speakers.retain(|_, s| s.silent_frames < FORGET_AFTER);
        for s in self.speakers.values_mut() {
            while s.pending.len() < frames {
                let samples = match s.buffer.pop() {
                    Next::Frame(opus) => {
                        s.silent_frames = 0;
                        s.decoder.decode(Some(&opus))
                    }
                    Next::Lost => s.decoder.decode(None),
                    Next::Silent => {
                        s.silent_frames += 1;
                        vec![0.0; FRAME_SAMPLES]
                    }
                };
                s.pending.extend(samples);
            }
            let (l, r) = s.gains;
            for (i, sample) in s.pending.drain(..frames).enumerate() {
                let at = &mut out[i * channels..(i + 1) * channels];
                if channels == 1 {
                    at[0] += sample * (l + r) * 0.5;
                } else {
                    at[0] += sample * l;
                    at[1] += sample * r;
                }
            }
        }
        for sample in out.iter_mut() {
            *sample = sample.clamp(-1.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::VoiceEncoder;
    use super::*;

    fn tone(frames: usize) -> Vec<f32> {
        (0..frames * FRAME_SAMPLES)
            .map(|i| 0.4 * (i as f32 * 200.0 / 48_000.0 * std::f32::consts::TAU).sin())
            .collect()
    }

    #[test]
    fn a_voice_plays_on_the_side_it_is_placed_and_deafening_silences_it() {
        let mut encoder = VoiceEncoder::new().unwrap();
        let mut mixer = Mixer::default();
        for (seq, frame) in tone(20).chunks(FRAME_SAMPLES).enumerate() {
            let opus = encoder.encode(frame).unwrap().unwrap();
            mixer.push(7, seq as u16, seq as f64 * 20.0, opus);
        }
        mixer.set_gains(7, (0.1, 0.9));
        let mut out = vec![0.0; 2 * FRAME_SAMPLES * 10];
        mixer.fill(&mut out, 2);
        let energy = |ch: usize| out.iter().skip(ch).step_by(2).map(|s| s * s).sum::<f32>();
        let (left, right) = (energy(0), energy(1));
        assert!(right > 10.0 * left && right > 1.0, "{left} {right}");
        assert_eq!(mixer.speakers().collect::<Vec<_>>(), vec![7]);
        // Deafened: silence, and the speakers forgotten.
        mixer.deafened = true;
        mixer.fill(&mut out, 2);
        assert!(out.iter().all(|s| *s == 0.0));
        assert_eq!(mixer.speakers().count(), 0);
    }

    #[test]
    fn voices_add_up_and_a_mono_device_gets_both_sides() {
        let mut mixer = Mixer::default();
        for speaker in [1, 2] {
            let mut encoder = VoiceEncoder::new().unwrap();
            for (seq, frame) in tone(10).chunks(FRAME_SAMPLES).enumerate() {
                let opus = encoder.encode(frame).unwrap().unwrap();
                mixer.push(speaker, seq as u16, seq as f64 * 20.0, opus);
            }
        }
        let mut mono = vec![0.0; FRAME_SAMPLES * 5];
        mixer.fill(&mut mono, 1);
        let peak = mono.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        // Two voices in phase, each at 0.4 times 1/√2 on each side: louder than one.
        assert!(peak > 0.45, "{peak}");
        assert!(peak <= 1.0);
    }
}
