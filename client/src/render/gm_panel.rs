//! The GM panel (G, for the campaign's GM): the session's buttons (start, pause,
//! resume, end), the encounter's (start, next, back, end), the AI game master's, every
//! player with its presence and buttons to mute, unmute, bring to the GM, kick and
//! ban, and every shared file with a button to show or play it. Narration, the scene,
//! reasons and uploads are typed: their buttons open the chat box with the command
//! begun (`/narrate `, `/scene location=`, `/upload `). Each button sends what the
//! chat command would; the server checks it the same way.

use bevy::prelude::*;
use tavern_shared::api::PlayerStatus;
use tavern_shared::gm::assets::AssetKind;
use tavern_shared::gm::{Destination, EncounterCommand, GmAction, GmCommand};

use crate::handouts::Handouts;
use crate::prediction::Prediction;
use crate::render::chat::Typing;
use crate::roster::Roster;
use crate::table::{GmOut, Table};

#[derive(Component)]
struct GmPanel;

/// What a button of the panel does.
#[derive(Component, Debug, Clone)]
enum GmButton {
    Command(GmCommand),
    Action(GmAction),
    Encounter(EncounterCommand),
    /// Opens the chat box with this begun.
    Type(&'static str),
    /// Teleports the player (client id) to where the GM stands.
    BringHere(u64),
}

/// Whether the panel is open, and what it was last built from.
#[derive(Resource, Debug, Default)]
pub struct PanelState {
    open: bool,
    built: Option<String>,
}

/// The panel's width, and how far from the right edge it stands: other windows on the
/// right make room for it while it is open.
pub const WIDTH: f32 = 360.0;
pub const MARGIN: f32 = 8.0;

impl PanelState {
    /// Whether the panel is on the screen.
    pub fn is_open(&self) -> bool {
        self.open
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<PanelState>()
        .add_systems(Startup, spawn)
        .add_systems(
            Update,
            (toggle, build, press)
                .chain()
                .after(crate::PlaySystems::Present),
        );
}

fn spawn(mut commands: Commands) {
    commands.spawn((
        GmPanel,
        BackgroundColor(Color::srgba(0.08, 0.06, 0.12, 0.92)),
        GlobalZIndex(20),
        Node {
            position_type: PositionType::Absolute,
            top: px(104),
            right: px(MARGIN),
            width: px(WIDTH),
            max_height: percent(80),
            flex_direction: FlexDirection::Column,
            row_gap: px(6),
            padding: UiRect::all(px(10)),
            overflow: Overflow::clip_y(),
            display: Display::None,
            ..default()
        },
    ));
}

fn toggle(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<Typing>,
    table: Res<Table>,
    mut state: ResMut<PanelState>,
) {
    let gm = table.state.as_ref().is_some_and(|s| s.you_are_gm);
    if !gm {
        // Written only when it changes, so the panel is not rebuilt for nothing.
        if state.open {
            state.open = false;
        }
    } else if typing.pressed(&keys, KeyCode::KeyG) {
        state.open = !state.open;
    }
}

fn label(text: impl Into<String>, size: f32, color: Color) -> impl Bundle {
    (
        Text::new(text),
        TextFont {
            font_size: FontSize::Px(size),
            ..default()
        },
        TextColor(color),
    )
}

/// A row of buttons.
fn row(panel: &mut ChildSpawnerCommands, buttons: Vec<(String, GmButton)>) {
    panel
        .spawn(Node {
            flex_direction: FlexDirection::Row,
            flex_wrap: FlexWrap::Wrap,
            column_gap: px(4),
            row_gap: px(4),
            ..default()
        })
        .with_children(|row| {
            for (text, action) in buttons {
                row.spawn((
                    action,
                    Button,
                    BackgroundColor(Color::srgb(0.22, 0.2, 0.35)),
                    Node {
                        padding: UiRect::axes(px(8), px(4)),
                        ..default()
                    },
                ))
                .with_child(label(text, 13.0, Color::srgb(0.92, 0.9, 1.0)));
            }
        });
}

fn status_word(status: PlayerStatus) -> &'static str {
    match status {
        PlayerStatus::Online => "online",
        PlayerStatus::Away => "away",
        PlayerStatus::Reconnecting => "reconnecting",
    }
}

/// Rebuilds the panel when it opens, closes or what it shows changed.
fn build(
    mut commands: Commands,
    mut state: ResMut<PanelState>,
    table: Res<Table>,
    roster: Res<Roster>,
    handouts: Res<Handouts>,
    me: Option<Res<crate::connection::LocalPlayer>>,
    mut panel: Query<(Entity, &mut Node), With<GmPanel>>,
) {
    let Ok((entity, mut node)) = panel.single_mut() else {
        return;
    };
    let Some(table_state) = table.state.as_ref().filter(|_| state.open) else {
        if node.display != Display::None {
            node.display = Display::None;
            commands.entity(entity).despawn_children();
            state.built = None;
        }
        return;
    };
    let me = me.map(|m| m.client_id);
    let players: Vec<_> = roster
        .0
        .players
        .iter()
        .filter(|p| Some(p.client_id) != me)
        .collect();
    let encounter = table.encounter().map(|e| (e.round, e.turn));
    let signature = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}",
        table_state.status,
        table_state.scene,
        encounter,
        players
            .iter()
            .map(|p| (p.client_id, &p.name, p.status))
            .collect::<Vec<_>>(),
        handouts.assets.iter().map(|a| &a.hash).collect::<Vec<_>>(),
    );
    if state.built.as_ref() == Some(&signature) {
        return;
    }
    state.built = Some(signature);
    crate::render::panel::set_shown(&mut node, true);
    commands.entity(entity).despawn_children();
    let dim = Color::srgb(0.75, 0.72, 0.85);
    commands.entity(entity).with_children(|panel| {
        panel.spawn(label(
            format!("GM panel (G closes): {}", table_state.status),
            15.0,
            Color::srgb(1.0, 0.85, 0.5),
        ));
        let scene = table_state.scene.line();
        if !scene.is_empty() {
            panel.spawn(label(format!("Scene: {scene}"), 13.0, dim));
        }
        row(
            panel,
            vec![
                ("Start".into(), GmButton::Command(GmCommand::Start)),
                ("Pause".into(), GmButton::Command(GmCommand::Pause)),
                ("Resume".into(), GmButton::Command(GmCommand::Resume)),
                ("End".into(), GmButton::Command(GmCommand::End)),
            ],
        );
        row(
            panel,
            vec![
                ("Narrate...".into(), GmButton::Type("/narrate ")),
                (
                    "Scene...".into(),
                    GmButton::Type("/scene location= weather= time= mood="),
                ),
                ("Roll...".into(), GmButton::Type("/roll ")),
                ("Upload...".into(), GmButton::Type("/upload ")),
            ],
        );
        let fight = match encounter {
            Some((round, _)) => format!("Encounter: round {round}"),
            None => "Encounter: none".into(),
        };
        panel.spawn(label(fight, 13.0, dim));
        row(
            panel,
            vec![
                (
                    "Start fight".into(),
                    GmButton::Encounter(EncounterCommand::Start { radius: None }),
                ),
                ("Next".into(), GmButton::Encounter(EncounterCommand::Next)),
                ("Back".into(), GmButton::Encounter(EncounterCommand::Back)),
                (
                    "End fight".into(),
                    GmButton::Encounter(EncounterCommand::End),
                ),
            ],
        );
        row(
            panel,
            vec![
                (
                    "AI GM on".into(),
                    GmButton::Action(GmAction::AiGm { on: true }),
                ),
                (
                    "AI GM off".into(),
                    GmButton::Action(GmAction::AiGm { on: false }),
                ),
            ],
        );
        panel.spawn(label(format!("Players ({})", players.len()), 14.0, dim));
        if players.is_empty() {
            panel.spawn(label("Nobody else is here yet", 13.0, dim));
        }
        for p in &players {
            panel.spawn(label(
                format!("{} ({}, {})", p.name, status_word(p.status), p.map),
                13.0,
                Color::WHITE,
            ));
            let id = p.client_id;
            row(
                panel,
                vec![
                    (
                        "Mute".into(),
                        GmButton::Action(GmAction::Mute {
                            player: id,
                            muted: true,
                        }),
                    ),
                    (
                        "Unmute".into(),
                        GmButton::Action(GmAction::Mute {
                            player: id,
                            muted: false,
                        }),
                    ),
                    ("Bring here".into(), GmButton::BringHere(id)),
                    (
                        "Kick".into(),
                        GmButton::Action(GmAction::Kick {
                            player: id,
                            reason: String::new(),
                        }),
                    ),
                    (
                        "Ban".into(),
                        GmButton::Action(GmAction::Ban {
                            player: id,
                            reason: String::new(),
                        }),
                    ),
                ],
            );
        }
        panel.spawn(label(
            format!("Shared files ({})", handouts.assets.len()),
            14.0,
            dim,
        ));
        let mut files: Vec<(String, GmButton)> = handouts
            .assets
            .iter()
            .map(|a| {
                let (verb, action) = match a.kind {
                    AssetKind::Image => (
                        "Show",
                        GmAction::Show {
                            asset: Some(a.hash.clone()),
                        },
                    ),
                    AssetKind::Audio => (
                        "Play",
                        GmAction::Play {
                            asset: a.hash.clone(),
                        },
                    ),
                };
                (format!("{verb} {}", a.name), GmButton::Action(action))
            })
            .collect();
        files.push((
            "Hide handout".into(),
            GmButton::Action(GmAction::Show { asset: None }),
        ));
        row(panel, files);
    });
}

fn press(
    buttons: Query<(&Interaction, &GmButton), Changed<Interaction>>,
    mut gm: GmOut,
    mut typing: ResMut<Typing>,
    prediction: Res<Prediction>,
) {
    for (interaction, button) in &buttons {
        if *interaction != Interaction::Pressed {
            continue;
        }
        match button.clone() {
            GmButton::Command(command) => gm.command(command),
            GmButton::Action(action) => gm.act(action),
            GmButton::Encounter(command) => gm.encounter(command),
            GmButton::Type(begun) => {
                typing.active = true;
                typing.text = begun.to_string();
            }
            GmButton::BringHere(player) => {
                if let Some(state) = prediction.state {
                    gm.act(GmAction::Teleport {
                        player: Some(player),
                        to: Destination::Point {
                            x: state.pos.x,
                            y: state.pos.y,
                        },
                    });
                }
            }
        }
    }
}
