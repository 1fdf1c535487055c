//! Voice in the window, on the desktop and in the browser: `/voice` commands, push to
//! talk (hold V) or an open microphone, the own voice sent 20 ms at a time, everyone's
//! voice played from where its speaker stands, and a green ring under an avatar while
//! its voice is heard. The sound itself (microphone, codec, sound card) is the
//! platform's: [`desktop`] (cpal and libopus) or [`browser`] (getUserMedia, Web Audio
//! and WebCodecs), behind one `Sound` with the same methods. Without a sound card, a
//! microphone or the browser's codecs, voice is off with one line saying why, and the
//! game goes on.

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;
use tavern_shared::avatar::DisplayName;
use tavern_shared::stream::StreamId;
use tavern_shared::voice::{VoiceFrame, VoiceMute, VoiceStatus};

use crate::prediction::OwnAvatar;
use crate::render::chat::Typing;
use crate::stream::Streamed;
use crate::voice::spatial::gains;
use crate::voice::vad::Vad;
use crate::voice::{VoiceCommand, Voices};

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(not(target_arch = "wasm32"))]
pub mod desktop;
#[cfg(target_arch = "wasm32")]
use browser::Sound;
#[cfg(not(target_arch = "wasm32"))]
use desktop::Sound;

/// The microphone, as far as the player got with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Microphone {
    /// Not asked for yet.
    #[default]
    Closed,
    /// Asked for: the browser is asking the player.
    Asking,
    /// Recording.
    Open,
    /// Could not be opened: why.
    Failed(String),
}

impl Microphone {
    /// One word for the page and tests: `closed`, `asking`, `open` or `failed`.
    pub fn word(&self) -> &'static str {
        match self {
            Microphone::Closed => "closed",
            Microphone::Asking => "asking",
            Microphone::Open => "open",
            Microphone::Failed(_) => "failed",
        }
    }
}

/// The player's voice settings and state, whatever plays the sound.
#[derive(Resource, Debug, Default)]
pub struct PlayerVoice {
    /// Playback works (a sound card, or the browser's audio and codecs).
    pub playing: bool,
    pub microphone: Microphone,
    /// How loud each speaker sounds (1 when not set).
    pub volumes: HashMap<StreamId, f32>,
    /// The speakers the player muted (the server no longer relays them).
    pub muted: HashSet<StreamId>,
    /// V is held (and the microphone on): the own voice goes out.
    pub talking: bool,
    /// An open microphone: sent while the detector hears speech, without V.
    pub open_mic: bool,
    vad: Vad,
    /// The last frame went out.
    pub sent_last: bool,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<PlayerVoice>()
        .add_systems(Startup, (open_sound, spawn_buttons))
        .add_systems(
            Update,
            (
                place_buttons,
                buttons,
                commands,
                microphone_answer,
                push_to_talk,
                send_voice,
                play_voices,
                speaking_rings,
            )
                .chain(),
        );
    #[cfg(target_arch = "wasm32")]
    app.add_systems(Update, browser::tell_page.after(play_voices));
}

fn open_sound(world: &mut World) {
    let (sound, opened) = Sound::open();
    world.insert_non_send(sound);
    match opened {
        Ok(()) => world.resource_mut::<PlayerVoice>().playing = true,
        Err(why) => warn!("voice is off: {why}"),
    }
}

/// `/voice ...`: the microphone (opened on the first `/voice on`), deafening, mutes and
/// volumes by name.
#[allow(clippy::too_many_arguments)]
fn commands(
    mut asked: MessageReader<VoiceCommand>,
    mut player: ResMut<PlayerVoice>,
    mut sound: NonSendMut<Sound>,
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
            VoiceCommand::Microphone(true) => match &player.microphone {
                Microphone::Open => {
                    status.microphone = true;
                    typing.note(MICROPHONE_ON, false, now);
                }
                Microphone::Asking => typing.note(ASKING, false, now),
                Microphone::Closed | Microphone::Failed(_) => match sound.open_microphone() {
                    Ok(true) => {
                        player.microphone = Microphone::Open;
                        status.microphone = true;
                        typing.note(MICROPHONE_ON, false, now);
                    }
                    Ok(false) => {
                        player.microphone = Microphone::Asking;
                        typing.note(ASKING, false, now);
                    }
                    Err(why) => {
                        typing.note(format!("Voice is off: {why}"), true, now);
                        player.microphone = Microphone::Failed(why);
                    }
                },
            },
            VoiceCommand::Microphone(false) => {
                status.microphone = false;
                typing.note("Microphone off", false, now);
            }
            VoiceCommand::OpenMic(open) => {
                player.open_mic = *open;
                let what = if *open {
                    "Open microphone: sent whenever it hears you speak (/voice ptt for push to talk)"
                } else {
                    "Push to talk: hold V"
                };
                typing.note(what, false, now);
            }
            VoiceCommand::Deafen(deaf) => {
                status.deafened = *deaf;
                sound.deafen(*deaf);
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
                    if *muted {
                        player.muted.insert(speaker);
                    } else {
                        player.muted.remove(&speaker);
                    }
                    let what = if *muted { "muted" } else { "unmuted" };
                    typing.note(format!("{name}'s voice {what}"), false, now);
                }
                None => typing.note(format!("Nobody called {name} is in view"), true, now),
            },
            VoiceCommand::Volume(name, level) => match find(name) {
                Some(speaker) => {
                    player.volumes.insert(speaker, *level);
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

const MICROPHONE_ON: &str =
    "Microphone on: it is heard only while you hold V, by those near you (/voice off to stop)";
const ASKING: &str = "Your browser asks once for the microphone: allow it, and those near you hear you while you hold V";

/// The browser's answer to asking for the microphone, when it comes: the microphone
/// goes on, or voice says why not.
fn microphone_answer(
    mut player: ResMut<PlayerVoice>,
    mut sound: NonSendMut<Sound>,
    mut voices: ResMut<Voices>,
    mut typing: ResMut<Typing>,
    mut status_out: MessageWriter<VoiceStatus>,
    time: Res<Time>,
) {
    if player.microphone != Microphone::Asking {
        return;
    }
    let now = time.elapsed_secs_f64();
    match sound.microphone_answer() {
        None => {}
        Some(Ok(())) => {
            player.microphone = Microphone::Open;
            voices.status.microphone = true;
            status_out.write(voices.status);
            typing.note(MICROPHONE_ON, false, now);
        }
        Some(Err(why)) => {
            typing.note(format!("Voice is off: {why}"), true, now);
            player.microphone = Microphone::Failed(why);
        }
    }
}

/// Voice's buttons, at the bottom right: the microphone on or off, deafen, and (while
/// the microphone is on) one to hold to talk, as V does, for fingers.
#[derive(Component, Clone, Copy, PartialEq, Eq)]
enum VoiceButton {
    Microphone,
    Deafen,
    Talk,
}

/// The row (a column on touch screens) the buttons sit in.
#[derive(Component)]
struct VoiceBar;

fn spawn_buttons(mut commands: Commands) {
    commands
        .spawn((
            VoiceBar,
            Visibility::Inherited,
            Node {
                position_type: PositionType::Absolute,
                right: Val::Px(12.0),
                bottom: Val::Px(12.0),
                column_gap: Val::Px(8.0),
                row_gap: Val::Px(8.0),
                flex_direction: FlexDirection::Row,
                ..default()
            },
        ))
        .with_children(|bar| {
            for button in [
                VoiceButton::Talk,
                VoiceButton::Microphone,
                VoiceButton::Deafen,
            ] {
                bar.spawn((
                    button,
                    Button,
                    Node {
                        min_height: Val::Px(44.0),
                        padding: UiRect::axes(Val::Px(12.0), Val::Px(8.0)),
                        align_items: AlignItems::Center,
                        ..default()
                    },
                    BackgroundColor(Color::srgba(0.15, 0.15, 0.2, 0.85)),
                    if button == VoiceButton::Talk {
                        Visibility::Hidden
                    } else {
                        Visibility::Inherited
                    },
                ))
                .with_child((
                    Text::new(""),
                    TextFont {
                        font_size: FontSize::Px(15.0),
                        ..default()
                    },
                    TextColor(Color::srgb(0.95, 0.95, 0.9)),
                ));
            }
        });
}

/// Where the bar goes: at the bottom right, level with the chat panel (above the
/// hotbar's row where the window is narrow); on touch screens a column over the chat
/// and action buttons. Hidden on the start screen.
fn place_buttons(
    layout: Res<crate::render::layout::Layout>,
    start: Option<Res<crate::render::start::StartScreen>>,
    mut bar: Query<(&mut Node, &mut Visibility), With<VoiceBar>>,
) {
    let Ok((mut node, mut visibility)) = bar.single_mut() else {
        return;
    };
    let starting = start.is_some_and(|s| s.stage != crate::render::start::Stage::Playing);
    visibility.set_if_neq(if starting {
        Visibility::Hidden
    } else {
        Visibility::Inherited
    });
    if !layout.is_changed() {
        return;
    }
    if layout.touch {
        node.flex_direction = FlexDirection::Column;
        node.right = Val::Px(24.0);
        node.bottom = Val::Px(300.0);
    } else {
        node.flex_direction = FlexDirection::Row;
        node.right = Val::Px(12.0);
        node.bottom = Val::Px(layout.chat_bottom + 4.0);
    }
}

/// A click on the microphone or deafen button does what `/voice on|off` and `/voice
/// deafen|undeafen` do; the buttons say what they are at.
fn buttons(
    pressed: Query<(&VoiceButton, &Interaction), Changed<Interaction>>,
    mut all: Query<(&VoiceButton, &mut Visibility, &Children)>,
    mut texts: Query<&mut Text>,
    voices: Res<Voices>,
    player: Res<PlayerVoice>,
    mut asked: MessageWriter<VoiceCommand>,
) {
    let status = voices.status;
    for (button, interaction) in &pressed {
        if *interaction != Interaction::Pressed {
            continue;
        }
        match button {
            VoiceButton::Microphone => {
                asked.write(VoiceCommand::Microphone(!status.microphone));
            }
            VoiceButton::Deafen => {
                asked.write(VoiceCommand::Deafen(!status.deafened));
            }
            VoiceButton::Talk => {}
        }
    }
    for (button, mut visibility, children) in &mut all {
        let label = match button {
            VoiceButton::Microphone if player.microphone == Microphone::Asking => "Mic: asking",
            VoiceButton::Microphone if status.microphone => "Mic: on",
            VoiceButton::Microphone => "Mic: off",
            VoiceButton::Deafen if status.deafened => "Undeafen",
            VoiceButton::Deafen => "Deafen",
            VoiceButton::Talk if player.talking => "Talking",
            VoiceButton::Talk => "Hold to talk",
        };
        if *button == VoiceButton::Talk {
            visibility.set_if_neq(if status.microphone && !player.open_mic {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            });
        }
        if let Some(mut text) = children.first().and_then(|c| texts.get_mut(*c).ok())
            && text.0 != label
        {
            text.0 = label.into();
        }
    }
}

/// Hold V (or the talk button) to talk (not while typing), once the microphone is on;
/// with an open microphone, neither is needed.
fn push_to_talk(
    talk: Query<(&VoiceButton, &Interaction)>,
    keys: Res<ButtonInput<KeyCode>>,
    mut typing: ResMut<Typing>,
    voices: Res<Voices>,
    mut player: ResMut<PlayerVoice>,
    time: Res<Time>,
    mut told: Local<bool>,
) {
    let button = talk
        .iter()
        .any(|(b, i)| *b == VoiceButton::Talk && *i == Interaction::Pressed);
    let held = (keys.pressed(KeyCode::KeyV) && !typing.active) || button;
    if held && !voices.status.microphone && !*told {
        *told = true;
        typing.note(
            "Voice: type /voice on to use your microphone; then hold V to talk to those near you",
            false,
            time.elapsed_secs_f64(),
        );
    }
    player.talking = (held || player.open_mic)
        && voices.status.microphone
        && player.microphone == Microphone::Open;
}

/// Takes the microphone's samples 20 ms at a time: encoded while talking, counted (as
/// silent frames, so listeners keep time) while not; and sends what the encoder made.
fn send_voice(
    mut player: ResMut<PlayerVoice>,
    mut sound: NonSendMut<Sound>,
    mut voices: ResMut<Voices>,
    mut out: MessageWriter<VoiceFrame>,
) {
    let player = &mut *player;
    for frame in sound.captured() {
        // With an open microphone, only frames the detector hears as speech go out.
        let talking = player.talking && (!player.open_mic || player.vad.speaking(&frame));
        player.sent_last = talking;
        let seq = voices.next_seq();
        if talking {
            sound.encode(seq, &frame);
        }
    }
    for (seq, opus) in sound.encoded() {
        out.write(voices.frame(seq, opus));
    }
}

/// Hands what arrived to the sound and places each voice where its speaker stands (as
/// the listener sees it), times the player's volume for that speaker.
fn play_voices(
    player: Res<PlayerVoice>,
    mut sound: NonSendMut<Sound>,
    mut voices: ResMut<Voices>,
    own: Query<&Transform, With<OwnAvatar>>,
    avatars: Query<(&Streamed, &Transform)>,
) {
    let heard: Vec<_> = voices.frames.drain(..).collect();
    if !player.playing {
        return;
    }
    sound.play(heard);
    let Ok(me) = own.single() else {
        return;
    };
    let speakers = sound.speakers();
    for (id, place) in avatars.iter().filter(|(id, _)| speakers.contains(&id.0)) {
        let (l, r) = gains(
            me.translation.truncate(),
            place.translation.truncate(),
            voices.hearing_radius,
        );
        let volume = player.volumes.get(&id.0).copied().unwrap_or(1.0);
        sound.set_gains(id.0, (l * volume, r * volume));
    }
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
    player: Res<PlayerVoice>,
    avatars: Query<(Entity, &Streamed, Option<&HasSpeakingRing>, Has<OwnAvatar>), With<Sprite>>,
    mut rings: Query<&mut Visibility, With<SpeakingRing>>,
) {
    for (avatar, id, ring, own) in &avatars {
        let speaking = if own {
            player.talking && player.sent_last
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
