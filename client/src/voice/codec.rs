//! Opus for voice (native builds, over the system's libopus): 48 kHz mono, 20 ms
//! frames, for speech at [`BITRATE`] with discontinuous transmission, so silence costs
//! next to nothing; and decoding, with the codec's own concealment of a lost frame.

use anyhow::{Context, Result};
use opus::{Application, Bitrate, Channels, Decoder, Encoder};
use tavern_shared::voice::MAX_FRAME_BYTES;

use super::{BITRATE, FRAME_SAMPLES, SAMPLE_RATE};

/// Encodes the own voice, frame by frame.
pub struct VoiceEncoder {
    encoder: Encoder,
}

impl VoiceEncoder {
    pub fn new() -> Result<Self> {
        let mut encoder = Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)
            .context("could not make an Opus encoder")?;
        encoder.set_bitrate(Bitrate::Bits(BITRATE as i32))?;
        encoder.set_dtx(true)?;
        encoder.set_inband_fec(true)?;
        encoder.set_packet_loss_perc(5)?;
        Ok(VoiceEncoder { encoder })
    }

    /// One frame of [`FRAME_SAMPLES`] samples (−1 to 1) encoded, or `None` when the
    /// encoder found it silent (a frame of 2 bytes or less with DTX: nothing to send).
    pub fn encode(&mut self, samples: &[f32]) -> Result<Option<Vec<u8>>> {
        let opus = self
            .encoder
            .encode_vec_float(samples, MAX_FRAME_BYTES)
            .context("Opus could not encode a frame")?;
        Ok((opus.len() > 2).then_some(opus))
    }
}

/// Decodes one speaker's voice.
pub struct VoiceDecoder {
    decoder: Decoder,
}

impl VoiceDecoder {
    pub fn new() -> Result<Self> {
        Ok(VoiceDecoder {
            decoder: Decoder::new(SAMPLE_RATE, Channels::Mono)
                .context("could not make an Opus decoder")?,
        })
    }

    /// 20 ms of samples from `opus`, or made up from what came before when the frame
    /// is lost (`None`). A frame that does not decode (a hostile or broken sender)
    /// is concealed as if lost.
    pub fn decode(&mut self, opus: Option<&[u8]>) -> Vec<f32> {
        let mut out = vec![0.0; FRAME_SAMPLES];
        let decoded = opus.is_some_and(|frame| {
            !frame.is_empty() && self.decoder.decode_float(frame, &mut out, false).is_ok()
        });
        if !decoded {
            out.fill(0.0);
            let _ = self.decoder.decode_float(&[], &mut out, false);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vowel-like sound: a 150 Hz voice with harmonics, swelling and fading.
    fn speech(frames: usize) -> Vec<f32> {
        (0..frames * FRAME_SAMPLES)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                let envelope = (t * 3.0 * std::f32::consts::PI).sin().abs();
                let voice: f32 = (1..6)
                    .map(|h| (t * 150.0 * h as f32 * std::f32::consts::TAU).sin() / h as f32)
                    .sum();
                0.3 * envelope * voice
            })
            .collect()
    }

    #[test]
    fn speech_goes_through_opus_within_the_frame_limit_and_comes_back_alike() {
        let source = speech(50);
        let mut encoder = VoiceEncoder::new().unwrap();
        let mut decoder = VoiceDecoder::new().unwrap();
        let mut decoded = Vec::new();
        let mut bytes = 0;
        for frame in source.chunks(FRAME_SAMPLES) {
            let opus = encoder
                .encode(frame)
                .unwrap()
                .expect("speech is not silent");
            assert!(opus.len() <= MAX_FRAME_BYTES);
            bytes += opus.len();
            decoded.extend(decoder.decode(Some(&opus)));
        }
        // About 16 kbit/s: 50 frames a second of about 40 bytes.
        assert!((1500..4000).contains(&bytes), "{bytes} bytes a second");
        let energy = |s: &[f32]| s.iter().map(|x| x * x).sum::<f32>();
        let ratio = energy(&decoded) / energy(&source);
        assert!((0.5..1.5).contains(&ratio), "energy ratio {ratio}");
    }

    #[test]
    fn silence_is_not_sent_and_a_lost_or_broken_frame_is_concealed() {
        let mut encoder = VoiceEncoder::new().unwrap();
        let silence = vec![0.0; FRAME_SAMPLES];
        // Five seconds of silence: Opus sends its first 200 ms, then one frame in 20.
        let sent = (0..250)
            .filter(|_| encoder.encode(&silence).unwrap().is_some())
            .count();
        assert!(sent <= 30, "{sent} silent frames of 250 sent");
        let mut decoder = VoiceDecoder::new().unwrap();
        let source = speech(10);
        let mut encoder = VoiceEncoder::new().unwrap();
        for frame in source.chunks(FRAME_SAMPLES) {
            let opus = encoder.encode(frame).unwrap().unwrap();
            decoder.decode(Some(&opus));
        }
        // The next frame lost: concealed with something like the voice, not silence.
        let concealed = decoder.decode(None);
        assert_eq!(concealed.len(), FRAME_SAMPLES);
        assert!(concealed.iter().any(|s| s.abs() > 0.01));
        // Garbage: no panic, a frame of the right length.
        assert_eq!(decoder.decode(Some(&[0xff; 7])).len(), FRAME_SAMPLES);
    }
}
