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
