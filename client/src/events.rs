//! The room's event stream on the client ([`tavern_shared::events`]): chat lines and
//! what happened in the room arrive numbered, each naming the one this player got
//! before, so a gap shows. After coming back to its avatar the client asks for what it
//! missed and takes the catch-up first, then what arrived meanwhile.

use bevy::prelude::*;
use tavern_shared::events::{CatchUp, CatchUpRequest, RoomEvent, RoomEvents};
use tavern_shared::protocol::EnterMap;

use crate::PlaySystems;
use crate::chat::ChatLog;

/// What this client got of its room's events.
#[derive(Resource, Debug, Default, Clone)]
pub struct EventStream {
    /// The last event received (0: none); kept across a reconnection.
    pub last: u64,
    /// Events received, live and caught up.
    pub received: u64,
    /// Times an event did not follow on from the one before (something was missed),
    /// and catch-ups that could not bring everything back.
    pub missed: u64,
    /// Catch-ups received.
    pub catch_ups: u32,
    /// The last catch-up, shown until dismissed.
    pub catch_up: Option<CatchUp>,
    /// The recent events in words, oldest first (for showing).
    pub recent: Vec<RoomEvent>,
    /// Chat lines (their ids) that came in a catch-up rather than as they were said.
    pub caught_up_lines: std::collections::HashSet<i64>,
    /// The next event starts the chain (a new avatar: what came before is not ours).
    fresh: bool,
    /// Asked for a catch-up: live events wait until it comes.
    waiting: Option<Vec<RoomEvent>>,
}

/// Events kept for showing.
const RECENT: usize = 50;

impl EventStream {
    /// Takes one event: checks it follows on, keeps its chat line.
    fn take(&mut self, event: RoomEvent, chat: &mut ChatLog) {
        if event.seq <= self.last && !self.fresh {
            return; // already had it (in a catch-up and live)
        }
        if !self.fresh && event.prev != self.last {
            self.missed += 1;
        }
        self.fresh = false;
        self.last = event.seq;
        self.received += 1;
        if let Some(line) = &event.line {
            chat.take_live(line.clone());
        }
        self.recent.push(event);
        if self.recent.len() > RECENT {
            self.recent.remove(0);
        }
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<EventStream>().add_systems(
        PreUpdate,
        (ask_after_coming_back, receive)
            .chain()
            .in_set(PlaySystems::Receive),
    );
}

/// A new connection holds the room's events until its first map says whether the
/// avatar is new (a new chain starts) or the old one (what was missed is asked for,
/// and comes before what is held).
fn ask_after_coming_back(
    mut entered: MessageReader<EnterMap>,
    local: Option<Res<crate::connection::LocalPlayer>>,
    mut connection: Local<Option<u64>>,
    mut first_map: Local<bool>,
    mut stream: ResMut<EventStream>,
    mut chat: ResMut<ChatLog>,
    mut ask: MessageWriter<CatchUpRequest>,
) {
    let id = local.map(|l| l.client_id);
    if id.is_some() && id != *connection {
        *connection = id;
        *first_map = true;
        stream.waiting = Some(Vec::new());
    }
    for enter in entered.read() {
        if !std::mem::take(&mut *first_map) {
            continue;
        }
        if enter.resumed {
            ask.write(CatchUpRequest { after: stream.last });
        } else {
            // A new avatar: its events start a new chain.
            stream.fresh = true;
            for event in stream.waiting.take().unwrap_or_default() {
                stream.take(event, &mut chat);
            }
        }
    }
}

fn receive(
    mut live: MessageReader<RoomEvents>,
    mut catch_ups: MessageReader<CatchUp>,
    mut stream: ResMut<EventStream>,
    mut chat: ResMut<ChatLog>,
) {
    for batch in live.read() {
        match &mut stream.waiting {
            Some(held) => held.extend(batch.events.iter().cloned()),
            None => {
                for event in &batch.events {
                    stream.take(event.clone(), &mut chat);
                }
            }
        }
    }
    for catch_up in catch_ups.read() {
        stream.catch_ups += 1;
        if !catch_up.complete {
            stream.missed += 1;
            // What came before the kept events is gone: the chain starts over.
            stream.fresh = true;
        }
        for event in &catch_up.events {
            if let Some(line) = &event.line
                && stream.caught_up_lines.len() < 100_000
            {
                stream.caught_up_lines.insert(line.id);
            }
            stream.take(event.clone(), &mut chat);
        }
        for event in stream.waiting.take().unwrap_or_default() {
            stream.take(event, &mut chat);
        }
        stream.catch_up = Some(catch_up.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, prev: u64) -> RoomEvent {
        RoomEvent {
            seq,
            prev,
            at_ms: 0,
            kind: "door".into(),
            text: format!("e{seq}"),
            line: None,
        }
    }

    #[test]
    fn a_gap_in_the_chain_is_counted_and_repeats_are_not() {
        let mut s = EventStream {
            fresh: true,
            ..Default::default()
        };
        let mut chat = ChatLog::default();
        s.take(event(7, 3), &mut chat); // the first of a new avatar: starts the chain
        s.take(event(9, 7), &mut chat);
        s.take(event(9, 7), &mut chat); // again (caught up and live)
        assert_eq!((s.missed, s.received, s.last), (0, 2, 9));
        s.take(event(12, 11), &mut chat);
        assert_eq!(s.missed, 1, "11 never came");
    }
}
