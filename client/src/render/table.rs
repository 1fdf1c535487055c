//! The table at the top of the screen: where a campaign's session stands ("Waiting for
//! the GM to start", "Paused by the GM") with the GM's name, the scene ("Old mill,
//! light rain, dusk"), the GM's newest narration in a story panel, and for a few
//! seconds the newest thing the server said about the table.

use bevy::prelude::*;

use crate::table::Table;

/// Seconds a notice stays.
const NOTICE_SECS: f64 = 5.0;
/// Seconds a narration stays in the story panel.
const STORY_SECS: f64 = 30.0;

#[derive(Component)]
struct Banner;

#[derive(Component)]
struct NoticeLine;

#[derive(Component)]
struct SceneLine;

#[derive(Component)]
struct Story;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_banner)
        .add_systems(Update, show.after(crate::PlaySystems::Present));
}

fn spawn_banner(mut commands: Commands) {
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            // Below the HUD's box and the turn bar.
            top: px(156),
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
                SceneLine,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(15.0),
                    ..default()
                },
                TextColor(Color::srgb(0.85, 0.9, 1.0)),
            ));
            column.spawn((
                Story,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(18.0),
                    ..default()
                },
                TextColor(Color::srgb(0.2, 0.12, 0.05)),
                BackgroundColor(Color::srgba(0.96, 0.9, 0.75, 0.92)),
                Node {
                    max_width: px(560),
                    padding: UiRect::axes(px(16), px(10)),
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

/// Sets a text, shown only when it has some.
fn set(text: &mut Text, node: Option<&mut Node>, shown: String) {
    let display = if shown.is_empty() {
        Display::None
    } else {
        Display::Flex
    };
    if text.0 != shown {
        text.0 = shown;
    }
    if let Some(node) = node
        && node.display != display
    {
        node.display = display;
    }
}

fn show(
    time: Res<Time>,
    table: Res<Table>,
    log: Res<crate::chat::ChatLog>,
    mut banner: Query<(&mut Text, &mut Node), (With<Banner>, Without<Story>)>,
    mut story: Query<(&mut Text, &mut Node), (With<Story>, Without<Banner>)>,
    mut lines: Query<
        (&mut Text, Has<SceneLine>),
        (
            Or<(With<NoticeLine>, With<SceneLine>)>,
            Without<Banner>,
            Without<Story>,
        ),
    >,
    mut story_since: Local<Option<(i64, f64)>>,
) {
    let now = time.elapsed_secs_f64();
    if let Ok((mut text, mut node)) = story.single_mut() {
        let newest = log
            .lines
            .iter()
            .rev()
            .find(|l| l.channel == tavern_shared::chat::ChatChannel::Narration);
        // Shown from when it came (history included), for a while.
        let shown = match newest {
            Some(line) => {
                let since = match *story_since {
                    Some((id, at)) if id == line.id => at,
                    _ => {
                        *story_since = Some((line.id, now));
                        now
                    }
                };
                if now - since < STORY_SECS {
                    line.text.clone()
                } else {
                    String::new()
                }
            }
            None => String::new(),
        };
        set(&mut text, Some(&mut node), shown);
    }
    for (mut text, scene) in &mut lines {
        let shown = if scene {
            table
                .state
                .as_ref()
                .map(|s| s.scene.line())
                .unwrap_or_default()
        } else {
            table
                .notices
                .back()
                .filter(|(t, _)| now - t < NOTICE_SECS)
                .map(|(_, s)| s.clone())
                .unwrap_or_default()
        };
        set(&mut text, None, shown);
    }
    if let Ok((mut text, mut node)) = banner.single_mut() {
        let shown = match (&table.state, table.banner()) {
            (Some(state), Some(banner)) => format!("{banner} - GM {}", state.gm),
            _ => String::new(),
        };
        set(&mut text, Some(&mut node), shown);
    }
}
