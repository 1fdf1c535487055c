//! The NPC conversation window, top right: who the player is talking to, the exchange
//! so far (earlier visits included, from history), and what went wrong if the NPC could
//! not answer. Typing goes here while it is open (see the chat panel); Esc says goodbye.

use bevy::prelude::*;
use tavern_shared::chat::ChatChannel;

use crate::agents::Conversation;
use crate::chat::ChatLog;

/// Lines of the exchange shown.
const SHOWN: usize = 12;

#[derive(Component)]
struct Window;

#[derive(Component)]
struct Title;

#[derive(Component)]
struct Exchange;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_window)
        .add_systems(Update, (show_window, fit_window));
}

/// Fits the window to the screen ([`crate::render::layout::Layout`]).
fn fit_window(
    layout: Res<crate::render::layout::Layout>,
    mut window: Query<&mut Node, With<Window>>,
) {
    if layout.is_changed() {
        for mut node in &mut window {
            node.width = px(layout.window_width);
        }
    }
}

fn spawn_window(mut commands: Commands) {
    commands
        .spawn((
            Window,
            Node {
                position_type: PositionType::Absolute,
                top: px(8),
                right: px(8),
                width: px(400),
                padding: UiRect::all(px(8)),
                flex_direction: FlexDirection::Column,
                row_gap: px(6),
                ..default()
            },
            BackgroundColor(Color::srgba(0.12, 0.08, 0.04, 0.85)),
            Visibility::Hidden,
        ))
        .with_children(|w| {
            w.spawn((
                Title,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(17.0),
                    ..default()
                },
                TextColor(Color::srgb(1.0, 0.8, 0.5)),
            ));
            w.spawn((
                Exchange,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(14.0),
                    ..default()
                },
            ));
            w.spawn((
                Text::new("Type and press Enter to talk    Esc: stop typing, then goodbye"),
                TextFont {
                    font_size: FontSize::Px(12.0),
                    ..default()
                },
                TextColor(Color::srgb(0.75, 0.75, 0.75)),
            ));
        });
}

/// The exchange with `agent` as the window shows it, oldest first, and at the end what
/// the NPC could not answer, if that came after its last line.
pub fn exchange(log: &ChatLog, talk: &Conversation, agent: &str) -> String {
    let channel = ChatChannel::Agent(agent.to_string());
    let lines: Vec<_> = log.lines.iter().filter(|l| l.channel == channel).collect();
    let last_at = lines.last().map_or(i64::MIN, |l| l.at_ms);
    let mut out: Vec<String> = lines[lines.len().saturating_sub(SHOWN)..]
        .iter()
        .map(|l| format!("{}: {}", l.from, l.text))
        .collect();
    if let Some((n, _)) = talk
        .notices
        .iter()
        .rev()
        .find(|(n, at)| n.agent == agent && *at >= last_at)
    {
        out.push(format!("(!) {}", n.text));
    }
    out.join("\n")
}

fn show_window(
    log: Res<ChatLog>,
    talk: Res<Conversation>,
    mut window: Query<&mut Visibility, With<Window>>,
    mut title: Query<&mut Text, (With<Title>, Without<Exchange>)>,
    mut body: Query<&mut Text, (With<Exchange>, Without<Title>)>,
) {
    if !log.is_changed() && !talk.is_changed() {
        return;
    }
    let (Ok(mut visible), Ok(mut title), Ok(mut body)) =
        (window.single_mut(), title.single_mut(), body.single_mut())
    else {
        return;
    };
    let Some(open) = &talk.open else {
        *visible = Visibility::Hidden;
        return;
    };
    *visible = Visibility::Inherited;
    title.0 = open.name.clone();
    body.0 = exchange(&log, &talk, &open.agent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::agent::AgentNotice;
    use tavern_shared::chat::ChatLine;

    #[test]
    fn the_window_shows_this_npcs_lines_and_its_last_failure() {
        let line = |id: i64, channel: ChatChannel, from: &str, text: &str| ChatLine {
            id,
            session: 1,
            channel,
            from: from.into(),
            text: text.into(),
            at_ms: id,
        };
        let inn = ChatChannel::Agent("innkeeper".into());
        let log = ChatLog {
            lines: vec![
                line(1, inn.clone(), "Marta", "Welcome!"),
                line(2, ChatChannel::Map, "Bo", "hi all"),
                line(3, inn.clone(), "Ada", "a room?"),
            ],
            ..Default::default()
        };
        let mut talk = Conversation::default();
        assert_eq!(
            exchange(&log, &talk, "innkeeper"),
            "Marta: Welcome!\nAda: a room?"
        );
        let failed = AgentNotice {
            agent: "innkeeper".into(),
            text: "Marta could not answer: timeout".into(),
        };
        talk.notices.push((failed.clone(), 2));
        assert_eq!(
            exchange(&log, &talk, "innkeeper"),
            "Marta: Welcome!\nAda: a room?",
            "older than her last line: no longer shown"
        );
        talk.notices.push((failed, 4));
        assert!(
            exchange(&log, &talk, "innkeeper").ends_with("\n(!) Marta could not answer: timeout")
        );
        assert_eq!(exchange(&log, &talk, "guard"), "");
    }
}
