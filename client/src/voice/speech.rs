//! Something to say, for bots and tests: speech from `espeak-ng` when it is installed,
//! or a voice-like tone, as 48 kHz mono samples ready for [`super::codec`].

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::SAMPLE_RATE;

/// `text` spoken by `espeak-ng`, resampled to 48 kHz.
pub fn espeak(text: &str) -> Result<Vec<f32>> {
    let out = Command::new("espeak-ng")
        .args(["--stdout", "-s", "150", text])
        .output()
        .context("could not run espeak-ng (Debian's `espeak-ng` package)")?;
    if !out.status.success() {
        bail!(
            "espeak-ng failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let (rate, samples) = read_wav(&out.stdout).context("espeak-ng's output")?;
    Ok(resample(&samples, rate, SAMPLE_RATE))
}

/// `seconds` of a voice-like sound: a 140 Hz buzz with harmonics, its loudness rising
/// and falling four times a second like syllables.
pub fn tone(seconds: f32) -> Vec<f32> {
    let n = (seconds * SAMPLE_RATE as f32) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / SAMPLE_RATE as f32;
            let syllables = (t * 4.0 * std::f32::consts::PI).sin().abs();
            let buzz: f32 = (1..8)
                .map(|h| (t * 140.0 * h as f32 * std::f32::consts::TAU).sin() / h as f32)
                .sum();
            0.25 * syllables * buzz
        })
        .collect()
}

/// The sample rate and samples (−1 to 1, the first channel) of a 16-bit PCM WAV file.
/// A file written to a pipe has no sizes: a chunk that runs past the end runs to it.
pub fn read_wav(bytes: &[u8]) -> Result<(u32, Vec<f32>)> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        bail!("not a WAV file");
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
    let (mut at, mut format) = (12, None);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_at(at + 4) as usize;
        let body = at + 8;
        let end = body.saturating_add(size).min(bytes.len());
        match id {
            b"fmt " if end - body >= 16 => {
                format = Some((
                    u16_at(body),
                    u16_at(body + 2),
                    u32_at(body + 4),
                    u16_at(body + 14),
                ));
            }
            b"data" => {
                let Some((kind, channels, rate, bits)) = format else {
                    bail!("the data comes before the format");
                };
                if kind != 1 || bits != 16 || channels == 0 {
                    bail!("only 16-bit PCM is read, not format {kind} with {bits} bits");
                }
                let step = 2 * channels as usize;
                let samples = bytes[body..end]
                    .chunks_exact(step)
                    .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
                    .collect();
                return Ok((rate, samples));
            }
            _ => {}
        }
        at = body.saturating_add(size + size % 2);
    }
    bail!("no data chunk")
}

/// `samples` at rate `from` taken to rate `to`, by linear interpolation.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || samples.is_empty() {
        return samples.to_vec();
    }
    let n = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..n)
        .map(|i| {
            let x = i as f64 * step;
            let j = x.floor() as usize;
            let f = (x - j as f64) as f32;
            let a = samples[j.min(samples.len() - 1)];
            let b = samples[(j + 1).min(samples.len() - 1)];
            a + (b - a) * f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, samples: &[i16], data_size: u32) -> Vec<u8> {
        let mut b = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * 2).to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend(data_size.to_le_bytes());
        for s in samples {
            b.extend(s.to_le_bytes());
        }
        b
    }

    #[test]
    fn wav_files_are_read_with_or_without_their_sizes() {
        let file = wav(22050, &[0, 16384, -32768], 6);
        let (rate, samples) = read_wav(&file).unwrap();
        assert_eq!((rate, samples), (22050, vec![0.0, 0.5, -1.0]));
        // Written to a pipe: the sizes are left at their maximum.
        let piped = wav(22050, &[0, 16384], u32::MAX);
        assert_eq!(read_wav(&piped).unwrap().1, vec![0.0, 0.5]);
        let err = read_wav(b"ID3 mp3 file....").unwrap_err();
        assert!(err.to_string().contains("not a WAV"), "{err}");
    }

    #[test]
    fn resampling_keeps_the_length_in_time_and_the_shape() {
        let ramp: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        let up = resample(&ramp, 24000, 48000);
        assert_eq!(up.len(), 200);
        assert!((up[101] - 0.505).abs() < 1e-4, "{}", up[101]);
        assert_eq!(resample(&ramp, 48000, 48000), ramp);
    }

    #[test]
    fn the_tone_sounds_and_stays_in_range() {
        let t = tone(1.0);
        assert_eq!(t.len(), SAMPLE_RATE as usize);
        assert!(t.iter().all(|s| s.abs() <= 1.0));
        assert!(t.iter().any(|s| s.abs() > 0.2));
    }
}
