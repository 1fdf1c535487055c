//! The connection indicator and a one-line help, top left (the help only where there
//! is a keyboard and room for it: [`Layout`]).

use bevy::prelude::*;
use tavern_shared::avatar::{DisplayName, PlayerId};

use crate::connection::ConnectionStatus;
use crate::proximity::NearbyPlayers;
use crate::render::layout::Layout;

#[derive(Component)]
struct StatusText;

#[derive(Component)]
struct HudBox;

#[derive(Component)]
struct KeyHelp;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_hud)
        .add_systems(Update, (update_status, fit_hud));
}

fn spawn_hud(mut commands: Commands) {
    commands
        .spawn((
            HudBox,
            Node {
                position_type: PositionType::Absolute,
                top: px(8),
                left: px(8),
                padding: UiRect::all(px(6)),
                max_width: px(560),
                flex_direction: FlexDirection::Column,
                ..default()
            },
            BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
        ))
        .with_children(|hud| {
            hud.spawn((
                StatusText,
                Text::new("starting..."),
                TextFont {
                    font_size: FontSize::Px(16.0),
                    ..default()
                },
            ));
            hud.spawn((
                KeyHelp,
                Text::new("WASD / arrows: move    Shift: run    1-4: abilities at the mouse    E: interact / talk / pick up    I: inventory    J: join meeting    Enter: chat    Tab: players"),
                TextFont {
                    font_size: FontSize::Px(13.0),
                    ..default()
                },
                TextColor(Color::srgb(0.8, 0.8, 0.8)),
            ));
        });
}

/// Fits the box to the window and shows the keys' help where it belongs.
fn fit_hud(
    layout: Res<Layout>,
    mut hud: Query<&mut Node, (With<HudBox>, Without<KeyHelp>)>,
    mut help: Query<&mut Node, (With<KeyHelp>, Without<HudBox>)>,
) {
    if !layout.is_changed() {
        return;
    }
    for mut node in &mut hud {
        node.max_width = px(layout.hud_width);
    }
    for mut node in &mut help {
        node.display = if layout.key_help {
            Display::Flex
        } else {
            Display::None
        };
    }
}

fn update_status(
    status: Res<ConnectionStatus>,
    attempts: Res<crate::connection::Attempts>,
    time: Res<Time<Real>>,
    players: Query<(&PlayerId, &DisplayName)>,
    vitals: Query<&tavern_shared::combat::Vitals, With<crate::prediction::OwnAvatar>>,
    nearby: Res<NearbyPlayers>,
    mut text: Query<(&mut Text, &mut TextColor), With<StatusText>>,
) {
    let Ok((mut text, mut color)) = text.single_mut() else {
        return;
    };
    let (line, c) = match &*status {
        ConnectionStatus::Connected => {
            let mut near: Vec<&str> = players
                .iter()
                .filter(|(id, _)| nearby.near.contains(&id.0))
                .map(|(_, name)| name.0.as_str())
                .collect();
            near.sort_unstable();
            let near = if near.is_empty() {
                "nobody near".to_string()
            } else {
                format!("near you: {}", near.join(", "))
            };
            let pools = vitals.single().map_or(String::new(), |v| {
                format!(
                    " - HP {}/{}  MP {}/{}  SP {}/{}",
                    v.health, v.max_health, v.mana, v.max_mana, v.stamina, v.max_stamina
                )
            });
            (
                format!(
                    "connected - {} on this map - {near}{pools}",
                    players.iter().count()
                ),
                Color::srgb(0.5, 0.95, 0.5),
            )
        }
        ConnectionStatus::Failed(_) => (
            format!("{} - restart Tavern to try again", *status),
            Color::srgb(1.0, 0.45, 0.4),
        ),
        ConnectionStatus::Reconnecting { .. } => (
            match attempts.retry_in(&time) {
                Some(secs) => format!("{} - next try in {} s", *status, secs.ceil()),
                None => status.to_string(),
            },
            Color::srgb(1.0, 0.85, 0.4),
        ),
        other => (other.to_string(), Color::srgb(1.0, 0.85, 0.4)),
    };
    if text.0 != line {
        text.0 = line;
    }
    color.0 = c;
}
