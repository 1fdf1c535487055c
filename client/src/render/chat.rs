//! The chat panel, bottom left: the latest lines of every channel, and a line to type
//! in. Enter (or `/`) starts typing, Enter sends, Esc cancels, Tab changes channel;
//! commands are in [`crate::chat::HELP`]. While an NPC conversation is open, plain lines
//! go to the NPC (its window shows the exchange). While typing, the keys do
//! not move the avatar.

use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput};
use bevy::prelude::*;
use tavern_shared::agent::AgentLeave;
use tavern_shared::chat::{ChatChannel, ChatSend, MAX_CHARS};

use crate::agents::Conversation;
use crate::chat::{ChatLog, HELP, Typed, channel_label, format_line, parse_typed};
use crate::connection::LocalPlayer;
use crate::render::layout::Layout;

/// Lines the panel shows.
const SHOWN: usize = 8;
/// How long a local note (help, a refusal) stays up, in seconds.
const NOTE_SECS: f64 = 8.0;
/// How long a folded panel ([`Layout::chat_folds`]) shows after a line arrives.
const UNFOLD_SECS: f64 = 6.0;

/// The line being typed.
#[derive(Resource, Debug, Clone)]
pub struct Typing {
    pub active: bool,
    pub text: String,
    /// Where chat lines go (the NPC conversation overrides it while open).
    pub channel: ChatChannel,
    /// A note under the input line, and until when (seconds) it shows.
    pub note: Option<(String, bool, f64)>,
    /// Whisper partners seen lately, for Tab.
    last_whisper: Option<String>,
    /// A whole line typed outside the game (the chat button's box), to send next frame.
    pub entered: Option<String>,
}

impl Default for Typing {
    fn default() -> Self {
        Typing {
            active: false,
            text: String::new(),
            channel: ChatChannel::Proximity,
            note: None,
            last_whisper: None,
            entered: None,
        }
    }
}

impl Typing {
    /// Whether `key` was just pressed as a command: not while typing a line.
    pub fn pressed(&self, keys: &ButtonInput<KeyCode>, key: KeyCode) -> bool {
        !self.active && keys.just_pressed(key)
    }

    pub(crate) fn note(&mut self, text: impl Into<String>, error: bool, now: f64) {
        self.note = Some((text.into(), error, now + NOTE_SECS));
    }
}

#[derive(Component)]
struct ChatPanel;

#[derive(Component)]
struct ChatLineText(usize);

#[derive(Component)]
struct InputText;

#[derive(Component)]
struct NoteText;

pub fn plugin(app: &mut App) {
    app.init_resource::<Typing>()
        .add_systems(Startup, spawn_panel)
        // Typing is decided before the tick reads the movement keys, so a key that
        // starts typing never also moves or acts.
        .add_systems(PreUpdate, type_keys.after(bevy::input::InputSystems))
        .add_systems(Update, (show_panel, fit_panel));
}

fn spawn_panel(mut commands: Commands) {
    let font = |size: f32| TextFont {
        font_size: FontSize::Px(size),
        ..default()
    };
    commands
        .spawn((
            ChatPanel,
            Node {
                position_type: PositionType::Absolute,
                bottom: px(8),
                left: px(8),
                width: px(500),
                padding: UiRect::all(px(6)),
                flex_direction: FlexDirection::Column,
                row_gap: px(2),
                ..default()
            },
            BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.5)),
        ))
        .with_children(|panel| {
            for i in 0..SHOWN {
                panel.spawn((ChatLineText(i), Text::new(""), font(14.0)));
            }
            panel.spawn((
                InputText,
                Text::new(""),
                font(14.0),
                TextColor(Color::srgb(1.0, 1.0, 0.75)),
            ));
            panel.spawn((NoteText, Text::new(""), font(13.0)));
        });
}

fn color_of(channel: &ChatChannel) -> Color {
    match channel {
        ChatChannel::Proximity => Color::srgb(0.95, 0.95, 0.95),
        ChatChannel::Zone => Color::srgb(0.6, 0.85, 1.0),
        ChatChannel::Map => Color::srgb(0.7, 1.0, 0.7),
        ChatChannel::Whisper(_) => Color::srgb(1.0, 0.7, 1.0),
        ChatChannel::System => Color::srgb(1.0, 0.85, 0.4),
        ChatChannel::Agent(_) => Color::srgb(1.0, 0.8, 0.5),
        ChatChannel::Dice => Color::srgb(0.75, 0.8, 1.0),
        ChatChannel::Narration => Color::srgb(1.0, 0.85, 0.55),
        ChatChannel::GmRoll | ChatChannel::ToGm => Color::srgb(0.8, 0.7, 1.0),
    }
}

/// The channels Tab goes through.
fn next_channel(current: &ChatChannel, whisper: Option<&String>) -> ChatChannel {
    match current {
        ChatChannel::Proximity => ChatChannel::Zone,
        ChatChannel::Zone => ChatChannel::Map,
        ChatChannel::Map => match whisper {
            Some(name) => ChatChannel::Whisper(name.clone()),
            None => ChatChannel::Proximity,
        },
        _ => ChatChannel::Proximity,
    }
}

pub fn type_keys(
    mut keys: MessageReader<KeyboardInput>,
    mut typing: ResMut<Typing>,
    mut log: ResMut<ChatLog>,
    talk: Res<Conversation>,
    time: Res<Time>,
    mut send: MessageWriter<ChatSend>,
    mut gm: crate::table::GmOut,
    mut voice: MessageWriter<crate::voice::VoiceCommand>,
    mut leave: MessageWriter<AgentLeave>,
    start: Option<Res<crate::render::start::StartScreen>>,
) {
    // The start screen has the keyboard until the game begins.
    if start.is_some_and(|s| s.stage != crate::render::start::Stage::Playing) {
        keys.clear();
        return;
    }
    let now = time.elapsed_secs_f64();
    // A new conversation puts the cursor in it; a closed one takes it back.
    if talk.is_changed() {
        if talk.open.is_some() && !typing.active {
            typing.active = true;
            typing.text.clear();
        }
        if talk.open.is_none() && typing.active && typing.text.is_empty() {
            typing.active = false;
        }
    }
    // A line typed elsewhere (the chat button's box in a browser) goes out as if typed.
    if let Some(line) = typing.entered.take() {
        typing.text = line;
        submit(
            &mut typing,
            &mut log,
            &talk,
            (&mut send, &mut gm, &mut voice),
            now,
        );
    }
    for key in keys.read() {
        if key.state != ButtonState::Pressed {
            continue;
        }
        if !typing.active {
            match &key.logical_key {
                Key::Enter => {
                    typing.active = true;
                    typing.text.clear();
                }
                Key::Character(c) if c.as_str() == "/" => {
                    typing.active = true;
                    typing.text = "/".into();
                }
                Key::Escape => {
                    if let Some(open) = &talk.open {
                        leave.write(AgentLeave {
                            agent: open.agent.clone(),
                        });
                    }
                }
                _ => {}
            }
            continue;
        }
        match &key.logical_key {
            Key::Escape => {
                typing.active = false;
                typing.text.clear();
            }
            Key::Backspace => {
                typing.text.pop();
            }
            Key::Tab if talk.open.is_none() => {
                let whisper = typing.last_whisper.clone();
                typing.channel = next_channel(&typing.channel, whisper.as_ref());
            }
            Key::Enter => submit(
                &mut typing,
                &mut log,
                &talk,
                (&mut send, &mut gm, &mut voice),
                now,
            ),
            _ => {
                if let Some(t) = &key.text
                    && !t.chars().any(char::is_control)
                    && typing.text.chars().count() < MAX_CHARS + 20
                {
                    typing.text.push_str(t);
                }
            }
        }
    }
}

/// Sends the line being typed (Enter, or the chat button's line), or does the command
/// it holds.
fn submit(
    typing: &mut Typing,
    log: &mut ChatLog,
    talk: &Conversation,
    (send, gm, voice): (
        &mut MessageWriter<ChatSend>,
        &mut crate::table::GmOut,
        &mut MessageWriter<crate::voice::VoiceCommand>,
    ),
    now: f64,
) {
    let text = std::mem::take(&mut typing.text);
    typing.active = false;
    if text.trim().is_empty() {
        return;
    }
    // Plain lines go to the NPC while talking to one; commands still work.
    let current = match &talk.open {
        Some(open) => ChatChannel::Agent(open.agent.clone()),
        None => typing.channel.clone(),
    };
    let typed = parse_typed(&text, &current);
    match typed {
        Typed::Send(channel, text) => {
            if let ChatChannel::Whisper(name) = &channel {
                typing.last_whisper = Some(name.clone());
                typing.channel = channel.clone();
            }
            log.sent += 1;
            send.write(ChatSend { channel, text });
            // Keep the conversation flowing: back to typing to the NPC.
            typing.active = talk.open.is_some();
        }
        Typed::Switch(channel) => {
            if let ChatChannel::Whisper(name) = &channel {
                typing.last_whisper = Some(name.clone());
            }
            typing.channel = channel;
        }
        Typed::Gm(command) => gm.command(command),
        Typed::GmAct(request) => {
            if let Err(reason) = gm.request(request) {
                typing.note(format!("Not sent: {reason}"), true, now);
            }
        }
        Typed::Upload(path) => gm.upload(path),
        // The sound (render/voice) does it.
        Typed::Voice(command) => {
            voice.write(command);
        }
        Typed::Help => typing.note(HELP, false, now),
        Typed::Invalid(reason) => {
            typing.note(format!("Not sent: {reason}"), true, now);
            typing.text = text;
            typing.active = true;
        }
    }
}

/// Sizes the panel for the screen ([`Layout`]): its width, how many lines show, and on
/// a phone whether it shows at all (while typing, or just after a line or a note).
fn fit_panel(
    layout: Res<Layout>,
    log: Res<ChatLog>,
    typing: Res<Typing>,
    time: Res<Time>,
    mut last_line: Local<f64>,
    mut panel: Query<(&mut Node, &mut Visibility), (With<ChatPanel>, Without<ChatLineText>)>,
    mut lines: Query<(&ChatLineText, &mut Node), Without<ChatPanel>>,
) {
    let now = time.elapsed_secs_f64();
    if log.is_changed() && !log.lines.is_empty() {
        *last_line = now;
    }
    let noted = typing.note.as_ref().is_some_and(|(.., until)| *until > now);
    let open = !layout.chat_folds
        || typing.active
        || noted
        || (!log.lines.is_empty() && now - *last_line < UNFOLD_SECS);
    let want = if open {
        Visibility::Inherited
    } else {
        Visibility::Hidden
    };
    for (mut node, mut visible) in &mut panel {
        if *visible != want {
            *visible = want;
        }
        if layout.is_changed() {
            node.width = px(layout.chat_width);
            node.bottom = px(layout.chat_bottom);
        }
    }
    if layout.is_changed() {
        // The newest lines are the bottom slots.
        for (slot, mut node) in &mut lines {
            node.display = if SHOWN - slot.0 <= layout.chat_lines {
                Display::Flex
            } else {
                Display::None
            };
        }
    }
}

fn show_panel(
    log: Res<ChatLog>,
    mut typing: ResMut<Typing>,
    talk: Res<Conversation>,
    me: Option<Res<LocalPlayer>>,
    time: Res<Time>,
    mut seen_rejections: Local<usize>,
    mut lines: Query<
        (&ChatLineText, &mut Text, &mut TextColor),
        (Without<InputText>, Without<NoteText>),
    >,
    mut input: Query<&mut Text, (With<InputText>, Without<NoteText>)>,
    mut note: Query<(&mut Text, &mut TextColor), (With<NoteText>, Without<InputText>)>,
) {
    let now = time.elapsed_secs_f64();
    if log.rejections.len() > *seen_rejections {
        *seen_rejections = log.rejections.len();
        if let Some(r) = log.rejections.last() {
            let text = format!("Not sent: {}", r.reason);
            typing.note(text, true, now);
        }
    }
    if log.is_changed() {
        let me = me.as_ref().map_or("", |m| m.name.as_str());
        let recent: Vec<_> = log
            .lines
            .iter()
            .filter(|l| !matches!(l.channel, ChatChannel::Agent(_)))
            .rev()
            .take(SHOWN)
            .collect();
        for (slot, mut text, mut color) in &mut lines {
            // Newest at the bottom.
            let line = SHOWN
                .checked_sub(slot.0 + 1)
                .and_then(|back| recent.get(back));
            let (t, c) = match line {
                Some(l) => (format_line(l, me), color_of(&l.channel)),
                None => (String::new(), Color::WHITE),
            };
            if text.0 != t {
                text.0 = t;
            }
            color.0 = c;
        }
    }
    if let Ok(mut input) = input.single_mut() {
        let target = match &talk.open {
            Some(open) => format!("to {}", open.name),
            None => channel_label(&typing.channel),
        };
        let t = if typing.active {
            format!("[{target}] > {}_", typing.text)
        } else {
            format!("[{target}] Enter: chat    /: command    Tab while typing: channel")
        };
        if input.0 != t {
            input.0 = t;
        }
    }
    if let Ok((mut text, mut color)) = note.single_mut() {
        let (t, c) = match &typing.note {
            Some((t, error, until)) if *until > now => (
                t.clone(),
                if *error {
                    Color::srgb(1.0, 0.5, 0.45)
                } else {
                    Color::srgb(0.8, 0.8, 0.8)
                },
            ),
            _ => (String::new(), Color::WHITE),
        };
        if text.0 != t {
            text.0 = t;
        }
        color.0 = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_goes_round_the_channels_and_includes_the_last_whisper() {
        let bo = "Bo".to_string();
        let mut c = ChatChannel::Proximity;
        let mut seen = Vec::new();
        for _ in 0..4 {
            c = next_channel(&c, Some(&bo));
            seen.push(c.clone());
        }
        assert_eq!(
            seen,
            [
                ChatChannel::Zone,
                ChatChannel::Map,
                ChatChannel::Whisper(bo.clone()),
                ChatChannel::Proximity
            ]
        );
        assert_eq!(
            next_channel(&ChatChannel::Map, None),
            ChatChannel::Proximity
        );
    }
}
