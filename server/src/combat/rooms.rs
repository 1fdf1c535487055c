//! Dungeon rooms: a room whose monsters are all dead is cleared, for everyone at once.
//! Clearing opens the room's doors (the collision world lets everyone through, the
//! server's movement and the players' prediction alike) and its chests, which drop
//! their loot table's roll once per clearing; the room fills again when a monster of
//! it comes back, and its chests close until it is cleared again. Doors stay open. A
//! door with a `key` opens when a player carrying that item walks into it (its room
//! cleared first, if it has one), using the key up when the map says so (stored before
//! the door opens). Everyone on the map is sent the doors, chests and rooms
//! ([`DungeonState`]) when one changes and when they arrive.

use std::sync::Arc;

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, PlayerId};
use tavern_shared::combat::messages::{DoorNotice, DungeonState, InventoryUpdate};
use tavern_shared::combat::roll_loot;
use tavern_shared::map::rooms::Rooms;
use tavern_shared::movement::AVATAR_RADIUS;

use super::log::{Event, EventLog};
use super::loot::{Inventory, InventoryWorker, Job, KeyTaken, PlayerKey, Purpose, Spill};
use super::monsters::Monster;
use super::{Clock, CombatRng, CombatSystems, Dead};
use crate::content::ContentHandle;
use crate::interest::StreamIds;
use crate::net::to_client;
use crate::world::{MapId, Maps, OnMap};
use crate::zones::{Owner, Presence};

/// How close (px) beyond touching a player must come to a door to try it.
const DOOR_REACH: f32 = 2.0;

/// What has happened to one map's rooms.
#[derive(Debug)]
struct MapRooms {
    /// The map data these are for (its `Arc` address): a reloaded map starts over.
    version: usize,
    rooms: Arc<Rooms>,
    /// No monster of the room alive (a room with none at all is cleared at once).
    cleared: Vec<bool>,
    chests_open: Vec<bool>,
    /// Chests that opened for good (those in no room).
    chests_done: Vec<bool>,
    /// Keys used: the door opens once its room is cleared too.
    unlocked: Vec<bool>,
    /// A key being taken out of an inventory for it.
    unlocking: Vec<bool>,
    /// Everyone on the map must be told.
    changed: bool,
}

impl MapRooms {
    fn new(version: usize, rooms: Rooms) -> Self {
        MapRooms {
            version,
            cleared: vec![false; rooms.rooms.len()],
            chests_open: vec![false; rooms.chests.len()],
            chests_done: vec![false; rooms.chests.len()],
            unlocked: vec![false; rooms.doors.len()],
            unlocking: vec![false; rooms.doors.len()],
            rooms: Arc::new(rooms),
            changed: true,
        }
    }

    fn state(&self, map: &str, world: &tavern_shared::collision::CollisionWorld) -> DungeonState {
        DungeonState {
            map: map.to_string(),
            doors_open: (0..self.rooms.doors.len())
                .map(|d| world.is_door_open(d))
                .collect(),
            chests_open: self.chests_open.clone(),
            rooms_cleared: self.cleared.clone(),
        }
    }

    /// Why door `door` does not open for a player who walks into it holding `has_key`;
    /// `None` when it may open.
    fn why_shut(&self, door: usize, has_key: impl Fn(&str) -> bool) -> Option<Shut> {
        let d = &self.rooms.doors[door];
        if let Some(room) = d.room
            && !self.cleared[room]
        {
            return Some(Shut::Room(self.rooms.rooms[room].name.clone()));
        }
        match &d.key {
            Some(key) if !self.unlocked[door] && !has_key(key) => Some(Shut::Key(key.clone())),
            _ => None,
        }
    }
}

/// Why a door stays shut.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shut {
    /// Its room (name) is not cleared.
    Room(String),
    /// It needs this item.
    Key(String),
}

/// Every map's rooms.
#[derive(Resource, Debug, Default)]
pub struct Dungeons(HashMap<MapId, MapRooms>);

pub fn plugin(app: &mut App) {
    app.init_resource::<Dungeons>()
        .add_systems(
            FixedUpdate,
            (clear_rooms, try_doors, use_keys)
                .chain()
                .in_set(CombatSystems::Recover)
                .after(super::loot::finish_jobs),
        )
        .add_systems(PostUpdate, send_dungeons.before(ServerSystems::Send));
}

/// Counts each room's living monsters: a room with none is cleared (its doors and
/// chests open), one with some is full again (its chests close). A reloaded map's rooms
/// start over.
#[allow(clippy::too_many_arguments)]
fn clear_rooms(
    clock: Res<Clock>,
    maps: Res<Maps>,
    content: Option<Res<ContentHandle>>,
    mut dungeons: ResMut<Dungeons>,
    mut rng: ResMut<CombatRng>,
    mut ids: ResMut<StreamIds>,
    mut log: ResMut<EventLog>,
    monsters: Query<(&Monster, &OnMap), Without<Dead>>,
    mut commands: Commands,
) {
    dungeons.0.retain(|id, _| maps.is_open(*id));
    for (id, map) in maps.places() {
        let version = Arc::as_ptr(&map.data) as usize;
        if dungeons.0.get(&id).is_none_or(|d| d.version != version) {
            dungeons
                .0
                .insert(id, MapRooms::new(version, Rooms::of(&map.data)));
        }
    }
    let mut living: HashMap<(MapId, usize), u32> = HashMap::default();
    for (monster, on) in &monsters {
        if let Some(room) = dungeons
            .0
            .get(&on.0)
            .and_then(|d| d.rooms.room_at(monster.home))
        {
            *living.entry((on.0, room)).or_default() += 1;
        }
    }
    let served = content.as_ref().map(|c| c.current());
    for (&id, state) in dungeons.0.iter_mut() {
        let map = maps.get(id);
        let rooms = state.rooms.clone();
        let mut opened_chests: Vec<usize> = Vec::new();
        for room in 0..rooms.rooms.len() {
            let alive = living.get(&(id, room)).copied().unwrap_or(0);
            if alive > 0 {
                if state.cleared[room] {
                    state.cleared[room] = false;
                    state.changed = true;
                    for chest in rooms.chests_of(room) {
                        state.chests_open[chest] = false;
                    }
                }
                continue;
            }
            if state.cleared[room] {
                continue;
            }
            state.cleared[room] = true;
            state.changed = true;
            let name = &rooms.rooms[room].name;
            let centre = rooms.rooms[room].area.anchor();
            let record = |log: &mut EventLog, kind, target: &str, at| {
                log.record(Event {
                    map: &map.log,
                    tick: clock.0,
                    kind,
                    actor: format!("room:{name}"),
                    target: target.to_string(),
                    amount: 0,
                    at,
                    detail: String::new(),
                })
            };
            record(&mut log, "cleared", name, centre);
            for door in rooms.doors_of(room) {
                if !map.collision.is_door_open(door) && state.why_shut(door, |_| false).is_none() {
                    map.collision.set_door_open(door, true);
                    record(
                        &mut log,
                        "door",
                        &rooms.doors[door].name,
                        rooms.doors[door].area.anchor(),
                    );
                }
            }
            opened_chests.extend(rooms.chests_of(room));
        }
        // Chests in no room open once.
        for (chest, spot) in rooms.chests.iter().enumerate() {
            if spot.room.is_none() && !state.chests_done[chest] {
                state.chests_done[chest] = true;
                opened_chests.push(chest);
            }
        }
        for chest in opened_chests {
            state.chests_open[chest] = true;
            state.changed = true;
            let spot = &rooms.chests[chest];
            let Some(table) = served
                .as_ref()
                .and_then(|s| s.content.loot_tables.get(&spot.table))
            else {
                continue;
            };
            let drop = roll_loot(table, || rng.roll());
            log.record(Event {
                map: &map.log,
                tick: clock.0,
                kind: "chest",
                actor: spot
                    .room
                    .map_or(String::new(), |r| format!("room:{}", rooms.rooms[r].name)),
                target: spot.name.clone(),
                amount: 0,
                at: spot.at,
                detail: spot.table.clone(),
            });
            let Some(served) = served.as_ref() else {
                continue;
            };
            // Below the chest, so the pile is not hidden under it.
            let at = spot.at + Vec2::new(0.0, 20.0);
            let at = if map.collision.is_free(at, AVATAR_RADIUS * 0.5) {
                at
            } else {
                spot.at
            };
            Spill {
                content: &served.content,
                maps: &maps,
                tick: clock.0,
                log: &mut log,
                ids: &mut ids,
                commands: &mut commands,
            }
            .lay(
                drop,
                at,
                OnMap(id),
                Presence {
                    map: id,
                    private: None,
                },
                &format!("chest:{}", spot.name),
            );
        }
    }
}

/// Players walking into a shut door: told why it stays shut, or, carrying its key
/// (and its room cleared), it opens (the key used up first, if the map says so).
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn try_doors(
    clock: Res<Clock>,
    maps: Res<Maps>,
    content: Option<Res<ContentHandle>>,
    worker: Option<Res<InventoryWorker>>,
    mut dungeons: ResMut<Dungeons>,
    mut log: ResMut<EventLog>,
    mut players: Query<
        (
            Entity,
            &AvatarState,
            &OnMap,
            &Owner,
            &mut Inventory,
            Option<&PlayerKey>,
        ),
        (With<PlayerId>, Without<Dead>),
    >,
    mut touching: Local<HashMap<Entity, usize>>,
    mut notices: MessageWriter<ToClients<DoorNotice>>,
    mut updates: MessageWriter<ToClients<InventoryUpdate>>,
) {
    let served = content.as_ref().map(|c| c.current());
    let item_name = |id: &str| item_name(served.as_deref(), id);
    let mut now_touching: HashMap<Entity, usize> = HashMap::default();
    for (avatar, state, on, owner, mut inventory, key) in &mut players {
        let world = &maps.get(on.0).collision;
        if world.door_count() == 0 {
            continue;
        }
        let Some(door) = world.door_touching(state.motion.pos, AVATAR_RADIUS + DOOR_REACH) else {
            continue;
        };
        if world.is_door_open(door) {
            continue;
        }
        let Some(rooms) = dungeons.0.get_mut(&on.0) else {
            continue;
        };
        now_touching.insert(avatar, door);
        let first_touch = touching.get(&avatar) != Some(&door);
        let spot = rooms.rooms.doors[door].clone();
        match rooms.why_shut(door, |k| inventory.items.contains_key(k)) {
            Some(why) => {
                if first_touch {
                    let text = match why {
                        Shut::Room(room) => {
                            format!("The {} opens when the {room} is cleared", spot.name)
                        }
                        Shut::Key(item) => {
                            format!(
                                "The {} needs {}",
                                spot.name,
                                with_article(&item_name(&item))
                            )
                        }
                    };
                    notices.write(to_client(
                        owner.0,
                        DoorNotice {
                            door: door as u16,
                            text,
                        },
                    ));
                }
            }
            None if rooms.unlocking[door] => {}
            None => {
                let key_item = spot.key.clone().filter(|_| !rooms.unlocked[door]);
                match (&key_item, spot.consume_key, &worker, key) {
                    (Some(item), true, Some(worker), Some(player)) => {
                        // Opens once the key is out of the stored inventory (use_keys).
                        rooms.unlocking[door] = true;
                        worker.send(Job::Take {
                            avatar,
                            client: owner.0,
                            key: player.0.clone(),
                            item: item.clone(),
                            purpose: Purpose::Unlock { map: on.0, door },
                        });
                    }
                    _ => {
                        if let Some(item) = &key_item
                            && spot.consume_key
                        {
                            inventory.take_one(item);
                            updates.write(to_client(owner.0, inventory.update(None)));
                        }
                        let who = key.map_or_else(|| format!("{avatar}"), |k| k.0.clone());
                        open_door(
                            rooms,
                            world,
                            door,
                            &who,
                            &maps.get(on.0).log,
                            clock.0,
                            &mut log,
                        );
                        notices.write(to_client(
                            owner.0,
                            DoorNotice {
                                door: door as u16,
                                text: match &key_item {
                                    Some(item) => {
                                        key_opened(&item_name(item), &spot.name, spot.consume_key)
                                    }
                                    None => format!("The {} opens", spot.name),
                                },
                            },
                        ));
                    }
                }
            }
        }
    }
    *touching = now_touching;
}

/// An item's name as the content has it (its id when the content lacks it).
fn item_name(served: Option<&crate::content::Served>, id: &str) -> String {
    served
        .and_then(|s| s.content.items.get(id))
        .map_or(id.to_string(), |i| i.name.clone())
}

/// "Your Iron key opens the Lair door; it is used up".
fn key_opened(key: &str, door: &str, used_up: bool) -> String {
    let used = if used_up { "; it is used up" } else { "" };
    format!("Your {key} opens the {door}{used}")
}

/// "an Iron key", "a Health potion".
fn with_article(name: &str) -> String {
    let vowel = name
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {name}", if vowel { "an" } else { "a" })
}

fn open_door(
    rooms: &mut MapRooms,
    world: &tavern_shared::collision::CollisionWorld,
    door: usize,
    who: &str,
    map: &str,
    tick: u32,
    log: &mut EventLog,
) {
    rooms.unlocked[door] = true;
    rooms.unlocking[door] = false;
    rooms.changed = true;
    world.set_door_open(door, true);
    let spot = &rooms.rooms.doors[door];
    log.record(Event {
        map,
        tick,
        kind: "door",
        actor: who.to_string(),
        target: spot.name.clone(),
        amount: 0,
        at: spot.area.anchor(),
        detail: spot.key.clone().unwrap_or_default(),
    });
}

/// A key taken out of a stored inventory opens its door; one that could not be taken
/// leaves it shut (the player was told why with its inventory).
fn use_keys(
    clock: Res<Clock>,
    maps: Res<Maps>,
    mut dungeons: ResMut<Dungeons>,
    mut log: ResMut<EventLog>,
    mut taken: MessageReader<KeyTaken>,
    content: Option<Res<ContentHandle>>,
    players: Query<(&Owner, Option<&PlayerKey>)>,
    mut notices: MessageWriter<ToClients<DoorNotice>>,
) {
    let served = content.as_ref().map(|c| c.current());
    for t in taken.read() {
        let Some(rooms) = dungeons.0.get_mut(&t.map) else {
            continue;
        };
        if t.door >= rooms.unlocking.len() {
            continue; // the map was reloaded meanwhile
        }
        rooms.unlocking[t.door] = false;
        if !t.used {
            continue;
        }
        let map = maps.get(t.map);
        let player = players.get(t.avatar).ok();
        let who = player
            .and_then(|(_, k)| k)
            .map_or_else(|| format!("{}", t.avatar), |k| k.0.clone());
        open_door(
            rooms,
            &map.collision,
            t.door,
            &who,
            &map.log,
            clock.0,
            &mut log,
        );
        if let Some((owner, _)) = player {
            let spot = &rooms.rooms.doors[t.door];
            let key = item_name(served.as_deref(), spot.key.as_deref().unwrap_or("key"));
            notices.write(to_client(
                owner.0,
                DoorNotice {
                    door: t.door as u16,
                    text: key_opened(&key, &spot.name, true),
                },
            ));
        }
    }
}

/// Tells everyone on a map whose rooms changed, and everyone who arrived on a map, its
/// doors, chests and rooms.
fn send_dungeons(
    maps: Res<Maps>,
    mut dungeons: ResMut<Dungeons>,
    avatars: Query<(Ref<OnMap>, &Owner), With<PlayerId>>,
    mut out: MessageWriter<ToClients<DungeonState>>,
) {
    let mut states: HashMap<MapId, DungeonState> = HashMap::default();
    let mut state_of = |id: MapId, dungeons: &Dungeons| {
        states
            .entry(id)
            .or_insert_with(|| {
                let map = maps.get(id);
                dungeons
                    .0
                    .get(&id)
                    .map(|r| r.state(&map.data.name, &map.collision))
                    .unwrap_or_default()
            })
            .clone()
    };
    for (on, owner) in &avatars {
        let changed = dungeons.0.get(&on.0).is_some_and(|r| r.changed);
        if changed || on.is_changed() {
            let state = state_of(on.0, &dungeons);
            if !state.map.is_empty() {
                out.write(to_client(owner.0, state));
            }
        }
    }
    for rooms in dungeons.0.values_mut() {
        rooms.changed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn door_messages_read_well() {
        assert_eq!(with_article("Iron key"), "an Iron key");
        assert_eq!(with_article("Bone key"), "a Bone key");
        assert_eq!(
            key_opened("Iron key", "Lair door", true),
            "Your Iron key opens the Lair door; it is used up"
        );
        assert_eq!(
            key_opened("Bone key", "Crypt door", false),
            "Your Bone key opens the Crypt door"
        );
    }
}
