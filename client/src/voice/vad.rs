//! Voice-activity detection for an open microphone: a frame is speech when it is
//! clearly louder than the room's noise floor (which the detector follows: quickly
//! down, slowly up), and speech goes on for a moment after the last loud frame so the
//! ends of words are not clipped.

/// How much louder than the noise floor speech is (10 dB).
pub const ABOVE_NOISE: f32 = 3.16;
/// Quieter than this (RMS) is never speech, however quiet the room.
pub const MIN_LEVEL: f32 = 0.004;
/// Frames that still count as speech after the last loud one (300 ms).
pub const HANGOVER: u32 = 15;

#[derive(Debug, Clone)]
pub struct Vad {
    /// The noise floor's RMS.
    noise: f32,
    /// Frames of speech still to go.
    hang: u32,
}

impl Default for Vad {
    fn default() -> Self {
        Vad {
            noise: MIN_LEVEL,
            hang: 0,
        }
    }
}

impl Vad {
    /// Whether `frame` (samples from −1 to 1) is to be sent as speech.
    pub fn speaking(&mut self, frame: &[f32]) -> bool {
        if frame.is_empty() {
            return self.hang > 0;
        }
        let rms = (frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32).sqrt();
        let loud = rms > (self.noise * ABOVE_NOISE).max(MIN_LEVEL);
        let speech = loud || self.hang > 0;
        if loud {
            self.hang = HANGOVER;
        } else {
            self.hang = self.hang.saturating_sub(1);
        }
        // The floor falls fast to a quieter frame and rises slowly (about 6 dB in 5 s),
        // so a long speech does not become the floor.
        if rms < self.noise {
            self.noise += (rms - self.noise) * 0.2;
        } else {
            self.noise = (self.noise * 1.003).min(rms);
        }
        self.noise = self.noise.max(MIN_LEVEL / 4.0);
        speech
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(level: f32, seed: u32) -> Vec<f32> {
        // Noise-like: a scrambled sequence at the given RMS (about).
        (0..960u32)
            .map(|i| {
                let x = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) as f32
                    / u32::MAX as f32;
                (x * 2.0 - 1.0) * level * 1.73
            })
            .collect()
    }

    #[test]
    fn speech_over_room_noise_is_heard_with_its_tail_and_silence_is_not() {
        let mut vad = Vad::default();
        // Two seconds of a quiet room (RMS 0.01): learned as the floor, not speech.
        let room: Vec<bool> = (0..100).map(|i| vad.speaking(&frame(0.01, i))).collect();
        assert!(room[50..].iter().all(|s| !s), "{room:?}");
        // Speech at RMS 0.1 (20 dB over the room).
        assert!((0..25).all(|i| vad.speaking(&frame(0.1, 1000 + i))));
        // Back to the room: 300 ms of tail, then silence.
        let after: Vec<bool> = (0..40)
            .map(|i| vad.speaking(&frame(0.01, 2000 + i)))
            .collect();
        assert!(after[..HANGOVER as usize].iter().all(|s| *s));
        assert!(
            after[HANGOVER as usize + 1..].iter().all(|s| !s),
            "{after:?}"
        );
    }

    #[test]
    fn a_steady_loud_room_becomes_the_floor_and_digital_silence_is_never_speech() {
        let mut vad = Vad::default();
        assert!(!(0..50).any(|_| vad.speaking(&[0.0; 960])));
        // A fan switched on (RMS 0.05): speech at first, then the floor.
        let fan: Vec<bool> = (0..1500).map(|i| vad.speaking(&frame(0.05, i))).collect();
        assert!(fan[0]);
        let last = fan.iter().rposition(|s| *s);
        assert!(
            fan[1400..].iter().all(|s| !s),
            "the fan became the floor: {last:?} {vad:?}"
        );
    }
}
