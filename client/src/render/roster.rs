//! The player list: Tab (while not typing) opens it and closes it again. It shows
//! everyone in the room, their map and whether they are online, away or reconnecting;
//! for each player in view, a mute button and a volume slider for their voice.

use bevy::prelude::*;
use tavern_shared::api::PlayerStatus;

use crate::roster::Roster;

/// The list: a box at the top, its heading and its rows.
#[derive(Component)]
struct RosterPanel;

#[derive(Component)]
struct RosterHeading;

#[derive(Component)]
struct RosterRows;

/// A player's mute button.
#[derive(Component)]
struct MuteButton {
    name: String,
    muted: bool,
}

/// A player's volume slider: a click on the bar sets it (0 % at the left, 200 % at the
/// right).
#[derive(Component)]
struct VolumeSlider {
    name: String,
}

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_panel).add_systems(
        Update,
        (toggle_panel, fill_panel, voice_controls)
            .chain()
            .in_set(crate::PlaySystems::Present),
    );
}

fn spawn_panel(mut commands: Commands) {
    commands
        .spawn((
            RosterPanel,
            BackgroundColor(Color::srgba(0.05, 0.05, 0.08, 0.9)),
            Node {
                position_type: PositionType::Absolute,
                top: Val::Px(90.0),
                left: Val::Percent(25.0),
                max_width: Val::Percent(74.0),
                padding: UiRect::all(Val::Px(12.0)),
                flex_direction: FlexDirection::Column,
                row_gap: Val::Px(4.0),
                ..default()
            },
            Visibility::Hidden,
            GlobalZIndex(20),
        ))
        .with_children(|panel| {
            panel.spawn((RosterHeading, Text::new(""), font(15.0), white()));
            panel.spawn((
                RosterRows,
                Node {
                    flex_direction: FlexDirection::Column,
                    row_gap: Val::Px(4.0),
                    ..default()
                },
            ));
        });
}

fn font(size: f32) -> TextFont {
    TextFont {
        font_size: FontSize::Px(size),
        ..default()
    }
}

fn white() -> TextColor {
    TextColor(Color::srgb(0.95, 0.95, 0.9))
}

/// The list's heading: the room and how many players are in it.
pub fn roster_heading(roster: &Roster) -> String {
    let r = &roster.0;
    format!(
        "{} - {} player{}   (Tab closes)",
        if r.room_name.is_empty() {
            &r.room
        } else {
            &r.room_name
        },
        r.players.len(),
        if r.players.len() == 1 { "" } else { "s" }
    )
}

/// One player's line: name, map, presence.
pub fn roster_line(p: &tavern_shared::presence::RosterEntry) -> String {
    let status = match p.status {
        PlayerStatus::Online => "online",
        PlayerStatus::Away => "away",
        PlayerStatus::Reconnecting => "reconnecting...",
    };
    format!("{:<24} {:<12} {status}", p.name, p.map)
}

/// What a row shows: the line, and for a player in view (who can be heard) whether
/// they are muted and how loud they sound (percent).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    line: String,
    voice: Option<(String, bool, u32)>,
}

/// Tab (while not typing) opens and closes the list; Esc closes it. Not on the start
/// screen, where Tab moves between fields.
fn toggle_panel(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<crate::render::chat::Typing>,
    start: Option<Res<crate::render::start::StartScreen>>,
    mut panel: Query<&mut Visibility, With<RosterPanel>>,
) {
    let Ok(mut visibility) = panel.single_mut() else {
        return;
    };
    let starting = start.is_some_and(|s| s.stage != crate::render::start::Stage::Playing);
    let open = *visibility != Visibility::Hidden;
    let want = if starting {
        false
    } else if keys.just_pressed(KeyCode::Tab) && !typing.active {
        !open
    } else if keys.just_pressed(KeyCode::Escape) {
        false
    } else {
        open
    };
    visibility.set_if_neq(if want {
        Visibility::Visible
    } else {
        Visibility::Hidden
    });
}

/// Fills the open list: a row per player, with a mute button and a volume slider for
/// each one in view other than oneself; rebuilt only when what it shows changes.
#[allow(clippy::too_many_arguments)]
fn fill_panel(
    mut commands: Commands,
    roster: Res<Roster>,
    player: Res<crate::render::voice::PlayerVoice>,
    own: Query<&tavern_shared::avatar::PlayerId, With<crate::prediction::OwnAvatar>>,
    avatars: Query<(&tavern_shared::avatar::PlayerId, &crate::stream::Streamed)>,
    panel: Query<&Visibility, With<RosterPanel>>,
    mut heading: Query<&mut Text, With<RosterHeading>>,
    rows_node: Query<Entity, With<RosterRows>>,
    mut shown: Local<Vec<Row>>,
) {
    if panel.single().is_ok_and(|v| *v == Visibility::Hidden) {
        return;
    }
    if let Ok(mut text) = heading.single_mut() {
        let line = roster_heading(&roster);
        if text.0 != line {
            text.0 = line;
        }
    }
    let me = own.single().ok().map(|p| p.0);
    let rows: Vec<Row> = roster
        .0
        .players
        .iter()
        .map(|p| {
            let stream = avatars
                .iter()
                .find(|(id, _)| id.0 == p.client_id && Some(id.0) != me)
                .map(|(_, s)| s.0);
            Row {
                line: roster_line(p),
                voice: stream.map(|s| {
                    let volume = player.volumes.get(&s).copied().unwrap_or(1.0);
                    (
                        p.name.clone(),
                        player.muted.contains(&s),
                        (volume * 100.0).round() as u32,
                    )
                }),
            }
        })
        .collect();
    if *shown == rows {
        return;
    }
    let Ok(parent) = rows_node.single() else {
        return;
    };
    commands.entity(parent).despawn_related::<Children>();
    commands.entity(parent).with_children(|list| {
        for row in &rows {
            list.spawn(Node {
                flex_direction: FlexDirection::Row,
                align_items: AlignItems::Center,
                column_gap: Val::Px(10.0),
                ..default()
            })
            .with_children(|line| {
                line.spawn((Text::new(row.line.clone()), font(15.0), white()));
                let Some((name, muted, percent)) = &row.voice else {
                    return;
                };
                line.spawn((
                    MuteButton {
                        name: name.clone(),
                        muted: *muted,
                    },
                    Button,
                    Node {
                        min_width: Val::Px(84.0),
                        justify_content: JustifyContent::Center,
                        padding: UiRect::axes(Val::Px(10.0), Val::Px(4.0)),
                        ..default()
                    },
                    BackgroundColor(if *muted {
                        Color::srgb(0.6, 0.2, 0.2)
                    } else {
                        Color::srgb(0.25, 0.25, 0.32)
                    }),
                ))
                .with_child((
                    Text::new(if *muted { "Unmute" } else { "Mute" }),
                    font(14.0),
                    white(),
                ));
                line.spawn((
                    VolumeSlider { name: name.clone() },
                    Button,
                    bevy::ui::RelativeCursorPosition::default(),
                    Node {
                        width: Val::Px(120.0),
                        height: Val::Px(16.0),
                        ..default()
                    },
                    BackgroundColor(Color::srgb(0.2, 0.2, 0.25)),
                ))
                .with_child((
                    Node {
                        width: Val::Percent(*percent as f32 / 2.0),
                        height: Val::Percent(100.0),
                        ..default()
                    },
                    BackgroundColor(Color::srgb(0.4, 0.75, 0.45)),
                ));
                line.spawn((Text::new(format!("{percent} %")), font(14.0), white()));
            });
        }
    });
    *shown = rows;
}

/// The list's buttons: mute or unmute a player, set how loud they sound (as `/voice
/// mute` and `/voice volume` do).
#[allow(clippy::type_complexity)]
fn voice_controls(
    mutes: Query<(&Interaction, &MuteButton), Changed<Interaction>>,
    sliders: Query<
        (
            &Interaction,
            &VolumeSlider,
            &bevy::ui::RelativeCursorPosition,
        ),
        Changed<Interaction>,
    >,
    mut voice: MessageWriter<crate::voice::VoiceCommand>,
) {
    use crate::voice::VoiceCommand;
    for (interaction, button) in &mutes {
        if *interaction == Interaction::Pressed {
            voice.write(VoiceCommand::Mute(button.name.clone(), !button.muted));
        }
    }
    for (interaction, slider, at) in &sliders {
        if *interaction != Interaction::Pressed {
            continue;
        }
        if let Some(at) = at.normalized {
            voice.write(VoiceCommand::Volume(
                slider.name.clone(),
                slider_level(at.x),
            ));
        }
    }
}

/// The volume (0 to 2) a click on a slider sets: where it falls across the bar (from
/// the bar's middle, -0.5 to 0.5, as Bevy measures it), in steps of 10 %.
fn slider_level(x: f32) -> f32 {
    ((x + 0.5).clamp(0.0, 1.0) * 20.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::presence::{RoomRoster, RosterEntry};

    #[test]
    fn the_list_names_the_room_and_each_player_with_map_and_status() {
        let roster = Roster(RoomRoster {
            room: "town".into(),
            room_name: "Town".into(),
            players: vec![
                RosterEntry {
                    client_id: 1,
                    name: "Ada".into(),
                    map: "town".into(),
                    status: PlayerStatus::Online,
                },
                RosterEntry {
                    client_id: 2,
                    name: "Bo".into(),
                    map: "dungeon".into(),
                    status: PlayerStatus::Reconnecting,
                },
            ],
        });
        let heading = roster_heading(&roster);
        assert!(heading.starts_with("Town - 2 players"), "{heading}");
        let ada = roster_line(&roster.0.players[0]);
        assert!(ada.contains("Ada") && ada.contains("online"), "{ada}");
        let bo = roster_line(&roster.0.players[1]);
        assert!(
            bo.contains("dungeon") && bo.contains("reconnecting"),
            "{bo}"
        );
    }

    #[test]
    fn a_click_across_the_slider_sets_0_to_200_percent_in_steps() {
        assert_eq!(slider_level(-0.5), 0.0);
        assert_eq!(slider_level(0.0), 1.0);
        assert_eq!(slider_level(0.5), 2.0);
        assert_eq!(slider_level(0.13), 1.3);
        assert_eq!(slider_level(9.0), 2.0);
    }
}
