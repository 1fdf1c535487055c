//! Zone prompts, bottom right: what the player can do where they stand ("Press E to talk
//! to the innkeeper", a website to open, a meeting to join with a "Join video call"
//! button and J), and short notes from the server (an NPC is busy, a conversation ended).
//! E opens a website here; the same key goes to the server, which starts meetings and
//! NPC conversations.

use bevy::prelude::*;
use tavern_shared::agent::Npc;
use tavern_shared::avatar::InZones;

use super::chat::Typing;
use crate::agents::Conversation;
use crate::meetings::Meetings;
use crate::offers::{Offer, offers};
use crate::prediction::{CurrentMap, OwnAvatar, Prediction};

/// How long a note stays up, in seconds.
const NOTE_SECS: f64 = 6.0;

#[derive(Component)]
struct PromptText;

#[derive(Component)]
struct JoinButton;

#[derive(Component)]
struct NoteText;

/// What is on offer now (for the keys and the button).
#[derive(Resource, Debug, Default)]
pub(crate) struct Here(pub Vec<Offer>);

pub fn plugin(app: &mut App) {
    app.init_resource::<Here>()
        .init_resource::<Unopened>()
        .add_systems(Startup, spawn_prompts)
        .add_systems(Update, (find_offers, show_prompts, act, show_notes).chain())
        .add_systems(Update, fit_prompts);
}

/// A link the browser could not be started for, to show the player.
#[derive(Resource, Debug, Default)]
struct Unopened(Option<String>);

/// Opens `url` in a new tab of the page's browser; says why not when it cannot (a
/// blocked pop-up).
#[cfg(target_arch = "wasm32")]
pub fn open_in_browser(url: &str) -> Result<(), String> {
    match web_sys::window().map(|w| w.open_with_url_and_target(url, "_blank")) {
        Some(Ok(Some(_))) => Ok(()),
        _ => Err(format!(
            "The browser blocked the new tab; allow pop-ups for this page. The address is {url}"
        )),
    }
}

/// Opens `url` in the system browser; says why not when it cannot.
#[cfg(not(target_arch = "wasm32"))]
pub fn open_in_browser(url: &str) -> Result<(), String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener).arg(url).spawn() {
        Ok(_) => {
            info!(%url, "opened in the browser");
            Ok(())
        }
        Err(e) => {
            warn!("cannot open the browser with {opener}: {e}; the address is {url}");
            Err(format!(
                "Could not start a browser ({opener}: {e}). The address is {url}"
            ))
        }
    }
}

/// The column of prompts and notes.
#[derive(Component)]
struct PromptColumn;

/// Places the prompts for the screen ([`crate::render::layout::Layout`]).
fn fit_prompts(
    layout: Res<crate::render::layout::Layout>,
    mut column: Query<&mut Node, With<PromptColumn>>,
) {
    if !layout.is_changed() {
        return;
    }
    for mut node in &mut column {
        node.width = px(layout.prompts_width);
        (node.top, node.bottom) = match layout.prompts_top {
            Some(top) => (px(top), Val::Auto),
            None => (Val::Auto, px(8)),
        };
    }
}

fn spawn_prompts(mut commands: Commands) {
    let font = |size: f32| TextFont {
        font_size: FontSize::Px(size),
        ..default()
    };
    commands
        .spawn((
            PromptColumn,
            Node {
                position_type: PositionType::Absolute,
                bottom: px(8),
                right: px(8),
                // A fixed width: with only a maximum, wrapped prompts overflow the bottom
                // edge.
                width: px(520),
                flex_direction: FlexDirection::Column,
                align_items: AlignItems::End,
                row_gap: px(6),
                ..default()
            },
        ))
        .with_children(|col| {
            let boxed = |size: f32, color: Color| {
                (
                    Text::new(""),
                    font(size),
                    TextColor(color),
                    BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
                    Node {
                        padding: UiRect::all(px(6)),
                        ..default()
                    },
                    Visibility::Hidden,
                )
            };
            col.spawn((NoteText, boxed(14.0, Color::srgb(1.0, 0.85, 0.5))));
            col.spawn((PromptText, boxed(16.0, Color::srgb(0.6, 0.85, 1.0))));
            col.spawn((
                JoinButton,
                Button,
                Node {
                    padding: UiRect::axes(px(12), px(6)),
                    ..default()
                },
                BackgroundColor(Color::srgb(0.2, 0.45, 0.85)),
                Visibility::Hidden,
            ))
            .with_child((Text::new("Join video call"), font(16.0)));
        });
}

fn find_offers(
    map: Option<Res<CurrentMap>>,
    own: Query<&InZones, With<OwnAvatar>>,
    prediction: Res<Prediction>,
    npcs: Query<&Npc>,
    meetings: Res<Meetings>,
    talk: Res<Conversation>,
    mut here: ResMut<Here>,
) {
    let (Some(map), Some(state)) = (map, prediction.state) else {
        return;
    };
    let zones = own.single().map(|z| z.0.clone()).unwrap_or_default();
    let npcs: Vec<Npc> = npcs.iter().cloned().collect();
    let now = offers(
        &map.data,
        &zones,
        state.pos,
        &npcs,
        meetings.current.as_ref(),
        talk.open.as_ref().map(|o| o.agent.as_str()),
    );
    if here.0 != now {
        here.0 = now;
    }
}

fn show_prompts(
    here: Res<Here>,
    mut prompt: Query<(&mut Text, &mut Visibility), (With<PromptText>, Without<JoinButton>)>,
    mut button: Query<&mut Visibility, (With<JoinButton>, Without<PromptText>)>,
) {
    if !here.is_changed() {
        return;
    }
    if let Ok((mut text, mut visible)) = prompt.single_mut() {
        let lines: Vec<String> = here.0.iter().map(Offer::text).collect();
        text.0 = lines.join("\n");
        *visible = if lines.is_empty() {
            Visibility::Hidden
        } else {
            Visibility::Inherited
        };
    }
    if let Ok(mut visible) = button.single_mut() {
        let meeting = here.0.iter().any(|o| matches!(o, Offer::Meeting(_)));
        *visible = if meeting {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
    }
}

fn act(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<Typing>,
    touch: Res<crate::render::touch::TouchControls>,
    pad: Res<crate::render::gamepad::GamepadControls>,
    here: Res<Here>,
    mut unopened: ResMut<Unopened>,
    mut clicks: Query<
        (&Interaction, &mut BackgroundColor),
        (Changed<Interaction>, With<JoinButton>),
    >,
) {
    let meeting = here.0.iter().find_map(|o| match o {
        Offer::Meeting(m) => Some(m.url.clone()),
        _ => None,
    });
    for (interaction, mut color) in &mut clicks {
        color.0 = match interaction {
            Interaction::Pressed => {
                if let Some(url) = &meeting {
                    unopened.0 = open_in_browser(url).err();
                }
                Color::srgb(0.15, 0.35, 0.7)
            }
            Interaction::Hovered => Color::srgb(0.3, 0.55, 0.95),
            Interaction::None => Color::srgb(0.2, 0.45, 0.85),
        };
    }
    if typing.active {
        return;
    }
    if keys.just_pressed(KeyCode::KeyJ)
        && let Some(url) = &meeting
    {
        unopened.0 = open_in_browser(url).err();
    }
    if crate::render::keyboard::action_pressed(&keys, &typing, &touch, &pad)
        && let Some(url) = here.0.iter().find_map(|o| match o {
            Offer::Website { url, .. } => Some(url),
            _ => None,
        })
    {
        unopened.0 = open_in_browser(url).err();
    }
}

/// Server notes about NPCs and meetings, shown for a few seconds.
fn show_notes(
    talk: Res<Conversation>,
    meetings: Res<Meetings>,
    mut unopened: ResMut<Unopened>,
    time: Res<Time>,
    mut seen: Local<(usize, Option<String>, u32)>,
    mut until: Local<f64>,
    mut note: Query<(&mut Text, &mut Visibility), With<NoteText>>,
) {
    let Ok((mut text, mut visible)) = note.single_mut() else {
        return;
    };
    let now = time.elapsed_secs_f64();
    let mut show = |t: String| {
        text.0 = t;
        *visible = Visibility::Inherited;
        *until = now + NOTE_SECS;
    };
    if talk.notices.len() != seen.0 {
        seen.0 = talk.notices.len();
        // Failures during a conversation show in its window instead.
        if let Some((n, _)) = talk.notices.last()
            && talk.open.as_ref().is_none_or(|o| o.agent != n.agent)
        {
            show(n.text.clone());
        }
    }
    let closed = talk.last_closed.as_ref().map(|c| c.reason.clone());
    if closed != seen.1 {
        seen.1 = closed.clone();
        if let Some(reason) = closed {
            show(format!("Conversation ended: {reason}"));
        }
    }
    if meetings.hangups != seen.2 {
        seen.2 = meetings.hangups;
        show("You left the meeting zone: hang up the video call".into());
    }
    if let Some(failed) = unopened.0.take() {
        show(failed);
    }
    if now > *until && *visible != Visibility::Hidden {
        *visible = Visibility::Hidden;
    }
}
