//! The dice log (L): the table's recent rolls in one panel (rolls for all, the GM's
//! overrides and initiative, death saves, and the rolls for the GM's eyes this player
//! may see), newest last, without the chat's other lines in between.

use bevy::prelude::*;
use tavern_shared::chat::{ChatChannel, ChatLine};

use crate::chat::{ChatLog, format_line};
use crate::render::chat::Typing;

/// Rolls shown.
const SHOWN: usize = 12;

#[derive(Component)]
struct DiceLog;

/// Whether the log is open.
#[derive(Resource, Debug, Default)]
pub struct DiceLogOpen(pub bool);

pub fn plugin(app: &mut App) {
    app.init_resource::<DiceLogOpen>()
        .add_systems(Startup, spawn)
        .add_systems(
            Update,
            (toggle, show).chain().after(crate::PlaySystems::Present),
        );
}

fn spawn(mut commands: Commands) {
    commands.spawn((
        DiceLog,
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(13.0),
            ..default()
        },
        TextColor(Color::srgb(0.85, 0.88, 1.0)),
        BackgroundColor(Color::srgba(0.05, 0.05, 0.12, 0.85)),
        Node {
            position_type: PositionType::Absolute,
            top: px(156),
            left: px(8),
            max_width: px(460),
            padding: UiRect::all(px(10)),
            display: Display::None,
            ..default()
        },
    ));
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, typing: Res<Typing>, mut open: ResMut<DiceLogOpen>) {
    if typing.pressed(&keys, KeyCode::KeyL) {
        open.0 = !open.0;
    }
}

/// The log's text: the newest rolls among `lines`, oldest first.
pub fn log_text(lines: &[ChatLine], me: &str) -> String {
    let rolls: Vec<String> = lines
        .iter()
        .filter(|l| matches!(l.channel, ChatChannel::Dice | ChatChannel::GmRoll))
        .map(|l| format_line(l, me))
        .collect();
    let start = rolls.len().saturating_sub(SHOWN);
    let mut text = String::from("Dice (L closes)\n");
    if rolls.is_empty() {
        text.push_str("No rolls yet: /roll 2d6+3");
    } else {
        text.push_str(&rolls[start..].join("\n"));
    }
    text
}

fn show(
    open: Res<DiceLogOpen>,
    log: Res<ChatLog>,
    me: Option<Res<crate::connection::LocalPlayer>>,
    mut panel: Query<(&mut Text, &mut Node), With<DiceLog>>,
) {
    if !open.is_changed() && !log.is_changed() {
        return;
    }
    let Ok((mut text, mut node)) = panel.single_mut() else {
        return;
    };
    crate::render::panel::show_text(&mut node, &mut text, open.0, || {
        log_text(&log.lines, me.as_ref().map_or("", |m| m.name.as_str()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, channel: ChatChannel, from: &str, text: &str) -> ChatLine {
        ChatLine {
            id,
            session: 1,
            channel,
            from: from.into(),
            text: text.into(),
            at_ms: id,
        }
    }

    #[test]
    fn the_log_keeps_the_newest_rolls_only() {
        assert_eq!(
            log_text(&[], "Ada"),
            "Dice (L closes)\nNo rolls yet: /roll 2d6+3"
        );
        let mut lines = vec![
            line(1, ChatChannel::Map, "Bo", "hello"),
            line(2, ChatChannel::GmRoll, "Ada", "rolls 1d20: [7] = 7"),
        ];
        for i in 3..20 {
            lines.push(line(
                i,
                ChatChannel::Dice,
                "Bo",
                &format!("rolls 1d6: [{}] = {}", i % 6 + 1, i % 6 + 1),
            ));
        }
        let text = log_text(&lines, "Ada");
        assert_eq!(text.lines().count(), 1 + SHOWN);
        assert!(
            !text.contains("hello") && !text.contains("[GM roll]"),
            "{text}"
        );
        assert!(text.ends_with("[Dice] Bo rolls 1d6: [2] = 2"), "{text}");
        assert!(log_text(&lines[..3], "Ada").contains("[GM roll] Ada rolls 1d20: [7] = 7"));
    }
}
