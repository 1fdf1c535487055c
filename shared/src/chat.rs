//! Chat: the messages both sides exchange, and the rules every line must pass (length,
//! rate, spam, word filter). The server applies the rules; the client uses the same
//! checks to tell the player before sending.

use std::collections::VecDeque;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// Longest chat line, in characters.
pub const MAX_CHARS: usize = 500;
/// Lines allowed per [`RATE_WINDOW_SECS`] per player.
pub const RATE_LIMIT: usize = 5;
pub const RATE_WINDOW_SECS: f64 = 10.0;
/// A run of this many identical characters is spam.
pub const SPAM_RUN: usize = 10;

/// Who a line goes to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChatChannel {
    /// Players within the proximity radius, outside silent zones.
    Proximity,
    /// Everyone in the same meeting zone.
    Zone,
    /// Everyone on the same map.
    Map,
    /// One player, by name.
    Whisper(String),
    /// The server itself (announcements).
    System,
    /// A conversation with an NPC, by agent id.
    Agent(String),
    /// Dice rolled at the table (`/roll 2d6+3`): the player sends the expression, the
    /// server rolls it and everyone in the room sees every die.
    Dice,
    /// The GM's narration (`/narrate text`): shown to the whole room as the story.
    Narration,
    /// Dice rolled for the GM's eyes only (`/gmroll 1d20`): the roller and the GM see
    /// them.
    GmRoll,
    /// A player's line for the GM's ears only (`/gm text`).
    ToGm,
}

impl ChatChannel {
    /// The session kind this channel's lines are stored under.
    pub fn kind(&self) -> &'static str {
        match self {
            ChatChannel::Proximity => "proximity",
            ChatChannel::Zone => "zone",
            ChatChannel::Map => "map",
            ChatChannel::Whisper(_) => "whisper",
            ChatChannel::System => "system",
            ChatChannel::Agent(_) => "agent",
            ChatChannel::Dice => "dice",
            ChatChannel::Narration => "narration",
            ChatChannel::GmRoll => "gmroll",
            ChatChannel::ToGm => "gm",
        }
    }
}

/// Client → server, reliable: a line the player typed.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSend {
    pub channel: ChatChannel,
    pub text: String,
}

/// One stored chat line, as delivered and as read back from history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// The message's id in storage.
    pub id: i64,
    /// The chat session it belongs to.
    pub session: i64,
    pub channel: ChatChannel,
    pub from: String,
    pub text: String,
    /// Unix time in milliseconds.
    pub at_ms: i64,
}

/// Server → client, reliable: lines for this player (their own included, once stored).
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatDelivery {
    pub lines: Vec<ChatLine>,
    /// True for history sent on (re)joining, false for live lines.
    pub history: bool,
}

/// Server → client, reliable: why a line was not sent.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRejected {
    pub text: String,
    pub reason: String,
}

/// Why a line is refused by the rules.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChatError {
    #[error("the message is empty")]
    Empty,
    #[error("the message is {0} characters long; at most {MAX_CHARS} are allowed")]
    TooLong(usize),
    #[error("the message looks like spam: {count} times '{ch}' in a row (at most {} allowed)", SPAM_RUN - 1)]
    Spam { ch: char, count: usize },
    #[error(
        "slow down: at most {RATE_LIMIT} messages every {RATE_WINDOW_SECS} seconds; try again in {0:.1} s"
    )]
    TooFast(f64),
}

/// Checks and cleans a line: trims it, replaces control characters with spaces, refuses
/// empty, overlong and spammy lines, and masks filtered words with `*`.
pub fn check_text(text: &str, filtered_words: &[String]) -> Result<String, ChatError> {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return Err(ChatError::Empty);
    }
    let count = cleaned.chars().count();
    if count > MAX_CHARS {
        return Err(ChatError::TooLong(count));
    }
    if let Some((ch, count)) = longest_run(cleaned)
        && count >= SPAM_RUN
    {
        return Err(ChatError::Spam { ch, count });
    }
    Ok(mask_words(cleaned, filtered_words))
}

fn longest_run(text: &str) -> Option<(char, usize)> {
    let mut best: Option<(char, usize)> = None;
    let mut current: Option<(char, usize)> = None;
    for c in text.chars() {
        current = match current {
            Some((p, n)) if p == c => Some((p, n + 1)),
            _ => Some((c, 1)),
        };
        if current.map(|c| c.1) > best.map(|b| b.1) {
            best = current;
        }
    }
    best
}

/// Replaces every whole-word, case-insensitive occurrence of a filtered word with `*`s.
pub fn mask_words(text: &str, words: &[String]) -> String {
    if words.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let lower = word.to_lowercase();
        if words.iter().any(|w| w.to_lowercase() == lower) {
            out.extend(std::iter::repeat_n('*', word.chars().count()));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Sliding-window rate limit: at most [`RATE_LIMIT`] lines per [`RATE_WINDOW_SECS`].
#[derive(Debug, Default, Clone)]
pub struct RateLimiter {
    sent: VecDeque<f64>,
}

impl RateLimiter {
    /// Counts a line sent at `now` (seconds), or says how long to wait.
    pub fn allow(&mut self, now: f64) -> Result<(), ChatError> {
        while self
            .sent
            .front()
            .is_some_and(|t| now - t >= RATE_WINDOW_SECS)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= RATE_LIMIT {
            let wait = RATE_WINDOW_SECS - (now - self.sent[0]);
            return Err(ChatError::TooFast(wait.max(0.1)));
        }
        self.sent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cleaned_and_checked() {
        assert_eq!(
            check_text("  hello\tthere \n", &[]),
            Ok("hello there".into())
        );
        assert_eq!(check_text("   ", &[]), Err(ChatError::Empty));
        assert_eq!(
            check_text(&"éa".repeat(250), &[]).map(|s| s.chars().count()),
            Ok(500)
        );
        assert_eq!(
            check_text(&"ab".repeat(251), &[]),
            Err(ChatError::TooLong(502))
        );
        assert!(
            check_text("nooooooooo", &[]).is_ok(),
            "nine in a row is fine"
        );
        assert_eq!(
            check_text("nooooooooooo!", &[]),
            Err(ChatError::Spam { ch: 'o', count: 11 })
        );
        let spam = check_text("aaaaaaaaaa", &[]).unwrap_err().to_string();
        assert_eq!(
            spam,
            "the message looks like spam: 10 times 'a' in a row (at most 9 allowed)"
        );
    }

    #[test]
    fn filtered_words_are_masked_whole_and_case_insensitively() {
        let words = vec!["darn".to_string(), "Heck".to_string()];
        assert_eq!(
            mask_words("Darn it, heck! darnation", &words),
            "**** it, ****! darnation"
        );
        assert_eq!(check_text("oh HECK", &words), Ok("oh ****".into()));
    }

    #[test]
    fn five_lines_per_ten_seconds() {
        let mut r = RateLimiter::default();
        for i in 0..5 {
            assert_eq!(r.allow(i as f64), Ok(()));
        }
        match r.allow(5.0) {
            Err(ChatError::TooFast(wait)) => assert!((wait - 5.0).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.allow(10.0), Ok(()), "the first line has left the window");
        assert!(r.allow(10.5).is_err());
        let text = ChatError::TooFast(2.0).to_string();
        assert!(
            text.contains("at most 5 messages every 10 seconds"),
            "{text}"
        );
    }
}
