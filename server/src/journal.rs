//! The rooms' event streams ([`tavern_shared::events`]): presence changes, notable
//! combat events of each map (deaths, pickups, boss phases, rooms cleared, doors,
//! chests) and chat lines, each numbered in its room and kept (at most [`KEEP`] per
//! room, for [`KEEP_FOR`]) for whoever they concern, by identity. Players in the game
//! get them as they happen; one who comes back after its connection dropped asks for
//! what it missed and gets a catch-up. Each event names the one its player got before,
//! so nothing can be skipped unnoticed.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{DisplayName, capitalized};
use tavern_shared::chat::ChatLine;
use tavern_shared::events::{
    CatchUp, CatchUpRequest, MAX_CATCH_UP, RoomEvent, RoomEvents, summarize,
};

use crate::combat::log::EventLog;
use crate::combat::loot::PlayerKey;
use crate::net::to_client;
use crate::players::{Controls, InRoom};
use crate::rooms::RoomId;
use crate::world::{MapId, Maps, OnMap};

/// Events kept per room.
pub const KEEP: usize = 2000;
/// How long events are kept for a catch-up.
pub const KEEP_FOR: Duration = Duration::from_secs(600);

/// Who an event concerns.
#[derive(Debug, Clone)]
pub enum Audience {
    /// Everyone in the room.
    Room,
    /// Everyone on one of the room's maps.
    Map(MapId),
    /// These identities.
    Only(Vec<String>),
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    at: Instant,
    at_ms: i64,
    kind: String,
    text: String,
    line: Option<ChatLine>,
    /// Each identity it concerns, with the event that identity had before.
    members: Vec<(String, u64)>,
}

impl Entry {
    fn for_member(&self, identity: &str) -> Option<RoomEvent> {
        let (_, prev) = self.members.iter().find(|(m, _)| m == identity)?;
        Some(RoomEvent {
            seq: self.seq,
            prev: *prev,
            at_ms: self.at_ms,
            kind: self.kind.clone(),
            text: self.text.clone(),
            line: self.line.clone(),
        })
    }
}

#[derive(Debug, Default)]
struct RoomJournal {
    last: u64,
    entries: VecDeque<Entry>,
    /// The last event of each identity.
    last_of: HashMap<String, u64>,
}

/// Something that happened, waiting to be numbered (its audience is resolved then).
#[derive(Debug, Clone)]
pub struct Happening {
    pub room: RoomId,
    pub audience: Audience,
    pub kind: String,
    pub text: String,
    pub line: Option<ChatLine>,
}

/// Every room's events; systems push [`Happening`]s, which are numbered and sent once
/// per frame.
#[derive(Resource, Debug, Default)]
pub struct Journal {
    rooms: HashMap<RoomId, RoomJournal>,
    incoming: Vec<Happening>,
}

impl Journal {
    pub fn push(&mut self, happening: Happening) {
        self.incoming.push(happening);
    }

    /// What happened this frame, before it is numbered and sent.
    pub fn incoming(&self) -> &[Happening] {
        &self.incoming
    }

    /// Forgets a closed room.
    pub fn forget(&mut self, room: &RoomId) {
        self.rooms.remove(room);
    }

    /// Numbers `happening` for `members` (identities); its number.
    fn number(&mut self, happening: Happening, members: Vec<String>) -> (RoomId, u64) {
        let journal = self.rooms.entry(happening.room.clone()).or_default();
        journal.last += 1;
        let seq = journal.last;
        let members = members
            .into_iter()
            .map(|m| {
                let prev = journal.last_of.insert(m.clone(), seq).unwrap_or(0);
                (m, prev)
            })
            .collect();
        let now = Instant::now();
        journal.entries.push_back(Entry {
            seq,
            at: now,
            at_ms: crate::chat::now_ms(),
            kind: happening.kind,
            text: happening.text,
            line: happening.line,
            members,
        });
        while journal.entries.len() > KEEP
            || journal
                .entries
                .front()
                .is_some_and(|e| now.duration_since(e.at) > KEEP_FOR)
        {
            journal.entries.pop_front();
        }
        (happening.room, seq)
    }

    /// What `identity` missed in `room` after event `after`: the events (the latest
    /// [`MAX_CATCH_UP`]) and whether that is all of them.
    pub fn missed(&self, room: &RoomId, identity: &str, after: u64) -> (Vec<RoomEvent>, bool) {
        let Some(journal) = self.rooms.get(room) else {
            return (Vec::new(), after == 0);
        };
        let mut events: Vec<RoomEvent> = journal
            .entries
            .iter()
            .filter(|e| e.seq > after)
            .filter_map(|e| e.for_member(identity))
            .collect();
        // Complete when the first missed event follows on from `after` (or the journal
        // still reaches back to it).
        let mut complete = events.first().is_none_or(|e| e.prev == after);
        if events.len() > MAX_CATCH_UP {
            events.drain(..events.len() - MAX_CATCH_UP);
            complete = false;
        }
        (events, complete)
    }
}

pub fn plugin(app: &mut App) {
    // Before replicon sends, so events go out in the frame they were numbered in.
    app.init_resource::<Journal>().add_systems(
        PostUpdate,
        (take_combat_events, send_events, catch_up)
            .chain()
            .before(ServerSystems::Send),
    );
}

/// The combat log's notable events (not every hit) go into the rooms' streams, in words.
fn take_combat_events(
    mut log: ResMut<EventLog>,
    mut journal: ResMut<Journal>,
    maps: Res<Maps>,
    names: Query<(&PlayerKey, &DisplayName)>,
) {
    let notable = log.take_notable();
    if notable.is_empty() {
        return;
    }
    let name_of = |label: &str| -> String {
        if let Some((_, n)) = names.iter().find(|(k, _)| k.0 == label) {
            return n.0.clone();
        }
        // A monster: `slime#42`.
        let kind = label.split('#').next().unwrap_or(label);
        format!("a {}", kind.replace(['_', '-'], " "))
    };
    for (key, entry) in notable {
        let Some((id, place)) = maps.places().find(|(_, p)| *p.log == *key) else {
            continue;
        };
        let text = match entry.kind.as_str() {
            "death" => format!("{} died", capitalized(&name_of(&entry.target))),
            "pickup" => format!(
                "{} took {} {}",
                name_of(&entry.actor),
                entry.amount,
                entry.detail.replace(['_', '-'], " ")
            ),
            "phase" => format!(
                "{} entered its {} phase",
                capitalized(&name_of(&entry.actor)),
                entry.detail
            ),
            "cleared" => format!("The {} was cleared", entry.target),
            "door" => format!("The {} door opened", entry.target),
            "chest" => format!("The {} chest opened", entry.target),
            _ => continue,
        };
        journal.push(Happening {
            room: place.room.clone(),
            audience: Audience::Map(id),
            kind: entry.kind.clone(),
            text,
            line: None,
        });
    }
}

/// Numbers what happened this frame and sends it to those concerned who are connected
/// (those waiting to reconnect get it in their catch-up).
pub(crate) fn send_events(
    mut journal: ResMut<Journal>,
    maps: Res<Maps>,
    avatars: Query<(&PlayerKey, &OnMap)>,
    clients: Query<(Entity, &Controls)>,
    mut out: MessageWriter<ToClients<RoomEvents>>,
    mut urgent: ResMut<crate::net::rate::Urgent>,
) {
    if journal.incoming.is_empty() {
        return;
    }
    let incoming = std::mem::take(&mut journal.incoming);
    let mut numbered: Vec<(RoomId, u64)> = Vec::with_capacity(incoming.len());
    for happening in incoming {
        let members: Vec<String> = match &happening.audience {
            Audience::Only(ids) => ids.clone(),
            Audience::Room => avatars
                .iter()
                .filter(|(_, on)| maps.try_get(on.0).is_some_and(|p| p.room == happening.room))
                .map(|(k, _)| k.0.clone())
                .collect(),
            Audience::Map(id) => avatars
                .iter()
                .filter(|(_, on)| on.0 == *id)
                .map(|(k, _)| k.0.clone())
                .collect(),
        };
        numbered.push(journal.number(happening, members));
    }
    // Who is connected, by identity.
    let mut batches: HashMap<Entity, Vec<RoomEvent>> = HashMap::new();
    let connected: HashMap<&str, Entity> = clients
        .iter()
        .filter_map(|(client, controls)| {
            avatars
                .get(controls.0)
                .ok()
                .map(|(k, _)| (k.0.as_str(), client))
        })
        .collect();
    for (room, seq) in numbered {
        let Some(entry) = journal
            .rooms
            .get(&room)
            .and_then(|j| j.entries.iter().rev().find(|e| e.seq == seq))
        else {
            continue;
        };
        for (member, _) in &entry.members {
            if let (Some(client), Some(event)) =
                (connected.get(member.as_str()), entry.for_member(member))
            {
                batches.entry(*client).or_default().push(event);
            }
        }
    }
    for (client, events) in batches {
        out.write(to_client(client, RoomEvents { events }));
        urgent.0 = true;
    }
}

/// On a connection that came back: since when its avatar waited.
#[derive(Component, Debug, Clone, Copy)]
pub struct CameBack {
    pub away: Duration,
}

/// Answers a player who came back with what it missed.
fn catch_up(
    mut requests: MessageReader<FromClient<CatchUpRequest>>,
    journal: Res<Journal>,
    clients: Query<(&Controls, &InRoom, Option<&CameBack>)>,
    keys: Query<&PlayerKey>,
    mut out: MessageWriter<ToClients<CatchUp>>,
    mut urgent: ResMut<crate::net::rate::Urgent>,
) {
    for FromClient { client_id, message } in requests.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let Ok((controls, room, came_back)) = clients.get(client) else {
            continue;
        };
        let Ok(key) = keys.get(controls.0) else {
            continue;
        };
        let (events, complete) = journal.missed(&room.0, &key.0, message.after);
        let away_ms = came_back.map_or(0, |c| c.away.as_millis() as u64);
        urgent.0 = true;
        out.write(to_client(
            client,
            CatchUp {
                away_ms,
                summary: summarize(away_ms, &events, complete),
                events,
                complete,
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn happening(text: &str) -> Happening {
        Happening {
            room: RoomId::from("town"),
            audience: Audience::Room,
            kind: "door".into(),
            text: text.into(),
            line: None,
        }
    }

    #[test]
    fn each_member_gets_a_chain_and_a_catch_up_of_what_it_missed() {
        let mut j = Journal::default();
        let room = RoomId::from("town");
        let both = || vec!["ada".to_string(), "bo".to_string()];
        j.number(happening("one"), both());
        j.number(happening("only bo"), vec!["bo".into()]);
        j.number(happening("three"), both());
        let (ada, complete) = j.missed(&room, "ada", 0);
        assert!(complete);
        assert_eq!(
            ada.iter().map(|e| (e.seq, e.prev)).collect::<Vec<_>>(),
            [(1, 0), (3, 1)],
            "Ada's chain skips what was not hers"
        );
        let (bo, _) = j.missed(&room, "bo", 1);
        assert_eq!(bo.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(bo[0].prev, 1);
        assert!(j.missed(&room, "bo", 3).0.is_empty());
        assert!(j.missed(&RoomId::from("elsewhere"), "bo", 0).0.is_empty());
    }

    #[test]
    fn a_catch_up_past_what_is_kept_says_it_is_incomplete() {
        let mut j = Journal::default();
        let room = RoomId::from("town");
        for i in 0..(MAX_CATCH_UP + 10) {
            j.number(happening(&format!("e{i}")), vec!["ada".into()]);
        }
        let (events, complete) = j.missed(&room, "ada", 0);
        assert_eq!(events.len(), MAX_CATCH_UP);
        assert!(!complete);
        assert_eq!(events.last().unwrap().seq, (MAX_CATCH_UP + 10) as u64);
        let (events, complete) = j.missed(&room, "ada", 5);
        assert_eq!(events.len(), MAX_CATCH_UP, "capped");
        assert!(!complete);
        for _ in 0..KEEP {
            j.number(happening("more"), vec!["ada".into()]);
        }
        let (_, complete) = j.missed(&room, "ada", 1);
        assert!(!complete, "the journal no longer reaches back to event 1");
    }
}
