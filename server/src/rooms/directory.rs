//! The room directory, shared by the HTTP API (which lists, creates and joins rooms)
//! and the game (which puts arriving players in their room and closes idle rooms).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bevy::prelude::Resource;
use tavern_shared::api::{RoomInfo, RoomStatus};
use tavern_shared::gm::{CampaignInfo, CampaignStatus, Scene};

use super::RoomId;

/// One room as the directory keeps it.
#[derive(Debug, Clone)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    /// The map file players arrive on, by name.
    pub map: String,
    pub max_players: u32,
    /// Left out of the list; joined by id only.
    pub private: bool,
    /// The password's argon2id hash, when the room has one.
    pub password: Option<String>,
    /// Who created it (an identity); `None` for the server's own rooms.
    pub owner: Option<String>,
    /// Kept while empty (the server's configured rooms).
    pub persistent: bool,
    /// Identities the owner sent away; they cannot join again.
    pub banned: HashSet<String>,
    /// A campaign room: its GM and session. Kept until deleted, not closed when empty;
    /// `max_players` counts the players besides the GM.
    pub campaign: Option<Campaign>,
    /// Players in the room now.
    pub players: u32,
    /// The GM is among them.
    gm_here: bool,
    /// Connect tokens handed out and not used yet (client id: when the token expires,
    /// and whether it is the GM's), counted against `max_players` so that a burst of
    /// joins cannot overfill the room.
    pending: HashMap<u64, (Instant, bool)>,
    /// Since when nobody is in it (the creation time for a new room).
    empty_since: Option<Instant>,
}

impl Room {
    /// A new empty room.
    pub fn new(id: RoomId, name: String, map: String, max_players: u32) -> Self {
        Room {
            id,
            name,
            map,
            max_players,
            private: false,
            password: None,
            owner: None,
            persistent: false,
            banned: HashSet::new(),
            campaign: None,
            players: 0,
            gm_here: false,
            pending: HashMap::new(),
            empty_since: Some(Instant::now()),
        }
    }

    /// Places taken by players (the GM's not counted): in the room or on the way.
    fn taken(&self, now: Instant) -> u32 {
        let on_the_way = self
            .pending
            .values()
            .filter(|(t, gm)| *t > now && !gm)
            .count() as u32;
        self.players - u32::from(self.gm_here).min(self.players) + on_the_way
    }

    /// Whether `identity` is this campaign's GM.
    pub fn is_gm(&self, identity: &str) -> bool {
        self.campaign
            .as_ref()
            .is_some_and(|c| c.gm_identity() == identity)
    }

    /// What the API shows of it.
    pub fn info(&self) -> RoomInfo {
        let now = Instant::now();
        RoomInfo {
            id: self.id.0.to_string(),
            name: self.name.clone(),
            map: self.map.clone(),
            players: self.players,
            max_players: self.max_players,
            has_password: self.password.is_some(),
            private: self.private,
            persistent: self.persistent,
            status: if self.taken(now) >= self.max_players {
                RoomStatus::Full
            } else {
                RoomStatus::Open
            },
            campaign: self.campaign.as_ref().map(|c| CampaignInfo {
                gm_account: c.gm_account,
                gm: c.gm_name.clone(),
                status: c.status,
            }),
        }
    }
}

/// A campaign room's GM and session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub gm_account: i64,
    pub gm_name: String,
    pub status: CampaignStatus,
    pub scene: Scene,
    /// An encounter turn's time limit, in seconds.
    pub turn_secs: u32,
}

impl Campaign {
    /// The GM's identity (`account:ID`).
    pub fn gm_identity(&self) -> String {
        format!("account:{}", self.gm_account)
    }
}

/// Why a player cannot have a place in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinRefusal {
    NoSuchRoom,
    Full { max_players: u32 },
    Banned,
}

impl std::fmt::Display for JoinRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinRefusal::NoSuchRoom => write!(f, "there is no such room (it may have closed)"),
            JoinRefusal::Full { max_players } => {
                write!(f, "the room is full ({max_players} players)")
            }
            JoinRefusal::Banned => write!(f, "the room's owner has banned you from it"),
        }
    }
}

/// Why a room could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRefusal {
    /// The server holds as many rooms as it may.
    ServerFull(usize),
    /// This player owns as many rooms as one player may.
    TooMany(usize),
}

impl std::fmt::Display for CreateRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreateRefusal::ServerFull(n) => write!(
                f,
                "the server already has {n} rooms (--max-rooms); join one or try later"
            ),
            CreateRefusal::TooMany(n) => write!(
                f,
                "you already own {n} open rooms (--rooms-per-player); use one of them or wait until one closes"
            ),
        }
    }
}

/// Every room, shared between the game and the HTTP API.
#[derive(Resource, Clone, Debug, Default)]
pub struct RoomDirectory(Arc<RwLock<Rooms>>);

#[derive(Debug, Default)]
struct Rooms {
    rooms: BTreeMap<RoomId, Room>,
    /// Where players go when they name no room.
    default: Option<RoomId>,
    /// Bans the game has yet to carry out (sending those players away).
    kicks: Vec<(RoomId, String)>,
}

impl RoomDirectory {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rooms> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rooms> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds one of the server's own rooms (kept while empty); the first is the default.
    pub fn add_persistent(&self, mut room: Room) {
        room.persistent = true;
        let mut rooms = self.write();
        if rooms.default.is_none() {
            rooms.default = Some(room.id.clone());
        }
        rooms.rooms.insert(room.id.clone(), room);
    }

    /// Adds a room a player made, within the server's and the player's limits.
    pub fn create(
        &self,
        room: Room,
        max_rooms: usize,
        per_owner: usize,
    ) -> Result<RoomInfo, CreateRefusal> {
        let mut rooms = self.write();
        if rooms.rooms.len() >= max_rooms {
            return Err(CreateRefusal::ServerFull(max_rooms));
        }
        if let Some(owner) = &room.owner {
            let owned = rooms
                .rooms
                .values()
                .filter(|r| r.owner.as_ref() == Some(owner))
                .count();
            if owned >= per_owner {
                return Err(CreateRefusal::TooMany(per_owner));
            }
        }
        let info = room.info();
        rooms.rooms.insert(room.id.clone(), room);
        Ok(info)
    }

    /// Adds a campaign room kept in the store (at start: no limits apply).
    pub fn add_campaign(&self, room: Room) {
        self.write().rooms.insert(room.id.clone(), room);
    }

    /// Every campaign room's id and session status.
    pub fn campaigns(&self) -> Vec<(RoomId, CampaignStatus)> {
        self.read()
            .rooms
            .values()
            .filter_map(|r| Some((r.id.clone(), r.campaign.as_ref()?.status)))
            .collect()
    }

    /// Changes a campaign (its status, scene or turn time limit) with `change`.
    pub fn update_campaign(&self, id: &str, change: impl FnOnce(&mut Campaign)) {
        if let Some(campaign) = self
            .write()
            .rooms
            .get_mut(id)
            .and_then(|r| r.campaign.as_mut())
        {
            change(campaign);
        }
    }

    /// Gives a campaign (and the room's ownership) to another GM.
    pub fn set_campaign_gm(&self, id: &str, account: i64, name: &str) {
        let mut rooms = self.write();
        let Some(room) = rooms.rooms.get_mut(id) else {
            return;
        };
        let Some(campaign) = room.campaign.as_mut() else {
            return;
        };
        campaign.gm_account = account;
        campaign.gm_name = name.to_string();
        room.owner = Some(campaign.gm_identity());
        // The seat is handed to someone in the room, whose place becomes the GM's;
        // the old GM's becomes a player's.
        room.gm_here = true;
    }

    /// Removes a room (a deleted campaign) and sends `members` (identities) away.
    pub fn remove(&self, id: &str, members: Vec<String>) -> bool {
        let mut rooms = self.write();
        let Some(room) = rooms.rooms.remove(id) else {
            return false;
        };
        for identity in members {
            rooms.kicks.push((room.id.clone(), identity));
        }
        true
    }

    /// The room players join when they name none.
    pub fn default_room(&self) -> Option<RoomId> {
        self.read().default.clone()
    }

    /// One room, as it is now.
    pub fn get(&self, id: &str) -> Option<Room> {
        self.read().rooms.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.read().rooms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rooms anyone may see in the list (not the private ones), busiest first.
    pub fn public(&self) -> Vec<RoomInfo> {
        self.listed(false)
    }

    /// Every room, the private ones too (the admin's list), busiest first.
    pub fn all(&self) -> Vec<RoomInfo> {
        self.listed(true)
    }

    fn listed(&self, private_too: bool) -> Vec<RoomInfo> {
        let rooms = self.read();
        let mut list: Vec<RoomInfo> = rooms
            .rooms
            .values()
            .filter(|r| private_too || !r.private)
            .map(Room::info)
            .collect();
        list.sort_by(|a, b| b.players.cmp(&a.players).then(a.name.cmp(&b.name)));
        list
    }

    /// Holds a place in room `id` for `client_id` (whose identity is `identity`) until
    /// its connect token expires at `until`, or says why not. The password is checked
    /// before this.
    pub fn reserve(
        &self,
        id: &str,
        identity: &str,
        client_id: u64,
        until: Instant,
    ) -> Result<RoomInfo, JoinRefusal> {
        let now = Instant::now();
        let mut rooms = self.write();
        let room = rooms.rooms.get_mut(id).ok_or(JoinRefusal::NoSuchRoom)?;
        if room.banned.contains(identity) {
            return Err(JoinRefusal::Banned);
        }
        room.pending.retain(|_, (t, _)| *t > now);
        // The GM always has a seat at the table.
        let gm = room.is_gm(identity);
        if !gm && room.taken(now) >= room.max_players {
            return Err(JoinRefusal::Full {
                max_players: room.max_players,
            });
        }
        room.pending.insert(client_id, (until, gm));
        Ok(room.info())
    }

    /// The fullest public room without a password on `map` that has a place left, else
    /// none.
    pub fn fullest_open(&self, map: &str, identity: &str) -> Option<RoomId> {
        let now = Instant::now();
        let rooms = self.read();
        rooms
            .rooms
            .values()
            .filter(|r| r.map == map && !r.private && r.password.is_none())
            .filter(|r| !r.banned.contains(identity) && r.taken(now) < r.max_players)
            .max_by_key(|r| (r.taken(now), std::cmp::Reverse(r.id.clone())))
            .map(|r| r.id.clone())
    }

    /// A player of `client_id` arrived in room `id`: its map, or `None` if the room is
    /// gone (or banned it meanwhile).
    pub fn arrived(&self, id: &str, client_id: u64, identity: &str) -> Option<String> {
        let mut rooms = self.write();
        let room = rooms.rooms.get_mut(id)?;
        room.pending.remove(&client_id);
        if room.banned.contains(identity) {
            return None;
        }
        room.players += 1;
        room.gm_here |= room.is_gm(identity);
        room.empty_since = None;
        Some(room.map.clone())
    }

    /// A player whose avatar waited in room `id` came back on connection `client_id`:
    /// whether it may (the room is there and has not banned it). It was counted all along.
    pub fn resumed(&self, id: &str, client_id: u64, identity: &str) -> bool {
        let mut rooms = self.write();
        let Some(room) = rooms.rooms.get_mut(id) else {
            return false;
        };
        room.pending.remove(&client_id);
        !room.banned.contains(identity)
    }

    /// A player (`identity`) left room `id` for good.
    pub fn left(&self, id: &str, identity: &str) {
        let mut rooms = self.write();
        if let Some(room) = rooms.rooms.get_mut(id) {
            room.players = room.players.saturating_sub(1);
            if room.is_gm(identity) {
                room.gm_here = false;
            }
            if room.players == 0 {
                room.empty_since = Some(Instant::now());
            }
        }
    }

    /// Whether the room is still in the directory and kept while empty.
    pub fn is_persistent(&self, id: &str) -> Option<bool> {
        self.read().rooms.get(id).map(|r| r.persistent)
    }

    /// Sends `identity` away from room `id` for good (checked by the caller: the owner
    /// asks).
    pub fn ban(&self, id: &str, identity: &str) {
        let mut rooms = self.write();
        if let Some(room) = rooms.rooms.get_mut(id) {
            room.banned.insert(identity.to_string());
            let room = room.id.clone();
            rooms.kicks.push((room, identity.to_string()));
        }
    }

    /// Bans made since the last call, for the game to send those players away.
    pub fn take_kicks(&self) -> Vec<(RoomId, String)> {
        if self.read().kicks.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.write().kicks)
    }

    /// Removes the rooms players made that have been empty (with no join on the way) for
    /// `idle`; their ids.
    pub fn dispose_idle(&self, idle: Duration) -> Vec<RoomId> {
        let now = Instant::now();
        let mut rooms = self.write();
        let gone: Vec<RoomId> = rooms
            .rooms
            .values_mut()
            .filter(|r| !r.persistent && r.campaign.is_none() && r.players == 0)
            .filter_map(|r| {
                r.pending.retain(|_, (t, _)| *t > now);
                let since = r.empty_since?;
                (r.pending.is_empty() && now.duration_since(since) >= idle).then(|| r.id.clone())
            })
            .collect();
        for id in &gone {
            rooms.rooms.remove(id);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str, map: &str, max: u32) -> Room {
        Room::new(RoomId::from(id), id.to_string(), map.to_string(), max)
    }

    #[test]
    fn reservations_count_against_the_room_until_their_token_expires() {
        let rooms = RoomDirectory::default();
        rooms.create(room("a", "town", 2), 10, 10).unwrap();
        let soon = Instant::now() + Duration::from_secs(15);
        rooms.reserve("a", "guest:1", 1, soon).unwrap();
        rooms.reserve("a", "guest:2", 2, soon).unwrap();
        assert_eq!(
            rooms.reserve("a", "guest:3", 3, soon),
            Err(JoinRefusal::Full { max_players: 2 })
        );
        assert_eq!(rooms.get("a").unwrap().info().status, RoomStatus::Full);
        // One arrives (its reservation becomes a player), the other's token lapses.
        assert_eq!(rooms.arrived("a", 1, "guest:1").as_deref(), Some("town"));
        let past = Instant::now() - Duration::from_secs(1);
        rooms
            .write()
            .rooms
            .get_mut("a")
            .unwrap()
            .pending
            .insert(2, (past, false));
        rooms.reserve("a", "guest:3", 3, soon).unwrap();
        assert_eq!(
            rooms.reserve("nope", "guest:3", 4, soon),
            Err(JoinRefusal::NoSuchRoom)
        );
    }

    #[test]
    fn banned_players_cannot_join_or_arrive() {
        let rooms = RoomDirectory::default();
        rooms.create(room("a", "town", 5), 10, 10).unwrap();
        let soon = Instant::now() + Duration::from_secs(15);
        rooms.reserve("a", "guest:1", 1, soon).unwrap();
        rooms.ban("a", "guest:1");
        assert_eq!(rooms.arrived("a", 1, "guest:1"), None);
        assert_eq!(
            rooms.reserve("a", "guest:1", 2, soon),
            Err(JoinRefusal::Banned)
        );
        assert_eq!(rooms.fullest_open("town", "guest:1"), None);
        assert!(rooms.fullest_open("town", "guest:2").is_some());
    }

    #[test]
    fn join_or_create_picks_the_fullest_public_room_with_space() {
        let rooms = RoomDirectory::default();
        for (id, max) in [("a", 3), ("b", 3), ("c", 2)] {
            rooms.create(room(id, "town", max), 10, 10).unwrap();
        }
        let mut private = room("p", "town", 10);
        private.private = true;
        rooms.create(private, 10, 10).unwrap();
        let mut locked = room("l", "town", 10);
        locked.password = Some("hash".into());
        rooms.create(locked, 10, 10).unwrap();
        for (room, client) in [("a", 1), ("b", 2), ("b", 3), ("c", 4), ("c", 5)] {
            rooms.arrived(room, client, "guest:x");
        }
        // c is full; b has 2 of 3; a has 1; p and l are never picked.
        assert_eq!(
            rooms.fullest_open("town", "guest:y"),
            Some(RoomId::from("b"))
        );
        rooms.arrived("b", 6, "guest:x");
        assert_eq!(
            rooms.fullest_open("town", "guest:y"),
            Some(RoomId::from("a"))
        );
        assert_eq!(rooms.fullest_open("dungeon", "guest:y"), None);
    }

    #[test]
    fn only_empty_rooms_players_made_are_disposed_after_the_idle_time() {
        let rooms = RoomDirectory::default();
        rooms.add_persistent(room("town", "town", 100));
        rooms.create(room("a", "town", 5), 10, 10).unwrap();
        rooms.create(room("b", "town", 5), 10, 10).unwrap();
        rooms.arrived("b", 1, "guest:1");
        assert!(rooms.dispose_idle(Duration::from_secs(300)).is_empty());
        assert_eq!(rooms.dispose_idle(Duration::ZERO), vec![RoomId::from("a")]);
        rooms.left("b", "guest:1");
        assert_eq!(rooms.dispose_idle(Duration::ZERO), vec![RoomId::from("b")]);
        assert_eq!(rooms.len(), 1, "the town stays");
        assert_eq!(rooms.default_room(), Some(RoomId::from("town")));
    }

    #[test]
    fn a_campaign_keeps_a_seat_for_its_gm_and_is_never_disposed() {
        let rooms = RoomDirectory::default();
        let mut table = room("t", "town", 2);
        table.campaign = Some(Campaign {
            gm_account: 7,
            gm_name: "Gaia".into(),
            status: CampaignStatus::Waiting,
            scene: Scene::default(),
            turn_secs: 60,
        });
        rooms.create(table, 10, 10).unwrap();
        let soon = Instant::now() + Duration::from_secs(15);
        rooms.reserve("t", "account:1", 1, soon).unwrap();
        rooms.reserve("t", "account:2", 2, soon).unwrap();
        assert_eq!(
            rooms.reserve("t", "account:3", 3, soon),
            Err(JoinRefusal::Full { max_players: 2 })
        );
        // Two players besides the GM: the GM still has a seat, and taking it fills
        // no player's.
        rooms.reserve("t", "account:7", 4, soon).unwrap();
        for (client, who) in [(1, "account:1"), (4, "account:7")] {
            rooms.arrived("t", client, who);
        }
        let info = rooms.get("t").unwrap().info();
        assert_eq!((info.players, info.status), (2, RoomStatus::Full));
        rooms.left("t", "account:7");
        rooms.left("t", "account:1");
        assert!(
            rooms.dispose_idle(Duration::ZERO).is_empty(),
            "kept while empty"
        );
        rooms.update_campaign("t", |c| c.status = CampaignStatus::Paused);
        assert_eq!(
            rooms.campaigns(),
            vec![(RoomId::from("t"), CampaignStatus::Paused)]
        );
        assert!(rooms.remove("t", vec!["account:1".into()]));
        assert_eq!(
            rooms.take_kicks(),
            vec![(RoomId::from("t"), "account:1".into())]
        );
        assert!(rooms.get("t").is_none());
    }

    #[test]
    fn a_player_owns_a_limited_number_of_rooms() {
        let rooms = RoomDirectory::default();
        let owned = |id: &str| {
            let mut r = room(id, "town", 5);
            r.owner = Some("account:1".into());
            r
        };
        rooms.create(owned("a"), 10, 2).unwrap();
        rooms.create(owned("b"), 10, 2).unwrap();
        assert_eq!(
            rooms.create(owned("c"), 10, 2),
            Err(CreateRefusal::TooMany(2))
        );
        assert_eq!(
            rooms.create(room("d", "town", 5), 2, 2),
            Err(CreateRefusal::ServerFull(2))
        );
    }
}
