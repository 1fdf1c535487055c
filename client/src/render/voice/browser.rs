//! The browser's sound for voice: the microphone through `getUserMedia` (asked for once,
//! when the player turns voice on), Opus through WebCodecs' `AudioEncoder` and
//! `AudioDecoder` in a worker (`codec_worker.js`: on the page's own thread each frame
//! of voice would wait for a turn of the game's frame), and everyone's voice through
//! Web Audio. Each speaker has a jitter buffer ([`crate::voice::jitter`], deeper than
//! the desktop's: the page takes packets once a frame of its own) pulled every 20 ms of
//! the page's clock; its frames are decoded in order and scheduled back to back on the
//! audio context's clock, each with the gains of where its speaker stands. WebCodecs
//! has no packet loss concealment: a lost frame plays the previous one again at half
//! its level.
//!
//! The page shows what voice does on the canvas's data attributes, for scripts and
//! tests looking from outside ([`tell_page`]): `data-voice-microphone` (closed, asking,
//! open, failed), `data-voice-sent`, `data-voice-heard`, `data-voice-played`,
//! `data-voice-dropped` and `data-voice-concealed` (frames).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use bevy::prelude::*;
use tavern_shared::stream::StreamId;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    AudioContext, AudioContextOptions, AudioContextState, AudioProcessingEvent, Blob,
    BlobPropertyBag, MediaStream, MediaStreamConstraints, MessageEvent, ScriptProcessorNode, Url,
    Worker,
};
use web_time::Instant;

use crate::voice::jitter::{JitterBuffer, Next};
use crate::voice::resample::Resampler;
use crate::voice::{BITRATE, FRAME_SAMPLES, Heard, SAMPLE_RATE};
use tavern_shared::voice::FRAME_MS;

/// Captured samples kept at most (1 s): what the game does not take in time goes.
const CAPTURE_KEEP: usize = SAMPLE_RATE as usize;
/// How far ahead of the audio clock a voice is scheduled when it starts (seconds): room
/// for a late game frame.
const LEAD: f64 = 0.06;
/// A speaker silent this many frames in a row (10 s) is forgotten, decoder and all.
const FORGET_AFTER: u32 = 500;
/// Most frames a speaker's buffer holds back (500 ms): the page takes the network's
/// packets once a frame of its own, so voice comes in bursts as long as the page's
/// frames (a busy page, or a software renderer, draws only a few a second).
const DEPTH: u32 = 25;
/// Frames of playback the clock catches up at most after a stall (a hidden tab): the
/// rest are skipped.
const CATCH_UP: u32 = DEPTH;
/// Samples the page's script processor takes at a time (about 43 ms at 48 kHz).
const PROCESSOR_FRAMES: u32 = 2048;

/// What the callbacks (microphone, encoder) hand to the game.
#[derive(Default)]
struct Shared {
    /// The microphone's samples at 48 kHz.
    captured: VecDeque<f32>,
    /// The permission's answer: the stream, or why not.
    answer: Option<Result<MediaStream, String>>,
    /// Frames fed to the encoder: their place in the encoder's stream and their
    /// sequence number.
    feeding: VecDeque<(u64, u16)>,
    /// Encoded frames, to send.
    encoded: Vec<(u16, Vec<u8>)>,
    /// Decoded frames: the speaker, the frame's place in its decoding, the samples.
    decoded: Vec<(StreamId, u64, Vec<f32>)>,
    /// What the codec worker reported going wrong.
    failed: Option<String>,
}

/// The codec worker's messages, into `shared`.
fn on_worker_message(shared: &RefCell<Shared>, event: MessageEvent) {
    let message: js_sys::Array = event.data().unchecked_into();
    let number = |i: u32| message.get(i).as_f64().unwrap_or(0.0) as u64;
    match message.get(0).as_string().as_deref() {
        Some("encoded") => {
            let index = number(1);
            let opus = js_sys::Uint8Array::new(&message.get(2)).to_vec();
            let mut shared = shared.borrow_mut();
            // The frame's place in the encoder's stream says its sequence number.
            while shared.feeding.front().is_some_and(|(i, _)| *i < index) {
                shared.feeding.pop_front();
            }
            if let Some((i, seq)) = shared.feeding.front().copied()
                && i == index
            {
                shared.feeding.pop_front();
                // 2 bytes or less: a silent frame (DTX), not sent.
                if opus.len() > 2 {
                    shared.encoded.push((seq, opus));
                }
            }
        }
        Some("decoded") => {
            let speaker = number(1) as StreamId;
            let samples = js_sys::Float32Array::new(&message.get(3)).to_vec();
            shared
                .borrow_mut()
                .decoded
                .push((speaker, number(2), samples));
        }
        Some("error") => {
            shared.borrow_mut().failed = message.get(1).as_string();
        }
        _ => {}
    }
}

/// The codec worker, started from its script.
fn start_worker(
    shared: Rc<RefCell<Shared>>,
) -> Result<(Worker, Closure<dyn FnMut(MessageEvent)>), String> {
    let fail = |e: JsValue| format!("the voice codec does not start: {}", describe(&e));
    let parts = js_sys::Array::of1(&include_str!("codec_worker.js").into());
    let options = BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).map_err(fail)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let worker = Worker::new(&url).map_err(fail)?;
    let _ = Url::revoke_object_url(&url);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        on_worker_message(&shared, event);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Ok((worker, on_message))
}

/// The open microphone: the nodes and callbacks that must live as long as it does.
struct Capture {
    _stream: MediaStream,
    _processor: ScriptProcessorNode,
    _on_audio: Closure<dyn FnMut(AudioProcessingEvent)>,
    /// Frames fed to the encoder so far (its timestamps count them).
    fed: u64,
}

/// A piece of one speaker's playback, in order.
enum Slot {
    /// Given to the decoder as its frame `index`, on pull `at`; its samples come later
    /// (or, past [`DEPTH`] pulls, never: it is concealed).
    Decoding { index: u64, at: u64 },
    /// Decoded.
    Ready(Vec<f32>),
    /// Lost: conceal it.
    Lost,
}

struct Speaker {
    buffer: JitterBuffer,
    slots: VecDeque<Slot>,
    /// Where on the audio clock the next samples go.
    playhead: f64,
    /// The last samples played, for concealment.
    last: Vec<f32>,
    gains: (f32, f32),
    silent_frames: u32,
    /// Frames given to the decoder (its timestamps count them).
    decoding: u64,
}

/// Voice in the browser. Not `Send` (the browser's objects live on its one thread).
pub struct Sound {
    /// Playback and capture share one context at 48 kHz (where the browser allows it).
    context: Option<AudioContext>,
    shared: Rc<RefCell<Shared>>,
    /// The codec worker, once needed, and its message handler.
    worker: Option<(Worker, Closure<dyn FnMut(MessageEvent)>)>,
    capture: Option<Capture>,
    speakers: HashMap<StreamId, Speaker>,
    deafened: bool,
    started: Instant,
    /// Frames of playback pulled so far, on the page's clock.
    pulled: u64,
    /// The last time the context was asked to resume (browsers start it suspended until
    /// the player has pressed something).
    resumed_at: Option<Instant>,
    /// Frames scheduled to play.
    pub played: u64,
    /// Frames the jitter buffers dropped (late, duplicated, or beyond their depth) and
    /// concealed, of speakers forgotten.
    dropped: u64,
    concealed: u64,
}

/// What the browser lacks for voice, if anything.
fn missing() -> Option<&'static str> {
    let window: JsValue = web_sys::window()?.into();
    let has = |name: &str| js_sys::Reflect::has(&window, &name.into()).unwrap_or(false);
    if !has("AudioContext") {
        return Some("this browser has no Web Audio");
    }
    if !has("AudioDecoder") || !has("AudioEncoder") {
        return Some(
            "this browser lacks WebCodecs' AudioEncoder and AudioDecoder (a recent Chrome, Edge, Firefox or Safari has them)",
        );
    }
    None
}

fn describe(error: &JsValue) -> String {
    let name = js_sys::Reflect::get(error, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    let message = js_sys::Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"));
    match name.as_str() {
        "NotAllowedError" => {
            "the microphone was not allowed (the browser's site settings can allow it)".into()
        }
        "NotFoundError" => "there is no microphone".into(),
        "NotReadableError" => "the microphone is busy or broken".into(),
        _ if name.is_empty() => message,
        _ => format!("{name}: {message}"),
    }
}

impl Sound {
    /// Playback through Web Audio, or why there is none.
    pub fn open() -> (Sound, Result<(), String>) {
        let mut sound = Sound {
            context: None,
            shared: Rc::default(),
            worker: None,
            capture: None,
            speakers: HashMap::new(),
            deafened: false,
            started: Instant::now(),
            pulled: 0,
            resumed_at: None,
            played: 0,
            dropped: 0,
            concealed: 0,
        };
        if let Some(why) = missing() {
            return (sound, Err(why.into()));
        }
        let options = AudioContextOptions::new();
        options.set_sample_rate(SAMPLE_RATE as f32);
        let context = AudioContext::new_with_context_options(&options)
            // A browser that will not run at 48 kHz runs at its own rate.
            .or_else(|_| AudioContext::new())
            .map_err(|e| format!("the browser's audio does not start: {}", describe(&e)));
        match context {
            Ok(context) => {
                sound.context = Some(context);
                (sound, Ok(()))
            }
            Err(why) => (sound, Err(why)),
        }
    }

    /// Asks the browser for the microphone: `Ok(false)` while the player is asked (the
    /// answer comes through [`Sound::microphone_answer`]).
    pub fn open_microphone(&mut self) -> Result<bool, String> {
        if let Some(why) = missing() {
            return Err(why.into());
        }
        if self.capture.is_some() {
            return Ok(true);
        }
        let window = web_sys::window().ok_or("there is no page")?;
        let navigator = window.navigator();
        // Only secure pages (https://, or localhost) have media devices.
        if !js_sys::Reflect::has(&navigator, &"mediaDevices".into()).unwrap_or(false) {
            return Err(
                "the browser gives the microphone only to secure pages (https:// or localhost)"
                    .into(),
            );
        }
        let devices = navigator
            .media_devices()
            .map_err(|e| format!("no microphone: {}", describe(&e)))?;
        let audio = js_sys::Object::new();
        for (key, value) in [
            ("echoCancellation", true),
            ("noiseSuppression", true),
            ("autoGainControl", true),
        ] {
            let _ = js_sys::Reflect::set(&audio, &key.into(), &value.into());
        }
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&audio);
        let asked = devices
            .get_user_media_with_constraints(&constraints)
            .map_err(|e| format!("no microphone: {}", describe(&e)))?;
        let shared = self.shared.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let answer = wasm_bindgen_futures::JsFuture::from(asked)
                .await
                .map(|stream| stream.unchecked_into::<MediaStream>())
                .map_err(|e| describe(&e));
            shared.borrow_mut().answer = Some(answer);
        });
        self.resume();
        Ok(false)
    }

    /// The player's answer, once given: the microphone records, or why not.
    pub fn microphone_answer(&mut self) -> Option<Result<(), String>> {
        let answer = self.shared.borrow_mut().answer.take()?;
        Some(answer.and_then(|stream| self.record(stream)))
    }

    /// Records `stream`: its samples go to `captured`, at 48 kHz, through a script
    /// processor; and starts the encoder.
    fn record(&mut self, stream: MediaStream) -> Result<(), String> {
        let context = self.context.as_ref().ok_or("the browser's audio is off")?;
        let fail = |e: JsValue| format!("the microphone cannot record: {}", describe(&e));
        let source = context.create_media_stream_source(&stream).map_err(fail)?;
        let processor = context
            .create_script_processor_with_buffer_size_and_number_of_input_channels_and_number_of_output_channels(
                PROCESSOR_FRAMES,
                1,
                1,
            )
            .map_err(fail)?;
        let shared = self.shared.clone();
        let mut resample = Resampler::new(context.sample_rate() as u32, SAMPLE_RATE);
        let on_audio =
            Closure::<dyn FnMut(AudioProcessingEvent)>::new(move |event: AudioProcessingEvent| {
                let Ok(samples) = event.input_buffer().and_then(|b| b.get_channel_data(0)) else {
                    return;
                };
                let mut shared = shared.borrow_mut();
                resample.run(&samples, &mut shared.captured);
                let over = shared.captured.len().saturating_sub(CAPTURE_KEEP);
                shared.captured.drain(..over);
            });
        processor.set_onaudioprocess(Some(on_audio.as_ref().unchecked_ref()));
        source.connect_with_audio_node(&processor).map_err(fail)?;
        // A script processor runs only while connected to the output (it writes silence).
        processor
            .connect_with_audio_node(&context.destination())
            .map_err(fail)?;

        self.post(&js_sys::Array::of2(&"encoder".into(), &BITRATE.into()))?;
        self.capture = Some(Capture {
            _stream: stream,
            _processor: processor,
            _on_audio: on_audio,
            fed: 0,
        });
        Ok(())
    }

    /// The microphone's whole frames since the last call.
    pub fn captured(&mut self) -> Vec<Vec<f32>> {
        let mut shared = self.shared.borrow_mut();
        let whole = shared.captured.len() / FRAME_SAMPLES;
        (0..whole)
            .map(|_| shared.captured.drain(..FRAME_SAMPLES).collect())
            .collect()
    }

    /// Gives frame `seq` to the encoder; it comes back through [`Sound::encoded`].
    pub fn encode(&mut self, seq: u16, frame: &[f32]) {
        let Some(capture) = &mut self.capture else {
            return;
        };
        let index = capture.fed;
        capture.fed += 1;
        self.shared.borrow_mut().feeding.push_back((index, seq));
        let samples = js_sys::Float32Array::new_from_slice(frame);
        let message = js_sys::Array::of3(&"encode".into(), &(index as f64).into(), &samples);
        if let Err(why) = self.post_moving(&message, &samples.buffer()) {
            self.shared.borrow_mut().failed = Some(why);
        }
    }

    /// Sends `message` to the codec worker (started on first use).
    fn post(&mut self, message: &js_sys::Array) -> Result<(), String> {
        self.post_moving(message, &JsValue::UNDEFINED)
    }

    /// Sends `message` to the codec worker, moving `buffer` (undefined: none) there
    /// rather than copying it.
    fn post_moving(&mut self, message: &js_sys::Array, buffer: &JsValue) -> Result<(), String> {
        if self.worker.is_none() {
            self.worker = Some(start_worker(self.shared.clone())?);
        }
        let Some((worker, _)) = &self.worker else {
            return Ok(());
        };
        let posted = if buffer.is_undefined() {
            worker.post_message(message)
        } else {
            worker.post_message_with_transfer(message, &js_sys::Array::of1(buffer))
        };
        posted.map_err(|e| format!("the voice codec: {}", describe(&e)))
    }

    /// The frames encoded since the last call, to send.
    pub fn encoded(&mut self) -> Vec<(u16, Vec<u8>)> {
        let mut shared = self.shared.borrow_mut();
        if let Some(why) = shared.failed.take() {
            warn!("voice: {why}");
        }
        std::mem::take(&mut shared.encoded)
    }

    /// Takes frames that arrived, plays what is due, and tells the page.
    pub fn play(&mut self, heard: Vec<Heard>) {
        let Some(context) = self.context.clone() else {
            return;
        };
        if !heard.is_empty() {
            self.resume();
        }
        if !self.deafened {
            for frame in heard {
                let at = frame.at.saturating_duration_since(self.started);
                self.speakers.entry(frame.speaker).or_default().buffer.push(
                    frame.seq,
                    at.as_secs_f64() * 1000.0,
                    frame.opus,
                );
            }
        }
        // One frame from each speaker for every 20 ms of the page's clock.
        let due = (self.started.elapsed().as_millis() / u128::from(FRAME_MS)) as u64;
        let behind = due.saturating_sub(self.pulled);
        if behind > u64::from(CATCH_UP) {
            self.pulled = due - u64::from(CATCH_UP);
        }
        let mut to_decode = Vec::new();
        while self.pulled < due {
            self.pulled += 1;
            for (id, speaker) in &mut self.speakers {
                if let Some((index, opus)) = speaker.pull(self.pulled) {
                    to_decode.push((*id, index, opus));
                }
            }
        }
        for (id, index, opus) in to_decode {
            let opus = js_sys::Uint8Array::new_from_slice(&opus);
            let message =
                js_sys::Array::of4(&"decode".into(), &id.into(), &(index as f64).into(), &opus);
            if let Err(why) = self.post_moving(&message, &opus.buffer()) {
                warn!("voice: {why}");
            }
        }
        let decoded = std::mem::take(&mut self.shared.borrow_mut().decoded);
        for (id, index, samples) in decoded {
            if let Some(speaker) = self.speakers.get_mut(&id) {
                speaker.decoded(index, samples);
            }
        }
        let (dropped, concealed) = (&mut self.dropped, &mut self.concealed);
        let mut forgotten = Vec::new();
        self.speakers.retain(|id, s| {
            let keep = s.silent_frames < FORGET_AFTER;
            if !keep {
                *dropped += s.buffer.late + s.buffer.duplicates + s.buffer.overflow;
                *concealed += s.buffer.concealed;
                forgotten.push(*id);
            }
            keep
        });
        for id in forgotten {
            let _ = self.post(&js_sys::Array::of2(&"forget".into(), &id.into()));
        }
        let pulled = self.pulled;
        for speaker in self.speakers.values_mut() {
            self.played += speaker.schedule(&context, pulled);
        }
    }

    /// Asks a suspended context to run (at most once a second).
    fn resume(&mut self) {
        let Some(context) = &self.context else {
            return;
        };
        if context.state() != AudioContextState::Suspended
            || self
                .resumed_at
                .is_some_and(|at| at.elapsed().as_secs_f32() < 1.0)
        {
            return;
        }
        self.resumed_at = Some(Instant::now());
        let _ = context.resume();
    }

    /// Frames the jitter buffers dropped and concealed, so far.
    pub fn losses(&self) -> (u64, u64) {
        self.speakers
            .values()
            .fold((self.dropped, self.concealed), |(d, c), s| {
                (
                    d + s.buffer.late + s.buffer.duplicates + s.buffer.overflow,
                    c + s.buffer.concealed,
                )
            })
    }

    /// The speakers being played.
    pub fn speakers(&self) -> Vec<StreamId> {
        self.speakers.keys().copied().collect()
    }

    /// Where `speaker`'s voice sits: its left and right gains.
    pub fn set_gains(&mut self, speaker: StreamId, gains: (f32, f32)) {
        if let Some(s) = self.speakers.get_mut(&speaker) {
            s.gains = gains;
        }
    }

    pub fn deafen(&mut self, deaf: bool) {
        self.deafened = deaf;
        if deaf {
            let forgotten: Vec<StreamId> = self.speakers.drain().map(|(id, _)| id).collect();
            for id in forgotten {
                let _ = self.post(&js_sys::Array::of2(&"forget".into(), &id.into()));
            }
        }
    }
}

impl Default for Speaker {
    fn default() -> Self {
        Speaker {
            buffer: JitterBuffer::deeper(DEPTH),
            slots: VecDeque::new(),
            playhead: 0.0,
            last: Vec::new(),
            gains: (
                std::f32::consts::FRAC_1_SQRT_2,
                std::f32::consts::FRAC_1_SQRT_2,
            ),
            silent_frames: 0,
            decoding: 0,
        }
    }
}

impl Speaker {
    /// The next 20 ms (pull `at`): a frame to decode (its place in the decoding, and
    /// the frame), one to conceal, or silence.
    fn pull(&mut self, at: u64) -> Option<(u64, Vec<u8>)> {
        match self.buffer.pop() {
            Next::Frame(opus) => {
                self.silent_frames = 0;
                let index = self.decoding;
                self.decoding += 1;
                self.slots.push_back(Slot::Decoding { index, at });
                Some((index, opus))
            }
            Next::Lost => {
                self.slots.push_back(Slot::Lost);
                None
            }
            Next::Silent => {
                self.silent_frames += 1;
                None
            }
        }
    }

    /// The decoder's samples for frame `index`.
    fn decoded(&mut self, index: u64, samples: Vec<f32>) {
        for slot in &mut self.slots {
            if let Slot::Decoding { index: i, .. } = slot
                && *i == index
            {
                *slot = Slot::Ready(samples);
                return;
            }
        }
    }

    /// Schedules, in order, what is ready to play (by pull `now`); how many frames. A
    /// frame the decoder has not answered for [`DEPTH`] pulls, or that an answer for a
    /// later frame passed (answers come in order), is concealed.
    fn schedule(&mut self, context: &AudioContext, now: u64) -> u64 {
        let mut scheduled = 0;
        while let Some(slot) = self.slots.front() {
            let samples = match slot {
                Slot::Ready(_) | Slot::Lost => match self.slots.pop_front() {
                    Some(Slot::Ready(samples)) => samples,
                    _ => self.last.iter().map(|s| s * 0.5).collect(),
                },
                Slot::Decoding { at, .. } => {
                    let passed = self.slots.iter().any(|s| matches!(s, Slot::Ready(_)));
                    if !passed && now.saturating_sub(*at) <= u64::from(DEPTH) {
                        break;
                    }
                    self.slots.pop_front();
                    self.buffer.concealed += 1;
                    self.last.iter().map(|s| s * 0.5).collect()
                }
            };
            if !samples.is_empty() {
                match self.play(context, &samples) {
                    Ok(()) => scheduled += 1,
                    Err(e) => warn!("voice: cannot play: {}", describe(&e)),
                }
            }
            self.last = samples;
        }
        scheduled
    }

    /// Plays `samples` right after what this speaker already has scheduled.
    fn play(&mut self, context: &AudioContext, samples: &[f32]) -> Result<(), JsValue> {
        let (l, r) = self.gains;
        let buffer = context.create_buffer(2, samples.len() as u32, SAMPLE_RATE as f32)?;
        let side: Vec<f32> = samples.iter().map(|s| s * l).collect();
        buffer.copy_to_channel(&side, 0)?;
        let side: Vec<f32> = samples.iter().map(|s| s * r).collect();
        buffer.copy_to_channel(&side, 1)?;
        let source = context.create_buffer_source()?;
        source.set_buffer(Some(&buffer));
        source.connect_with_audio_node(&context.destination())?;
        let at = self.playhead.max(context.current_time() + LEAD);
        source.start_with_when(at)?;
        self.playhead = at + samples.len() as f64 / f64::from(SAMPLE_RATE);
        Ok(())
    }
}

/// Tells the page what voice does (the canvas's data attributes), when it changes.
pub fn tell_page(
    sound: NonSend<Sound>,
    player: Res<super::PlayerVoice>,
    voices: Res<crate::voice::Voices>,
    mut told: Local<Option<(&'static str, u64, u64, u64, (u64, u64))>>,
) {
    let now = (
        player.microphone.word(),
        voices.sent,
        voices.total(),
        sound.played,
        sound.losses(),
    );
    if *told == Some(now) {
        return;
    }
    *told = Some(now);
    crate::web::set_page_data("data-voice-microphone", now.0);
    crate::web::set_page_data("data-voice-sent", &now.1.to_string());
    crate::web::set_page_data("data-voice-heard", &now.2.to_string());
    crate::web::set_page_data("data-voice-played", &now.3.to_string());
    crate::web::set_page_data("data-voice-dropped", &now.4.0.to_string());
    crate::web::set_page_data("data-voice-concealed", &now.4.1.to_string());
}
