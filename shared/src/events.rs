//! The room's event stream: what matters to a player (chat lines it could see, combat
//! events of its map, doors, presence changes), each numbered in its room. Every event
//! a player receives names the one it received before (`prev`), so a client knows
//! when it missed some; after coming back from a dropped connection it asks for what it
//! missed and gets it, with a summary ([`CatchUp`]).

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::chat::ChatLine;

/// One event of the room, as one player receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    /// Its number in the room, from 1.
    pub seq: u64,
    /// The number of the event this player received before it (0: none).
    pub prev: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// `chat`, `joined`, `left`, `dropped`, `back`, `death`, `pickup`, `phase`,
    /// `cleared`, `door` or `chest`.
    pub kind: String,
    /// In words: "Bram took an Iron key", "The Hall door opened".
    pub text: String,
    /// For `chat`: the line.
    pub line: Option<ChatLine>,
}

/// Server → client, reliable: events as they happen.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvents {
    pub events: Vec<RoomEvent>,
}

/// Client → server, reliable: after coming back to its avatar, the last event the
/// client received (`0` if none).
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpRequest {
    pub after: u64,
}

/// Server → client, reliable: what the player missed while its connection was down.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUp {
    /// How long the player was away, in milliseconds.
    pub away_ms: u64,
    /// "While you were away (14 s): Bram took the Iron key; the Hall door opened; 3
    /// chat lines".
    pub summary: String,
    /// The missed events in order (the chat lines among them), at most
    /// [`MAX_CATCH_UP`].
    pub events: Vec<RoomEvent>,
    /// False when more was missed than is kept or sent: the events are the latest,
    /// and what the player sees is the room as it is now.
    pub complete: bool,
}

/// Most events a catch-up carries.
pub const MAX_CATCH_UP: usize = 200;

/// The summary of a catch-up: the events in words (chat lines counted), shortened.
pub fn summarize(away_ms: u64, events: &[RoomEvent], complete: bool) -> String {
    let secs = away_ms.div_ceil(1000);
    let mut parts: Vec<String> = events
        .iter()
        .filter(|e| e.line.is_none())
        .map(|e| e.text.clone())
        .collect();
    const SHOWN: usize = 6;
    if parts.len() > SHOWN {
        let more = parts.len() - SHOWN;
        parts.truncate(SHOWN);
        parts.push(format!("{more} more"));
    }
    let lines = events.iter().filter(|e| e.line.is_some()).count();
    if lines > 0 {
        parts.push(format!(
            "{lines} chat line{}",
            if lines == 1 { "" } else { "s" }
        ));
    }
    let what = if parts.is_empty() {
        "nothing happened".to_string()
    } else {
        parts.join("; ")
    };
    let tail = if complete {
        ""
    } else {
        " (and more before that: the room is shown as it is now)"
    };
    format!("While you were away ({secs} s): {what}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, text: &str, chat: bool) -> RoomEvent {
        RoomEvent {
            seq,
            prev: seq - 1,
            at_ms: 0,
            kind: if chat { "chat" } else { "door" }.into(),
            text: text.into(),
            line: chat.then(|| ChatLine {
                id: seq as i64,
                session: 1,
                channel: crate::chat::ChatChannel::Map,
                from: "Bram".into(),
                text: text.into(),
                at_ms: 0,
            }),
        }
    }

    #[test]
    fn a_summary_says_what_happened_and_counts_chat_lines() {
        let events = [
            event(1, "Bram took the Iron key", false),
            event(2, "hi", true),
            event(3, "The Hall door opened", false),
            event(4, "back", true),
        ];
        assert_eq!(
            summarize(13_200, &events, true),
            "While you were away (14 s): Bram took the Iron key; The Hall door opened; 2 chat lines"
        );
        assert_eq!(
            summarize(1000, &[], true),
            "While you were away (1 s): nothing happened"
        );
        let many: Vec<RoomEvent> = (1..=9).map(|i| event(i, &format!("e{i}"), false)).collect();
        let s = summarize(5000, &many, false);
        assert!(s.contains("e6; 3 more"), "{s}");
        assert!(s.ends_with("as it is now)"), "{s}");
    }
}
