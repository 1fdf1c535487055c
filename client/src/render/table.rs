//! The table's banner at the top of the screen: where a campaign's session stands
//! ("Waiting for the GM to start", "Paused by the GM") with the GM's name, and for a
//! few seconds the newest thing the server said about the table.

use bevy::prelude::*;

use crate::table::Table;

/// Seconds a notice stays.
const NOTICE_SECS: f64 = 5.0;

#[derive(Component)]
struct Banner;

#[derive(Component)]
struct NoticeLine;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_banner)
        .add_systems(Update, show.after(crate::PlaySystems::Present));
}

fn spawn_banner(mut commands: Commands) {
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            top: px(96),
            width: percent(100),
            flex_direction: FlexDirection::Column,
            align_items: AlignItems::Center,
            row_gap: px(4),
            ..default()
        })
        .with_children(|column| {
            column.spawn((
                Banner,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(22.0),
                    ..default()
                },
                TextColor(Color::srgb(1.0, 0.85, 0.4)),
                BackgroundColor(Color::srgba(0.1, 0.07, 0.04, 0.75)),
                Node {
                    padding: UiRect::axes(px(14), px(6)),
                    display: Display::None,
                    ..default()
                },
            ));
            column.spawn((
                NoticeLine,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(16.0),
                    ..default()
                },
                TextColor(Color::srgb(0.95, 0.9, 0.8)),
            ));
        });
}

fn show(
    time: Res<Time>,
    table: Res<Table>,
    mut banner: Query<(&mut Text, &mut Node), (With<Banner>, Without<NoticeLine>)>,
    mut notice: Query<&mut Text, (With<NoticeLine>, Without<Banner>)>,
) {
    if let Ok((mut text, mut node)) = banner.single_mut() {
        let shown = match (&table.state, table.banner()) {
            (Some(state), Some(banner)) => format!("{banner}  ·  GM {}", state.gm),
            _ => String::new(),
        };
        let display = if shown.is_empty() {
            Display::None
        } else {
            Display::Flex
        };
        if text.0 != shown {
            text.0 = shown;
        }
        if node.display != display {
            node.display = display;
        }
    }
    if let Ok(mut text) = notice.single_mut() {
        let now = time.elapsed_secs_f64();
        let shown = table
            .notices
            .back()
            .filter(|(t, _)| now - t < NOTICE_SECS)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        if text.0 != shown {
            text.0 = shown;
        }
    }
}
