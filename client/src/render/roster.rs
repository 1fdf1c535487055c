//! The player list: held Tab (while not typing) shows everyone in the room, their map
//! and whether they are online, away or reconnecting.

use bevy::prelude::*;
use tavern_shared::api::PlayerStatus;

use crate::roster::Roster;

#[derive(Component)]
struct RosterPanel;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_panel)
        .add_systems(Update, show_panel.in_set(crate::PlaySystems::Present));
}

fn spawn_panel(mut commands: Commands) {
    commands.spawn((
        RosterPanel,
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(15.0),
            ..default()
        },
        TextColor(Color::srgb(0.95, 0.95, 0.9)),
        BackgroundColor(Color::srgba(0.05, 0.05, 0.08, 0.85)),
        Node {
            position_type: PositionType::Absolute,
            top: Val::Px(90.0),
            left: Val::Percent(30.0),
            padding: UiRect::all(Val::Px(12.0)),
            ..default()
        },
        Visibility::Hidden,
    ));
}

/// The list as text: the room, then one line per player.
pub fn roster_text(roster: &Roster) -> String {
    let r = &roster.0;
    let mut out = format!(
        "{} - {} player{}\n",
        if r.room_name.is_empty() {
            &r.room
        } else {
            &r.room_name
        },
        r.players.len(),
        if r.players.len() == 1 { "" } else { "s" }
    );
    for p in &r.players {
        let status = match p.status {
            PlayerStatus::Online => "online",
            PlayerStatus::Away => "away",
            PlayerStatus::Reconnecting => "reconnecting...",
        };
        out.push_str(&format!("\n{:<24} {:<12} {status}", p.name, p.map));
    }
    out
}

fn show_panel(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<crate::render::chat::Typing>,
    roster: Res<Roster>,
    mut panel: Query<(&mut Text, &mut Visibility), With<RosterPanel>>,
) {
    let Ok((mut text, mut visibility)) = panel.single_mut() else {
        return;
    };
    let held = keys.pressed(KeyCode::Tab) && !typing.active;
    let want = if held {
        Visibility::Visible
    } else {
        Visibility::Hidden
    };
    if *visibility != want {
        *visibility = want;
    }
    if held {
        let line = roster_text(&roster);
        if text.0 != line {
            text.0 = line;
        }
    }
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
        let text = roster_text(&roster);
        assert!(text.starts_with("Town - 2 players"), "{text}");
        assert!(text.contains("Ada") && text.contains("online"), "{text}");
        assert!(
            text.contains("dungeon") && text.contains("reconnecting"),
            "{text}"
        );
    }
}
