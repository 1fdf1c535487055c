//! Rooms: groups of players with their own copies of the maps (instances). The server's
//! configured rooms (the town by default) are always there; players make more over the
//! HTTP API, and those close once nobody has been in them for `--room-idle-secs`.

pub mod config;
pub mod directory;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use tavern_shared::avatar::PlayerId;

pub use config::RoomSpec;
pub use directory::{CreateRefusal, JoinRefusal, Room, RoomDirectory};

use crate::agents::NpcHome;
use crate::combat::loot::PlayerKey;

use crate::world::{MapId, Maps, OnMap};

/// A room's id: what invite links and `--room` carry. The server's own rooms have the
/// ids their config gives (`town`); rooms players make get random ones, so a private
/// room cannot be guessed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub Arc<str>);

impl From<&str> for RoomId {
    fn from(id: &str) -> Self {
        RoomId(Arc::from(id))
    }
}

impl std::borrow::Borrow<str> for RoomId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters of a made room's id.
const ID_CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// A made room's id length: 12 of 32 characters is 60 bits.
const ID_LEN: usize = 12;

impl RoomId {
    /// A fresh random id from the OS's random numbers.
    pub fn random() -> Result<RoomId, rand::rand_core::OsError> {
        let mut bytes = [0u8; ID_LEN];
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes)?;
        let id: String = bytes
            .iter()
            .map(|b| ID_CHARS[*b as usize % ID_CHARS.len()] as char)
            .collect();
        Ok(RoomId::from(id.as_str()))
    }

    /// Whether `id` could be a room id (what the config and the API accept): 1 to 40
    /// lowercase letters, digits and `-`.
    pub fn is_valid(id: &str) -> bool {
        (1..=40).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }
}

/// A room name as the config and the API accept it: 1 to 40 characters after trimming,
/// no control characters; the problem otherwise.
pub fn check_room_name(name: &str) -> Result<(), String> {
    let max = tavern_shared::api::ROOM_NAME_CHARS;
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(format!("the room name must have 1 to {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("the room name must not contain control characters".into());
    }
    Ok(())
}

/// How long a room players made lives on empty (`--room-idle-secs`).
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);

/// Rooms' limits and timings (flags of `tavern-server`).
#[derive(Resource, Debug, Clone)]
pub struct RoomSettings {
    /// An empty room players made is closed after this; an empty copy of a map in such
    /// a room too.
    pub idle: Duration,
    /// Rooms at most on the server (the configured ones included).
    pub max_rooms: usize,
    /// Open rooms one player may own at once.
    pub per_player: usize,
}

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            idle: DEFAULT_IDLE,
            max_rooms: 10_000,
            per_player: 5,
        }
    }
}

/// The server's own rooms (from `file`, else one on the start map) in a new directory,
/// each with its arrival map open (so its town runs from the start, as without rooms).
pub fn open_configured(
    maps: &mut Maps,
    file: Option<&std::path::Path>,
) -> anyhow::Result<RoomDirectory> {
    let names = maps.names();
    let specs = match file {
        Some(path) => config::load(path, &names)?,
        None => config::default_rooms(&names[0]),
    };
    let directory = RoomDirectory::default();
    for spec in specs {
        let map = spec.map.unwrap_or_else(|| names[0].clone());
        let mut room = Room::new(
            RoomId::from(spec.id.as_str()),
            spec.name,
            map,
            spec.max_players,
        );
        room.private = spec.private;
        room.password = match spec.password {
            Some(p) => Some(
                crate::http::accounts::hash_password(&p)
                    .map_err(|e| anyhow::anyhow!("cannot hash a room password: {e}"))?,
            ),
            None => None,
        };
        let file = maps.by_name(&room.map).unwrap_or(maps.start);
        maps.open(&room.id, file);
        directory.add_persistent(room);
    }
    Ok(directory)
}

/// How often empty rooms and places are looked for.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// Places being closed: their entities were despawned on the last upkeep; the place
/// goes once nothing can refer to it.
#[derive(Resource, Debug, Default)]
struct Upkeep {
    last: Option<Instant>,
    /// Since when each place of a made room has had no player.
    empty_since: HashMap<MapId, Instant>,
    closing: Vec<MapId>,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<RoomDirectory>()
        .init_resource::<RoomSettings>()
        .init_resource::<Upkeep>()
        .add_systems(Last, (send_away_banned, close_idle));
}

/// Sends the players their room's owner banned away: connected or waiting to
/// reconnect, their avatars leave at once.
fn send_away_banned(
    rooms: Res<RoomDirectory>,
    directory: Res<crate::players::PlayerDirectory>,
    avatars: Query<(
        Entity,
        &PlayerKey,
        &PlayerId,
        &OnMap,
        Option<&crate::zones::Owner>,
    )>,
    maps: Res<Maps>,
    mut journal: ResMut<crate::journal::Journal>,
    mut commands: Commands,
) {
    for (room, identity) in rooms.take_kicks() {
        for (avatar, key, id, on, owner) in &avatars {
            if key.0 != identity || maps.get(on.0).room != room {
                continue;
            }
            info!(%room, %identity, "sending a banned player away");
            // Detached first, so the connection's end does not keep the avatar waiting.
            if let Some(owner) = owner
                && let Ok(mut client) = commands.get_entity(owner.0)
            {
                client.remove::<crate::players::Controls>().despawn();
            }
            crate::players::leave_now(
                &mut commands,
                avatar,
                id.0,
                &room,
                &directory,
                &rooms,
                &mut journal,
            );
        }
    }
}

/// Closes what nobody uses: rooms players made that stayed empty for the idle time,
/// and in rooms that live on, copies of maps nobody has been on for that long. Their
/// monsters, loot and NPCs go with them; a player coming back finds the map fresh.
fn close_idle(
    mut upkeep: ResMut<Upkeep>,
    mut maps: ResMut<Maps>,
    rooms: Res<RoomDirectory>,
    settings: Res<RoomSettings>,
    players: Query<&OnMap, With<PlayerId>>,
    on_maps: Query<(Entity, &OnMap), Without<PlayerId>>,
    npcs: Query<(Entity, &NpcHome)>,
    mut journal: ResMut<crate::journal::Journal>,
    mut commands: Commands,
) {
    let now = Instant::now();
    if upkeep
        .last
        .is_some_and(|last| now.duration_since(last) < UPKEEP_EVERY)
    {
        return;
    }
    upkeep.last = Some(now);
    // Closed one upkeep ago: their entities' despawns have been applied since.
    for id in std::mem::take(&mut upkeep.closing) {
        maps.close(id);
    }
    for id in rooms.dispose_idle(settings.idle) {
        journal.forget(&id);
        info!(room = %id, "empty room closed");
    }
    let mut used: HashMap<MapId, u32> = HashMap::new();
    for on in &players {
        *used.entry(on.0).or_default() += 1;
    }
    let mut closing = Vec::new();
    for (id, place) in maps.places() {
        if used.contains_key(&id) {
            upkeep.empty_since.remove(&id);
            continue;
        }
        let close = match rooms.is_persistent(&place.room.0) {
            None => true,
            Some(true) => false,
            Some(false) => {
                let since = *upkeep.empty_since.entry(id).or_insert(now);
                now.duration_since(since) >= settings.idle
            }
        };
        if close {
            closing.push(id);
        }
    }
    if closing.is_empty() {
        return;
    }
    for (entity, on) in &on_maps {
        if closing.contains(&on.0) {
            commands.entity(entity).despawn();
        }
    }
    for (entity, home) in &npcs {
        if closing.contains(&home.map) {
            commands.entity(entity).despawn();
        }
    }
    for id in &closing {
        upkeep.empty_since.remove(id);
        let place = maps.get(*id);
        debug!(room = %place.room, map = %place.data.name, "closing an unused map copy");
        maps.retire(*id);
    }
    upkeep.closing = closing;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_valid_and_differ() {
        let a = RoomId::random().unwrap();
        let b = RoomId::random().unwrap();
        assert_ne!(a, b);
        assert!(RoomId::is_valid(&a.0), "{a}");
        assert_eq!(a.0.len(), ID_LEN);
        for bad in ["", "Town", "a b", "x/y", &"a".repeat(41)] {
            assert!(!RoomId::is_valid(bad), "{bad:?}");
        }
    }
}
