//! The client's side of chat: lines the server delivered (live and history), why a line
//! was refused, and sending. The server decides who hears what; this only keeps the log.

use bevy::prelude::*;
use tavern_shared::chat::{ChatChannel, ChatDelivery, ChatLine, ChatRejected, ChatSend};

use crate::PlaySystems;

/// Longest log kept in memory; older lines are in the server's history.
pub const MAX_LOG: usize = 500;

/// Everything chat-related this client has seen.
#[derive(Resource, Debug, Default, Clone)]
pub struct ChatLog {
    /// Delivered lines, oldest first (history first, then live), without duplicates.
    pub lines: Vec<ChatLine>,
    pub rejections: Vec<ChatRejected>,
    /// Lines this client asked to send.
    pub sent: u64,
    /// Live lines received (history not counted).
    pub received: u64,
}

impl ChatLog {
    /// A line as it was said (not history).
    pub(crate) fn take_live(&mut self, line: ChatLine) {
        self.received += 1;
        self.add(line);
    }

    fn add(&mut self, line: ChatLine) {
        if self.lines.iter().any(|l| l.id == line.id) {
            return;
        }
        let at = self
            .lines
            .partition_point(|l| (l.at_ms, l.id) <= (line.at_ms, line.id));
        self.lines.insert(at, line);
        if self.lines.len() > MAX_LOG {
            let extra = self.lines.len() - MAX_LOG;
            self.lines.drain(..extra);
        }
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<ChatLog>()
        .add_systems(PreUpdate, receive_chat.in_set(PlaySystems::Receive));
}

fn receive_chat(
    mut deliveries: MessageReader<ChatDelivery>,
    mut rejected: MessageReader<ChatRejected>,
    mut log: ResMut<ChatLog>,
) {
    for d in deliveries.read() {
        if !d.history {
            log.received += d.lines.len() as u64;
        }
        for line in &d.lines {
            log.add(line.clone());
        }
    }
    for r in rejected.read() {
        log.rejections.push(r.clone());
    }
}

/// What a line typed into the chat box asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// Send `text` on a channel.
    Send(ChatChannel, String),
    /// Make a channel the current one (a command without text).
    Switch(ChatChannel),
    /// A GM command on the session (`/start`, `/pause`, `/resume`, `/end`); the server
    /// refuses it unless this player is the GM.
    Gm(tavern_shared::gm::GmCommand),
    /// A GM action naming players (`/kick NAME reason`, `/teleport all start`), sent once
    /// the names are found in the room's roster.
    GmAct(crate::table::GmRequest),
    /// Share a file from disk with the campaign (`/upload PATH`, the GM's).
    Upload(String),
    /// Voice settings (`/voice ...`).
    Voice(crate::voice::VoiceCommand),
    /// Show the list of commands.
    Help,
    /// Nothing to send, and why.
    Invalid(String),
}

/// The commands the chat box understands.
pub const HELP: &str = "/near, /zone, /map [text]: talk there (Tab cycles)    /w NAME text: whisper (\"quote\" names with spaces)    /roll 2d6+3, d20 adv, 4d6kh3: roll dice for the room (/gmroll: for the GM's eyes only)    /gm text: to the GM only    /voice on|off (hold V to talk), deafen|undeafen, mute|unmute NAME, volume NAME 0-200    GM: /start, /pause, /resume, /end the session, /narrate text, /scene location=... weather=... time=... mood=..., /kick NAME reason, /ban NAME reason, /mute NAME, /unmute NAME, /teleport NAME|all X Y|ENTRY, /handover NAME, /override TOTAL reason, /encounter start [RADIUS]|next|back|add NAME|remove NAME|end|timer SECS, /upload PATH, /show NAME, /hide, /play NAME, /aigm on|off    In an encounter: /endturn    /help";

/// Reads a line typed into the chat box: plain text goes to `current`; `/near`, `/zone`,
/// `/map` (with or without text), `/w NAME text` (`/whisper`, names with spaces in
/// quotes) and `/help` are commands. Text is checked against the chat rules here too,
/// so the player hears about an overlong or spammy line at once.
pub fn parse_typed(input: &str, current: &ChatChannel) -> Typed {
    let input = input.trim();
    let (channel, text) = match input.strip_prefix('/') {
        None => (current.clone(), input.to_string()),
        Some(command) => {
            let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
            let rest = rest.trim();
            let (channel, text) = match word.to_lowercase().as_str() {
                "near" | "n" => (ChatChannel::Proximity, rest),
                "zone" | "z" => (ChatChannel::Zone, rest),
                "map" | "m" => (ChatChannel::Map, rest),
                "help" | "h" | "?" => return Typed::Help,
                word if tavern_shared::gm::GmCommand::from_word(word).is_some() => {
                    if !rest.is_empty() {
                        return Typed::Invalid(format!("/{word} takes nothing after it"));
                    }
                    let command = tavern_shared::gm::GmCommand::from_word(word);
                    return command.map_or(Typed::Help, Typed::Gm);
                }
                "roll" | "r" | "gmroll" => {
                    if rest.is_empty() {
                        return Typed::Invalid(format!(
                            "roll what? /{word} 2d6+3, /{word} d20 adv, /{word} 4d6kh3"
                        ));
                    }
                    if let Err(e) = tavern_shared::dice::parse(rest) {
                        return Typed::Invalid(e.to_string());
                    }
                    let channel = if word == "gmroll" {
                        ChatChannel::GmRoll
                    } else {
                        ChatChannel::Dice
                    };
                    (channel, rest)
                }
                "w" | "whisper" | "msg" => {
                    let (name, text) = match split_name(rest) {
                        Ok(split) => split,
                        Err(e) => return Typed::Invalid(e),
                    };
                    if name.is_empty() {
                        return Typed::Invalid(format!("whisper to whom? /{word} NAME text"));
                    }
                    (ChatChannel::Whisper(name.to_string()), text)
                }
                "upload" if rest.is_empty() => {
                    return Typed::Invalid(
                        "upload what? /upload PATH (an image or a sound)".into(),
                    );
                }
                "upload" => return Typed::Upload(rest.to_string()),
                "voice" => {
                    return crate::voice::VoiceCommand::parse(rest)
                        .map_or_else(Typed::Invalid, Typed::Voice);
                }
                "narrate" | "story" => (ChatChannel::Narration, rest),
                "gm" => (ChatChannel::ToGm, rest),
                "kick" | "ban" | "mute" | "unmute" | "teleport" | "tp" | "scene" | "handover"
                | "encounter" | "enc" | "endturn" | "done" | "override" | "show" | "hide"
                | "play" | "aigm" => {
                    return match crate::table::GmRequest::parse(word, rest) {
                        Ok(request) => Typed::GmAct(request),
                        Err(e) => Typed::Invalid(e),
                    };
                }
                _ => return Typed::Invalid(format!("unknown command /{word}; {HELP}")),
            };
            if text.is_empty() {
                return Typed::Switch(channel);
            }
            (channel, text.to_string())
        }
    };
    match tavern_shared::chat::check_text(&text, &[]) {
        Ok(_) => Typed::Send(channel, text),
        Err(e) => Typed::Invalid(e.to_string()),
    }
}

/// A name at the start of `rest` (in quotes when it has spaces) and what follows it.
pub fn split_name(rest: &str) -> Result<(&str, &str), String> {
    Ok(match rest.strip_prefix('"') {
        Some(quoted) => match quoted.split_once('"') {
            Some((name, text)) => (name.trim(), text.trim()),
            None => return Err("the name has no closing quote".into()),
        },
        None => rest
            .split_once(' ')
            .map_or((rest, ""), |(n, t)| (n, t.trim())),
    })
}

/// How a channel is named in the chat box, from the point of view of `me`.
pub fn channel_label(channel: &ChatChannel) -> String {
    match channel {
        ChatChannel::Proximity => "Near".into(),
        ChatChannel::Zone => "Zone".into(),
        ChatChannel::Map => "Map".into(),
        ChatChannel::Whisper(to) => format!("To {to}"),
        ChatChannel::System => "System".into(),
        ChatChannel::Agent(agent) => format!("NPC {agent}"),
        ChatChannel::Dice => "Dice".into(),
        ChatChannel::Narration => "Story".into(),
        ChatChannel::GmRoll => "GM roll".into(),
        ChatChannel::ToGm => "To the GM".into(),
    }
}

/// One line as the chat box shows it: `[Map] Ada: hi`; whispers show who they are from
/// or to, depending on whether `me` sent them.
pub fn format_line(line: &ChatLine, me: &str) -> String {
    match &line.channel {
        ChatChannel::Whisper(to) if line.from == me => format!("[to {to}] {}", line.text),
        ChatChannel::Whisper(_) => format!("[from {}] {}", line.from, line.text),
        ChatChannel::System => format!("* {}", line.text),
        ChatChannel::Dice => format!("[Dice] {} {}", line.from, line.text),
        ChatChannel::Narration => format!("[Story] {}", line.text),
        ChatChannel::GmRoll => format!("[GM roll] {} {}", line.from, line.text),
        ChatChannel::ToGm if line.from == me => format!("[to the GM] {}", line.text),
        ChatChannel::ToGm => format!("[to the GM] {}: {}", line.from, line.text),
        other => format!("[{}] {}: {}", channel_label(other), line.from, line.text),
    }
}

/// Queues a line for the server (the caller's world must be a connected client's).
pub fn say(world: &mut World, channel: ChatChannel, text: impl Into<String>) {
    world.resource_mut::<ChatLog>().sent += 1;
    world.write_message(ChatSend {
        channel,
        text: text.into(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, at_ms: i64) -> ChatLine {
        ChatLine {
            id,
            session: 1,
            channel: ChatChannel::Map,
            from: "Ada".into(),
            text: format!("line {id}"),
            at_ms,
        }
    }

    #[test]
    fn typed_lines_and_commands_are_understood() {
        let near = ChatChannel::Proximity;
        assert_eq!(
            parse_typed(" hi ", &near),
            Typed::Send(near.clone(), "hi".into())
        );
        assert_eq!(
            parse_typed("/map hello all", &near),
            Typed::Send(ChatChannel::Map, "hello all".into())
        );
        assert_eq!(
            parse_typed("/zone", &near),
            Typed::Switch(ChatChannel::Zone)
        );
        assert_eq!(
            parse_typed("/w Bo psst", &near),
            Typed::Send(ChatChannel::Whisper("Bo".into()), "psst".into())
        );
        assert_eq!(
            parse_typed("/whisper \"Zoë the Bard\" nice song", &near),
            Typed::Send(
                ChatChannel::Whisper("Zoë the Bard".into()),
                "nice song".into()
            )
        );
        assert_eq!(
            parse_typed("/w Bo", &near),
            Typed::Switch(ChatChannel::Whisper("Bo".into()))
        );
        assert_eq!(parse_typed("/help", &near), Typed::Help);
        assert_eq!(
            parse_typed("/pause", &near),
            Typed::Gm(tavern_shared::gm::GmCommand::Pause)
        );
        assert_eq!(
            parse_typed("/END", &near),
            Typed::Gm(tavern_shared::gm::GmCommand::End)
        );
        assert_eq!(
            parse_typed("/start now", &near),
            Typed::Invalid("/start takes nothing after it".into())
        );
        let Typed::Invalid(e) = parse_typed("/dance", &near) else {
            panic!("unknown commands are refused");
        };
        assert!(e.contains("unknown command /dance"), "{e}");
        assert!(matches!(parse_typed("/w", &near), Typed::Invalid(e) if e.contains("whom")));
        assert!(
            matches!(parse_typed("/w \"Bo hi", &near), Typed::Invalid(e) if e.contains("quote"))
        );
        let Typed::Invalid(e) = parse_typed("aaaaaaaaaaaa", &near) else {
            panic!("spam is refused before sending");
        };
        assert!(e.contains("spam"), "{e}");
        assert!(matches!(parse_typed("   ", &near), Typed::Invalid(_)));
        // Dice: the expression goes to the server, checked here first.
        assert_eq!(
            parse_typed("/roll 2d6+3", &near),
            Typed::Send(ChatChannel::Dice, "2d6+3".into())
        );
        assert_eq!(
            parse_typed("/r d20 adv", &near),
            Typed::Send(ChatChannel::Dice, "d20 adv".into())
        );
        assert!(
            matches!(parse_typed("/roll", &near), Typed::Invalid(e) if e.contains("roll what"))
        );
        assert!(
            matches!(parse_typed("/roll 2d1", &near), Typed::Invalid(e) if e.contains("2 to 1000 sides"))
        );
    }

    #[test]
    fn lines_are_shown_with_their_channel_and_whisper_direction() {
        let mut l = line(1, 0);
        assert_eq!(format_line(&l, "Bo"), "[Map] Ada: line 1");
        l.channel = ChatChannel::Whisper("Bo".into());
        assert_eq!(format_line(&l, "Bo"), "[from Ada] line 1");
        assert_eq!(format_line(&l, "Ada"), "[to Bo] line 1");
    }

    #[test]
    fn the_log_is_ordered_and_free_of_repeats() {
        let mut log = ChatLog::default();
        log.add(line(3, 300));
        log.add(line(1, 100));
        log.add(line(2, 200));
        log.add(line(3, 300));
        let ids: Vec<i64> = log.lines.iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
    }
}
