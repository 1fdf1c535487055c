//! Voice on the desktop: the microphone (through `cpal`, opened when the player turns
//! voice on with `/voice on`) encoded with Opus while V is held, and everyone's voice
//! played through the sound card, each from where its speaker stands
//! ([`crate::voice::mixer`]). A green ring under an avatar shows who is speaking.
//! Without a sound card or a microphone, voice is off with one line saying why, and the
//! game goes on.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use tavern_shared::stream::StreamId;
use tavern_shared::voice::{VoiceFrame, VoiceMute, VoiceStatus};
use web_time::Instant;

use crate::prediction::OwnAvatar;
use crate::render::chat::Typing;
use crate::stream::Streamed;
use crate::voice::codec::{FRAME_SAMPLES, SAMPLE_RATE, VoiceEncoder};
use crate::voice::mixer::{Mixer, Resampler};
use crate::voice::spatial::gains;
use crate::voice::vad::Vad;
use crate::voice::{VoiceCommand, Voices};
use tavern_shared::avatar::DisplayName;

/// Captured samples kept at most (1 s): what the game does not take in time goes.
const CAPTURE_KEEP: usize = SAMPLE_RATE as usize;

/// The desktop's voice: the mixer the sound card plays, the microphone's samples, the
/// player's volumes.
#[derive(Resource)]
pub struct DesktopVoice {
    mixer: Arc<Mutex<Mixer>>,
    /// 48 kHz samples from the microphone, while it is open.
    captured: Option<Arc<Mutex<VecDeque<f32>>>>,
    /// (Behind a lock only because the encoder may not be shared between threads.)
    encoder: Option<Mutex<VoiceEncoder>>,
    /// Playback is on (a sound card was found).
    pub playing: bool,
    /// How loud each speaker sounds (1 when not set).
    pub volumes: HashMap<StreamId, f32>,
    /// V is held (and the microphone on): the own voice goes out.
    pub talking: bool,
    /// An open microphone: sent while the detector hears speech, without V.
    pub open_mic: bool,
    vad: Vad,
    /// The last frame went out.
    pub sent_last: bool,
    started: Instant,
}

/// The open streams (not `Send` on every platform: kept on the main thread).
struct Streams(Vec<cpal::Stream>);

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, open_playback).add_systems(
        Update,
        (
            commands,
            push_to_talk,
            send_voice,
            play_voices,
            speaking_rings,
        )
            .chain(),
    );
}

/// Under an avatar while its voice is heard (or, for the own, while V is held).
#[derive(Component)]
struct SpeakingRing;

/// The avatar's speaking ring.
#[derive(Component)]
struct HasSpeakingRing(Entity);

/// How long after its last frame a voice still counts as speaking.
const SPEAKING_FOR: std::time::Duration = std::time::Duration::from_millis(300);

/// A flat ring, 2 px thick, the size it is drawn (the ground under an avatar's feet).
fn ring_image() -> Image {
    use bevy::asset::RenderAssetUsages;
    use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
    let (w, h) = (36u32, 14u32);
    let (a, b) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let p = Vec2::new(x as f32 + 0.5 - a, y as f32 + 0.5 - b);
            let outer = (p.x / a).powi(2) + (p.y / b).powi(2) <= 1.0;
            let inner = (p.x / (a - 2.0)).powi(2) + (p.y / (b - 2.0)).powi(2) < 1.0;
            let alpha = if outer && !inner { 255 } else { 0 };
            data.extend_from_slice(&[255, 255, 255, alpha]);
        }
    }
    Image::new(
        Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::default(),
    )
}

#[allow(clippy::type_complexity)]
fn speaking_rings(
    mut commands: Commands,
    mut image: Local<Option<Handle<Image>>>,
    mut images: ResMut<Assets<Image>>,
    voices: Res<Voices>,
    desktop: Res<DesktopVoice>,
    avatars: Query<(Entity, &Streamed, Option<&HasSpeakingRing>, Has<OwnAvatar>), With<Sprite>>,
    mut rings: Query<&mut Visibility, With<SpeakingRing>>,
) {
    for (avatar, id, ring, own) in &avatars {
        let speaking = if own {
            desktop.talking && desktop.sent_last
        } else {
            voices.speaking(id.0, SPEAKING_FOR)
        };
        let shown = if speaking {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        match ring {
            Some(ring) => {
                if let Ok(mut visibility) = rings.get_mut(ring.0) {
                    visibility.set_if_neq(shown);
                }
            }
            None if speaking => {
                let image = image
                    .get_or_insert_with(|| images.add(ring_image()))
                    .clone();
                let ring = commands
                    .spawn((
                        SpeakingRing,
                        Sprite {
                            image,
                            color: Color::srgba(0.4, 1.0, 0.5, 0.9),
                            ..default()
                        },
                        // At the feet, under the avatar.
                        Transform::from_xyz(0.0, -14.0, -0.5),
                        shown,
                        ChildOf(avatar),
                    ))
                    .id();
                commands.entity(avatar).insert(HasSpeakingRing(ring));
            }
            None => {}
        }
    }
}

fn open_playback(world: &mut World) {
    let mixer = Arc::new(Mutex::new(Mixer::default()));
    let stream = output_stream(mixer.clone());
    let playing = match stream {
        Ok(stream) => {
            world.insert_non_send(Streams(vec![stream]));
            info!("voice: playing through the default sound card");
            true
        }
        Err(why) => {
            warn!("voice is off: {why}");
            world.insert_non_send(Streams(Vec::new()));
            false
        }
    };
    world.insert_resource(DesktopVoice {
        mixer,
        captured: None,
        encoder: None,
        playing,
        volumes: HashMap::new(),
        talking: false,
        open_mic: false,
        vad: Vad::default(),
        sent_last: false,
        started: Instant::now(),
    });
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

/// `/voice ...`: the microphone (opened on the first `/voice on`), deafening, mutes and
/// volumes by name.
#[allow(clippy::too_many_arguments)]
fn commands(
    mut asked: MessageReader<VoiceCommand>,
    mut desktop: ResMut<DesktopVoice>,
    mut streams: NonSendMut<Streams>,
    mut voices: ResMut<Voices>,
    mut typing: ResMut<Typing>,
    names: Query<(&Streamed, &DisplayName)>,
    (mut status_out, mut mute_out): (MessageWriter<VoiceStatus>, MessageWriter<VoiceMute>),
    time: Res<Time>,
) {
    let now = time.elapsed_secs_f64();
    for command in asked.read() {
        let mut status = voices.status;
        let find = |name: &str| {
            names
                .iter()
                .find(|(_, n)| n.0.eq_ignore_ascii_case(name))
                .map(|(id, _)| id.0)
        };
        match command {
            VoiceCommand::Microphone(true) => {
                if desktop.captured.is_none() {
                    let captured = Arc::new(Mutex::new(VecDeque::new()));
                    match (input_stream(captured.clone()), VoiceEncoder::new()) {
                        (Ok(stream), Ok(encoder)) => {
                            streams.0.push(stream);
                            desktop.captured = Some(captured);
                            desktop.encoder = Some(Mutex::new(encoder));
                        }
                        (Err(why), _) => {
                            typing.note(format!("Voice is off: {why}"), true, now);
                            continue;
                        }
                        (_, Err(why)) => {
                            typing.note(format!("Voice is off: {why:#}"), true, now);
                            continue;
                        }
                    }
                }
                status.microphone = true;
                typing.note(
                    "Microphone on: it is heard only while you hold V, by those near you (/voice off to stop)",
                    false,
                    now,
                );
            }
            VoiceCommand::Microphone(false) => {
                status.microphone = false;
                typing.note("Microphone off", false, now);
            }
            VoiceCommand::OpenMic(open) => {
                desktop.open_mic = *open;
                let what = if *open {
                    "Open microphone: sent whenever it hears you speak (/voice ptt for push to talk)"
                } else {
                    "Push to talk: hold V"
                };
                typing.note(what, false, now);
            }
            VoiceCommand::Deafen(deaf) => {
                status.deafened = *deaf;
                if let Ok(mut mixer) = desktop.mixer.lock() {
                    mixer.deafened = *deaf;
                }
                let what = if *deaf {
                    "You hear nobody"
                } else {
                    "You hear voices again"
                };
                typing.note(what, false, now);
            }
            VoiceCommand::Mute(name, muted) => match find(name) {
                Some(speaker) => {
                    mute_out.write(VoiceMute {
                        speaker,
                        muted: *muted,
                    });
                    let what = if *muted { "muted" } else { "unmuted" };
                    typing.note(format!("{name}'s voice {what}"), false, now);
                }
                None => typing.note(format!("Nobody called {name} is in view"), true, now),
            },
            VoiceCommand::Volume(name, level) => match find(name) {
                Some(speaker) => {
                    desktop.volumes.insert(speaker, *level);
                    typing.note(format!("{name} at {:.0} %", level * 100.0), false, now);
                }
                None => typing.note(format!("Nobody called {name} is in view"), true, now),
            },
        }
        if status != voices.status {
            voices.status = status;
            status_out.write(status);
        }
    }
}

/// Hold V to talk (not while typing), once the microphone is on; with an open
/// microphone, V is not needed.
fn push_to_talk(
    keys: Res<ButtonInput<KeyCode>>,
    mut typing: ResMut<Typing>,
    voices: Res<Voices>,
    mut desktop: ResMut<DesktopVoice>,
    time: Res<Time>,
    mut told: Local<bool>,
) {
    let held = keys.pressed(KeyCode::KeyV) && !typing.active;
    if held && !voices.status.microphone && !*told {
        *told = true;
        typing.note(
            "Voice: type /voice on to use your microphone; then hold V to talk to those near you",
            false,
            time.elapsed_secs_f64(),
        );
    }
    desktop.talking =
        (held || desktop.open_mic) && voices.status.microphone && desktop.captured.is_some();
}

/// Takes the microphone's samples 20 ms at a time: sent while talking, counted (as
/// silent frames, so listeners keep time) while not.
fn send_voice(
    mut desktop: ResMut<DesktopVoice>,
    mut voices: ResMut<Voices>,
    mut out: MessageWriter<VoiceFrame>,
) {
    let desktop = &mut *desktop;
    let Some(captured) = &desktop.captured else {
        return;
    };
    let frames: Vec<Vec<f32>> = {
        let Ok(mut captured) = captured.lock() else {
            return;
        };
        let whole = captured.len() / FRAME_SAMPLES;
        (0..whole)
            .map(|_| captured.drain(..FRAME_SAMPLES).collect())
            .collect()
    };
    for frame in frames {
        // With an open microphone, only frames the detector hears as speech go out.
        let talking = desktop.talking && (!desktop.open_mic || desktop.vad.speaking(&frame));
        desktop.sent_last = talking;
        let opus = match (&desktop.encoder, talking) {
            (Some(encoder), true) => encoder
                .lock()
                .ok()
                .and_then(|mut e| e.encode(&frame).map_err(|e| warn!("voice: {e:#}")).ok())
                .flatten(),
            _ => None,
        };
        if let (_, Some(frame)) = voices.next_frame(opus) {
            out.write(frame);
        }
    }
}

/// Hands what arrived to the mixer and places each voice where its speaker stands.
fn play_voices(
    desktop: Res<DesktopVoice>,
    mut voices: ResMut<Voices>,
    own: Query<&Transform, With<OwnAvatar>>,
    avatars: Query<(&Streamed, &Transform)>,
) {
    let heard: Vec<_> = voices.frames.drain(..).collect();
    if !desktop.playing {
        return;
    }
    let Ok(mut mixer) = desktop.mixer.lock() else {
        return;
    };
    for frame in heard {
        let at = frame.at.saturating_duration_since(desktop.started);
        mixer.push(
            frame.speaker,
            frame.seq,
            at.as_secs_f64() * 1000.0,
            frame.opus,
        );
    }
    let Ok(me) = own.single() else {
        return;
    };
    let speakers: Vec<StreamId> = mixer.speakers().collect();
    for (id, place) in avatars.iter().filter(|(id, _)| speakers.contains(&id.0)) {
        let (l, r) = gains(
            me.translation.truncate(),
            place.translation.truncate(),
            voices.hearing_radius,
        );
        let volume = desktop.volumes.get(&id.0).copied().unwrap_or(1.0);
        mixer.set_gains(id.0, (l * volume, r * volume));
    }
}
