//! Sample-rate conversion for voice: the microphone's rate to 48 kHz, and 48 kHz to the
//! sound card's.

/// Turns a stream of samples at one rate into another, by linear interpolation, chunk
/// by chunk (capture at the microphone's rate, playback at the sound card's).
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Where the next output falls, from the last input sample of the previous chunk.
    at: f64,
    last: f32,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Self {
        Resampler {
            step: f64::from(from.max(1)) / f64::from(to.max(1)),
            at: 1.0,
            last: 0.0,
        }
    }

    /// Resamples `input`, appending to `out`.
    pub fn run(&mut self, input: &[f32], out: &mut impl Extend<f32>) {
        if (self.step - 1.0).abs() < 1e-12 {
            out.extend(input.iter().copied());
            return;
        }
        // Positions count from the previous chunk's last sample (0) through this one's
        // (1 to len).
        let len = input.len() as f64;
        let last = self.last;
        let sample = |i: usize| if i == 0 { last } else { input[i - 1] };
        while self.at <= len {
            let j = self.at.floor() as usize;
            let f = (self.at - j as f64) as f32;
            let a = sample(j);
            let b = if j as f64 + 1.0 <= len {
                sample(j + 1)
            } else {
                a
            };
            out.extend(Some(a + (b - a) * f));
            self.at += self.step;
        }
        self.at -= len;
        if let Some(&l) = input.last() {
            self.last = l;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_in_chunks_is_seamless() {
        let input: Vec<f32> = (0..4410).map(|i| (i as f32 * 0.01).sin()).collect();
        let mut whole = Vec::new();
        Resampler::new(44_100, 48_000).run(&input, &mut whole);
        let mut chunked = Vec::new();
        let mut r = Resampler::new(44_100, 48_000);
        for chunk in input.chunks(441) {
            r.run(chunk, &mut chunked);
        }
        assert_eq!(whole.len(), chunked.len());
        assert!((whole.len() as i64 - 4800).abs() <= 1, "{}", whole.len());
        let worst = whole
            .iter()
            .zip(&chunked)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-5, "{worst}");
        let mut same = Vec::new();
        Resampler::new(48_000, 48_000).run(&input, &mut same);
        assert_eq!(same, input);
    }
}
