//! The desktop's sound for voice: the microphone through `cpal` (opened when the player
//! turns voice on with `/voice on`), Opus through libopus, and everyone's voice mixed
//! ([`crate::voice::mixer`]) and played through the sound card.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use tavern_shared::stream::StreamId;
use web_time::Instant;

use crate::voice::codec::VoiceEncoder;
use crate::voice::mixer::Mixer;
use crate::voice::resample::Resampler;
use crate::voice::{FRAME_SAMPLES, Heard, SAMPLE_RATE};

/// Captured samples kept at most (1 s): what the game does not take in time goes.
const CAPTURE_KEEP: usize = SAMPLE_RATE as usize;

/// The sound card and the microphone (the streams are not `Send` on every platform:
/// kept on the main thread).
pub struct Sound {
    mixer: Arc<Mutex<Mixer>>,
    streams: Vec<cpal::Stream>,
    /// 48 kHz samples from the microphone, while it is open.
    captured: Option<Arc<Mutex<VecDeque<f32>>>>,
    encoder: Option<VoiceEncoder>,
    encoded: Vec<(u16, Vec<u8>)>,
    started: Instant,
}

impl Sound {
    /// Playback through the default sound card, or why there is none.
    pub fn open() -> (Sound, Result<(), String>) {
        let mixer = Arc::new(Mutex::new(Mixer::default()));
        let mut sound = Sound {
            mixer: mixer.clone(),
            streams: Vec::new(),
            captured: None,
            encoder: None,
            encoded: Vec::new(),
            started: Instant::now(),
        };
        let opened = output_stream(mixer).map(|stream| {
            sound.streams.push(stream);
            info!("voice: playing through the default sound card");
        });
        (sound, opened)
    }

    /// Opens the default microphone: `Ok(true)` when it records.
    pub fn open_microphone(&mut self) -> Result<bool, String> {
        if self.captured.is_none() {
            let captured = Arc::new(Mutex::new(VecDeque::new()));
            let encoder = VoiceEncoder::new().map_err(|e| format!("{e:#}"))?;
            self.streams.push(input_stream(captured.clone())?);
            self.captured = Some(captured);
            self.encoder = Some(encoder);
        }
        Ok(true)
    }

    /// The desktop answers at once ([`Sound::open_microphone`]): never pending.
    pub fn microphone_answer(&mut self) -> Option<Result<(), String>> {
        None
    }

    /// The microphone's whole frames since the last call.
    pub fn captured(&mut self) -> Vec<Vec<f32>> {
        let Some(Ok(mut captured)) = self.captured.as_ref().map(|c| c.lock()) else {
            return Vec::new();
        };
        let whole = captured.len() / FRAME_SAMPLES;
        (0..whole)
            .map(|_| captured.drain(..FRAME_SAMPLES).collect())
            .collect()
    }

    /// Encodes frame `seq` (left out when the encoder finds it silent).
    pub fn encode(&mut self, seq: u16, frame: &[f32]) {
        let Some(encoder) = &mut self.encoder else {
            return;
        };
        match encoder.encode(frame) {
            Ok(Some(opus)) => self.encoded.push((seq, opus)),
            Ok(None) => {}
            Err(e) => warn!("voice: {e:#}"),
        }
    }

    /// The frames encoded since the last call, to send.
    pub fn encoded(&mut self) -> Vec<(u16, Vec<u8>)> {
        std::mem::take(&mut self.encoded)
    }

    /// Hands frames that arrived to the mixer.
    pub fn play(&mut self, heard: Vec<Heard>) {
        let Ok(mut mixer) = self.mixer.lock() else {
            return;
        };
        for frame in heard {
            let at = frame.at.saturating_duration_since(self.started);
            mixer.push(
                frame.speaker,
                frame.seq,
                at.as_secs_f64() * 1000.0,
                frame.opus,
            );
        }
    }

    /// The speakers being played.
    pub fn speakers(&self) -> Vec<StreamId> {
        self.mixer
            .lock()
            .map(|m| m.speakers().collect())
            .unwrap_or_default()
    }

    /// Where `speaker`'s voice sits: its left and right gains.
    pub fn set_gains(&mut self, speaker: StreamId, gains: (f32, f32)) {
        if let Ok(mut mixer) = self.mixer.lock() {
            mixer.set_gains(speaker, gains);
        }
    }

    pub fn deafen(&mut self, deaf: bool) {
        if let Ok(mut mixer) = self.mixer.lock() {
            mixer.deafened = deaf;
        }
    }
}

/// A stream playing `mixer` on the default output device.
fn output_stream(mixer: Arc<Mutex<Mixer>>) -> Result<cpal::Stream, String> {
    let device = cpal::default_host()
        .default_output_device()
        .ok_or("there is no sound card to play voices on")?;
    let config = device
        .default_output_config()
        .map_err(|e| format!("the sound card cannot play: {e}"))?;
    let stream = match config.sample_format() {
        cpal::SampleFormat::F32 => play::<f32>(&device, &config, mixer),
        cpal::SampleFormat::I16 => play::<i16>(&device, &config, mixer),
        cpal::SampleFormat::U16 => play::<u16>(&device, &config, mixer),
        cpal::SampleFormat::I32 => play::<i32>(&device, &config, mixer),
        other => {
            return Err(format!(
                "the sound card takes {other} samples, which voice does not make"
            ));
        }
    }
    .map_err(|e| format!("the sound card cannot play: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("the sound card cannot play: {e}"))?;
    Ok(stream)
}

fn play<T: cpal::SizedSample + cpal::FromSample<f32>>(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    mixer: Arc<Mutex<Mixer>>,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    let channels = usize::from(config.channels()).max(1);
    let (mut left, mut right) = (
        Resampler::new(SAMPLE_RATE, config.sample_rate()),
        Resampler::new(SAMPLE_RATE, config.sample_rate()),
    );
    // Buffers kept from call to call: the sound card's thread does not allocate.
    let mut mixed = vec![0.0; FRAME_SAMPLES * 2];
    let (mut ls, mut rs): (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
    let (mut l, mut r): (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
    let mut ready: VecDeque<(f32, f32)> = VecDeque::new();
    device.build_output_stream(
        &config.config(),
        move |out: &mut [T], _| {
            // Mixed at 48 kHz in stereo 20 ms at a time, taken to the card's rate.
            let frames = out.len() / channels;
            while ready.len() < frames {
                if let Ok(mut mixer) = mixer.lock() {
                    mixer.fill(&mut mixed, 2);
                }
                ls.clear();
                rs.clear();
                ls.extend(mixed.iter().step_by(2));
                rs.extend(mixed.iter().skip(1).step_by(2));
                l.clear();
                r.clear();
                left.run(&ls, &mut l);
                right.run(&rs, &mut r);
                ready.extend(l.iter().copied().zip(r.iter().copied()));
            }
            for frame in out.chunks_mut(channels) {
                let (l, r) = ready.pop_front().unwrap_or_default();
                match frame {
                    [mono] => *mono = T::from_sample((l + r) * 0.5),
                    [a, b, rest @ ..] => {
                        *a = T::from_sample(l);
                        *b = T::from_sample(r);
                        rest.fill(T::EQUILIBRIUM);
                    }
                    [] => {}
                }
            }
        },
        stream_error("playback"),
        None,
    )
}

/// What a stream's errors become: the first is a warning, the rest (underruns come
/// in runs) are only logged at debug level.
fn stream_error(what: &'static str) -> impl FnMut(cpal::StreamError) + Send + 'static {
    let mut seen = 0u64;
    move |e| {
        seen += 1;
        if seen == 1 {
            warn!("voice {what}: {e} (later errors of the kind are logged at debug level)");
        } else {
            debug!("voice {what}: {e} ({seen} so far)");
        }
    }
}

/// A stream filling `captured` from the default microphone, at 48 kHz mono.
fn input_stream(captured: Arc<Mutex<VecDeque<f32>>>) -> Result<cpal::Stream, String> {
    let device = cpal::default_host()
        .default_input_device()
        .ok_or("there is no microphone")?;
    let config = device
        .default_input_config()
        .map_err(|e| format!("the microphone cannot record: {e}"))?;
    let stream = match config.sample_format() {
        cpal::SampleFormat::F32 => record::<f32>(&device, &config, captured),
        cpal::SampleFormat::I16 => record::<i16>(&device, &config, captured),
        cpal::SampleFormat::U16 => record::<u16>(&device, &config, captured),
        cpal::SampleFormat::I32 => record::<i32>(&device, &config, captured),
        other => {
            return Err(format!(
                "the microphone gives {other} samples, which voice does not take"
            ));
        }
    }
    .map_err(|e| format!("the microphone cannot record: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("the microphone cannot record: {e}"))?;
    Ok(stream)
}

fn record<T: cpal::SizedSample>(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    captured: Arc<Mutex<VecDeque<f32>>>,
) -> Result<cpal::Stream, cpal::BuildStreamError>
where
    f32: cpal::FromSample<T>,
{
    let channels = usize::from(config.channels()).max(1);
    let mut resample = Resampler::new(config.sample_rate(), SAMPLE_RATE);
    let mut mono = Vec::new();
    device.build_input_stream(
        &config.config(),
        move |data: &[T], _| {
            mono.clear();
            mono.extend(
                data.chunks(channels)
                    .map(|c| c.iter().map(|s| s.to_sample::<f32>()).sum::<f32>() / c.len() as f32),
            );
            if let Ok(mut captured) = captured.lock() {
                resample.run(&mono, &mut *captured);
                let over = captured.len().saturating_sub(CAPTURE_KEEP);
                captured.drain(..over);
            }
        },
        stream_error("capture"),
        None,
    )
}
