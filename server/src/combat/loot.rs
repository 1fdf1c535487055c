//! Loot: a slain monster's loot table is rolled once (the server's seeded generator)
//! and what it drops lies on the ground as streamed bodies, gold and each item stack
//! apart, for two minutes. Walking over loot, or asking for it within reach, picks it
//! up: the first player wins, anyone else gets "already taken by Ada". What a player
//! holds is its [`Inventory`]; using a potion goes through here too.

use std::collections::BTreeMap;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, DisplayName, PlayerId};
use tavern_shared::combat::messages::{
    InventoryUpdate, PICKUP_REACH, PickUp, PickupResult, UseItem, WALK_OVER_RADIUS,
};
use tavern_shared::combat::{Vitals, roll_loot};
use tavern_shared::content::ItemKind;
use tavern_shared::movement::{AVATAR_RADIUS, secs_to_ticks};
use tavern_shared::stream::{Actor, StreamId};

use super::damage::Slain;
use super::log::{Event, EventLog};
use super::monsters::Monster;
use super::{Clock, CombatRng, CombatSystems, Dead};
use crate::GameSystems;
use crate::content::ContentHandle;
use crate::interest::{StreamIds, StreamTag};
use crate::net::to_client;
use crate::players::Controls;
use crate::world::{Maps, OnMap};
use crate::zones::{Owner, Presence, can_see};

/// Seconds loot lies on the ground.
pub const LOOT_SECS: f32 = 120.0;
/// Ticks a taken loot is remembered, to tell late askers who took it.
const TAKEN_TICKS: u32 = 120;
/// Pickup requests taken from one player per tick; more wait.
const PICKUPS_PER_TICK: usize = 4;

/// Loot on the ground: `count` of `item` (`None`: gold), until the tick `until`.
#[derive(Component, Debug, Clone)]
pub struct Loot {
    pub item: Option<String>,
    pub count: u32,
    pub until: u32,
}

/// What a player holds.
#[derive(Component, Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub gold: u64,
    pub items: BTreeMap<String, u32>,
}

impl Inventory {
    pub fn add(&mut self, item: Option<&str>, count: u32) {
        match item {
            None => self.gold = self.gold.saturating_add(u64::from(count)),
            Some(item) => {
                let held = self.items.entry(item.to_string()).or_default();
                *held = held.saturating_add(count);
            }
        }
    }

    /// Takes one of `item`; false when there is none.
    pub fn take_one(&mut self, item: &str) -> bool {
        match self.items.get_mut(item) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.items.remove(item);
                true
            }
            None => false,
        }
    }

    pub fn update(&self, refused: Option<String>) -> InventoryUpdate {
        InventoryUpdate {
            gold: self.gold,
            items: self.items.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            refused,
        }
    }
}

/// On a player's avatar: its identity (`guest:17`), which its inventory is stored under.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct PlayerKey(pub String);

/// A pile of loot: being laid on the ground, or being stored into someone's inventory
/// (put back on the ground if that fails).
#[derive(Debug, Clone)]
pub struct Pile {
    pub loot: StreamId,
    pub item: Option<String>,
    pub count: u32,
    pub at: Vec2,
    pub on: OnMap,
    pub presence: Presence,
    pub until: u32,
    pub label: String,
}

/// A pile lying on the ground, under a new stream id (its `loot` is not used).
fn pile_bundle(pile: Pile, ids: &mut StreamIds) -> impl Bundle {
    (
        Loot {
            item: pile.item.clone(),
            count: pile.count,
            until: pile.until,
        },
        Actor::Loot {
            item: pile.item,
            count: pile.count,
        },
        DisplayName(pile.label),
        AvatarState::at(pile.at),
        ids.issue(),
        pile.on,
        pile.presence,
    )
}

/// Work for the inventory's storage task, done in the order sent.
#[derive(Debug)]
pub enum Job {
    Load {
        avatar: Entity,
        key: String,
    },
    Add {
        avatar: Entity,
        client: Entity,
        key: String,
        pile: Pile,
        request: Option<u32>,
    },
    Take {
        avatar: Entity,
        client: Entity,
        key: String,
        item: String,
        purpose: Purpose,
    },
}

/// What an item taken out of an inventory is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A potion, drunk once taken out.
    Drink,
    /// A key, used up opening door `door` of map `map`.
    Unlock {
        map: crate::world::MapId,
        door: usize,
    },
}

/// A key was taken out of `avatar`'s inventory (`used`), or could not be, to open a door.
#[derive(Message, Debug, Clone, Copy)]
pub struct KeyTaken {
    pub avatar: Entity,
    pub map: crate::world::MapId,
    pub door: usize,
    pub used: bool,
}

/// What the storage task answers.
#[derive(Debug)]
pub enum Done {
    Loaded {
        avatar: Entity,
        result: Result<(u64, BTreeMap<String, u32>), String>,
    },
    Added {
        avatar: Entity,
        client: Entity,
        pile: Pile,
        request: Option<u32>,
        result: Result<(), String>,
    },
    Took {
        avatar: Entity,
        client: Entity,
        item: String,
        purpose: Purpose,
        result: Result<bool, String>,
    },
}

/// The game side of the inventory's storage task. Without it (benchmarks), inventories
/// live in memory only.
#[derive(Resource)]
pub struct InventoryWorker {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    done: std::sync::Mutex<std::sync::mpsc::Receiver<Done>>,
}

impl InventoryWorker {
    pub fn send(&self, job: Job) {
        if self.jobs.send(job).is_err() {
            error!("the inventory storage task has stopped");
        }
    }
}

/// Starts the storage task on `runtime`: each job is stored before it is answered.
pub fn spawn_worker(
    runtime: &tokio::runtime::Handle,
    store: crate::store::ChatStore,
) -> InventoryWorker {
    let (jobs, mut incoming) = tokio::sync::mpsc::unbounded_channel::<Job>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        while let Some(job) = incoming.recv().await {
            let done = match job {
                Job::Load { avatar, key } => Done::Loaded {
                    avatar,
                    result: store.inventory(&key).await.map_err(|e| e.to_string()),
                },
                Job::Add {
                    avatar,
                    client,
                    key,
                    pile,
                    request,
                } => Done::Added {
                    result: store
                        .add_to_inventory(&key, pile.item.as_deref(), pile.count)
                        .await
                        .map_err(|e| e.to_string()),
                    avatar,
                    client,
                    pile,
                    request,
                },
                Job::Take {
                    avatar,
                    client,
                    key,
                    item,
                    purpose,
                } => Done::Took {
                    result: store
                        .take_from_inventory(&key, &item)
                        .await
                        .map_err(|e| e.to_string()),
                    avatar,
                    client,
                    item,
                    purpose,
                },
            };
            if done_tx.send(done).is_err() {
                break;
            }
        }
    });
    InventoryWorker {
        jobs,
        done: std::sync::Mutex::new(done_rx),
    }
}

/// Loot taken lately: who took it (name, avatar) and when.
#[derive(Resource, Debug, Default)]
struct Taken(Vec<(StreamId, String, Entity, u32)>);

/// On a player's connection: pickup requests waiting for their turn.
#[derive(Component, Debug, Default)]
pub struct PendingPickups(std::collections::VecDeque<PickUp>);

pub fn plugin(app: &mut App) {
    app.init_resource::<Taken>()
        .add_message::<KeyTaken>()
        .add_systems(
            PreUpdate,
            receive_pickups.in_set(GameSystems::ReceiveInputs),
        )
        .add_systems(
            FixedUpdate,
            (drop_loot, pick_up, use_items, finish_jobs, expire_loot)
                .chain()
                .in_set(CombatSystems::Recover),
        );
}

/// Rolls each slain monster's loot table once and lays what drops around where it died.
#[allow(clippy::too_many_arguments)]
fn drop_loot(
    clock: Res<Clock>,
    content: Option<Res<ContentHandle>>,
    maps: Res<Maps>,
    mut rng: ResMut<CombatRng>,
    mut ids: ResMut<StreamIds>,
    mut slain: MessageReader<Slain>,
    monsters: Query<(&Monster, &OnMap, &Presence, &StreamTag)>,
    mut log: ResMut<EventLog>,
    mut commands: Commands,
) {
    let Some(content) = content else {
        return;
    };
    let served = content.current();
    let content = &served.content;
    for death in slain.read() {
        let Ok((monster, on, presence, monster_tag)) = monsters.get(death.monster) else {
            continue;
        };
        let Some(table) = content
            .enemy_types
            .get(&monster.enemy)
            .and_then(|e| e.loot_table.as_ref())
            .and_then(|t| content.loot_tables.get(t))
        else {
            continue;
        };
        let drop = roll_loot(table, || rng.roll());
        let from = super::log::label(None, Some(monster), monster_tag);
        Spill {
            content,
            maps: &maps,
            tick: clock.0,
            log: &mut log,
            ids: &mut ids,
            commands: &mut commands,
        }
        .lay(drop, death.at, *on, *presence, &from);
    }
}

/// Where a roll of a loot table is laid out on the ground.
pub struct Spill<'a, 'w, 's> {
    pub content: &'a tavern_shared::content::Content,
    pub maps: &'a Maps,
    pub tick: u32,
    pub log: &'a mut EventLog,
    pub ids: &'a mut StreamIds,
    pub commands: &'a mut Commands<'w, 's>,
}

impl Spill<'_, '_, '_> {
    /// Lays `drop` around `at` (each item stack and the gold apart, in a small ring on
    /// free ground) for [`LOOT_SECS`], logging each pile as dropped by `from`.
    pub fn lay(
        &mut self,
        drop: tavern_shared::combat::loot::Drop,
        at: Vec2,
        on: OnMap,
        presence: Presence,
        from: &str,
    ) {
        let until = self.tick.wrapping_add(secs_to_ticks(f64::from(LOOT_SECS)));
        let mut piles: Vec<(Option<String>, u32)> = Vec::new();
        for (item, count) in drop.items {
            match piles
                .iter_mut()
                .find(|(i, _)| i.as_deref() == Some(item.as_str()))
            {
                Some((_, n)) => *n += count,
                None => piles.push((Some(item), count)),
            }
        }
        if drop.gold > 0 {
            piles.push((None, drop.gold));
        }
        let map = self.maps.get(on.0);
        let n = piles.len().max(1) as f32;
        for (i, (item, count)) in piles.into_iter().enumerate() {
            let around = at + Vec2::from_angle(i as f32 / n * std::f32::consts::TAU) * 14.0;
            let spot = if n > 1.0 && map.collision.is_free(around, AVATAR_RADIUS * 0.5) {
                around
            } else {
                at
            };
            let label = match &item {
                Some(id) => {
                    let name = self
                        .content
                        .items
                        .get(id)
                        .map_or(id.as_str(), |i| i.name.as_str());
                    if count > 1 {
                        format!("{name} x{count}")
                    } else {
                        name.to_string()
                    }
                }
                None => format!("{count} gold"),
            };
            self.log.record(Event {
                map: &map.log,
                tick: self.tick,
                kind: "drop",
                actor: from.to_string(),
                target: String::new(),
                amount: i64::from(count),
                at: spot,
                detail: item.clone().unwrap_or_else(|| "gold".into()),
            });
            self.commands.spawn(pile_bundle(
                Pile {
                    loot: 0,
                    item,
                    count,
                    at: spot,
                    on,
                    presence,
                    until,
                    label,
                },
                self.ids,
            ));
        }
    }
}

fn receive_pickups(
    mut requests: MessageReader<FromClient<PickUp>>,
    mut pending: Query<&mut PendingPickups>,
    mut results: MessageWriter<ToClients<PickupResult>>,
) {
    for FromClient { client_id, message } in requests.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let Ok(mut queue) = pending.get_mut(client) else {
            continue;
        };
        if queue.0.len() >= 16 {
            results.write(to_client(
                client,
                refused(Some(message.id), message.loot, "too many pickups at once"),
            ));
            continue;
        }
        queue.0.push_back(*message);
    }
}

fn refused(id: Option<u32>, loot: StreamId, why: &str) -> PickupResult {
    PickupResult {
        id,
        loot,
        item: None,
        count: 0,
        refused: Some(why.to_string()),
    }
}

type Picker = (
    Entity,
    &'static AvatarState,
    &'static Presence,
    &'static DisplayName,
    &'static mut Inventory,
    &'static Owner,
    Has<Dead>,
    Option<&'static PlayerKey>,
);

type LootQuery = (
    Entity,
    &'static Loot,
    &'static StreamTag,
    &'static AvatarState,
    &'static Presence,
    &'static DisplayName,
);

/// Requests first, in the order they came, then whoever stands on loot; the first to
/// take a loot gets it, everyone after is told who did.
#[allow(clippy::too_many_arguments)]
fn pick_up(
    clock: Res<Clock>,
    mut taken: ResMut<Taken>,
    mut connections: Query<(Entity, &mut PendingPickups, &Controls)>,
    mut players: Query<Picker, (With<PlayerId>, Without<Loot>)>,
    loot: Query<LootQuery, Without<PlayerId>>,
    worker: Option<Res<InventoryWorker>>,
    maps: Res<Maps>,
    mut log: ResMut<EventLog>,
    mut results: MessageWriter<ToClients<PickupResult>>,
    mut updates: MessageWriter<ToClients<InventoryUpdate>>,
    mut commands: Commands,
) {
    let now = clock.0;
    taken
        .0
        .retain(|(.., at)| now.wrapping_sub(*at) < TAKEN_TICKS);
    // Loot taken this tick, and by whom: (loot entity, picker, its connection, request).
    let mut took: Vec<(Entity, Entity, Entity, Option<u32>)> = Vec::new();
    let name_of = |players: &Query<Picker, (With<PlayerId>, Without<Loot>)>, p: Entity| {
        players
            .get(p)
            .map(|(_, _, _, n, ..)| n.0.clone())
            .unwrap_or_default()
    };

    for (client, mut pending, controls) in &mut connections {
        for _ in 0..PICKUPS_PER_TICK {
            let Some(request) = pending.0.pop_front() else {
                break;
            };
            let target = loot
                .iter()
                .find(|(e, _, tag, ..)| tag.0 == request.loot && !took.iter().any(|t| t.0 == *e));
            let why_not = if let Some((_, by, who, _)) =
                taken.0.iter().find(|(id, ..)| *id == request.loot)
            {
                Some(if *who == controls.0 {
                    "you already took it".to_string()
                } else {
                    format!("already taken by {by}")
                })
            } else if let Ok((_, pos, presence, _, _, _, dead, _)) = players.get(controls.0) {
                match target {
                    _ if dead => Some("you are dead".to_string()),
                    Some((_, _, _, at, l_presence, _)) if can_see(presence, l_presence) => {
                        let distance = pos.motion.pos.distance(at.motion.pos);
                        (distance > PICKUP_REACH).then(|| {
                            format!(
                                "the loot is {distance:.0} px away; pick up within {PICKUP_REACH:.0} px"
                            )
                        })
                    }
                    _ => Some("there is no such loot here".to_string()),
                }
            } else {
                continue;
            };
            match (why_not, target) {
                (None, Some((entity, _, tag, ..))) => {
                    taken
                        .0
                        .push((tag.0, name_of(&players, controls.0), controls.0, now));
                    took.push((entity, controls.0, client, Some(request.id)));
                }
                (why, _) => {
                    let why = why.unwrap_or_else(|| "there is no such loot here".into());
                    results.write(to_client(
                        client,
                        refused(Some(request.id), request.loot, &why),
                    ));
                }
            }
        }
    }

    // Walking over loot: the nearest living player on it takes it; others on it are told.
    for (entity, _, tag, at, l_presence, _) in &loot {
        if took.iter().any(|t| t.0 == entity) {
            continue;
        }
        let mut on_it: Vec<(f32, Entity, Entity)> = players
            .iter()
            .filter(|(_, _, presence, _, _, _, dead, _)| !dead && can_see(presence, l_presence))
            .map(|(p, pos, _, _, _, owner, _, _)| {
                (pos.motion.pos.distance(at.motion.pos), p, owner.0)
            })
            .filter(|(d, ..)| *d <= WALK_OVER_RADIUS)
            .collect();
        if on_it.is_empty() {
            continue;
        }
        on_it.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (_, winner, client) = on_it[0];
        let winner_name = name_of(&players, winner);
        taken.0.push((tag.0, winner_name.clone(), winner, now));
        took.push((entity, winner, client, None));
        for (_, _, other) in &on_it[1..] {
            results.write(to_client(
                *other,
                refused(None, tag.0, &format!("already taken by {winner_name}")),
            ));
        }
    }

    for (entity, picker, client, request) in took {
        let (Ok((_, l, tag, at, presence, label)), Ok((_, _, _, _, mut inventory, _, _, key))) =
            (loot.get(entity), players.get_mut(picker))
        else {
            continue;
        };
        commands.entity(entity).despawn();
        match (&worker, key) {
            // Stored first; answered when it is.
            (Some(worker), Some(key)) => worker.send(Job::Add {
                avatar: picker,
                client,
                key: key.0.clone(),
                pile: Pile {
                    loot: tag.0,
                    item: l.item.clone(),
                    count: l.count,
                    at: at.motion.pos,
                    on: OnMap(presence.map),
                    presence: *presence,
                    until: l.until,
                    label: label.0.clone(),
                },
                request,
            }),
            _ => {
                inventory.add(l.item.as_deref(), l.count);
                log.record(picked(
                    &maps,
                    now,
                    key,
                    l.item.as_deref(),
                    l.count,
                    at.motion.pos,
                    presence.map,
                ));
                results.write(to_client(
                    client,
                    taken_result(request, tag.0, l.item.clone(), l.count),
                ));
                updates.write(to_client(client, inventory.update(None)));
            }
        }
    }
}

/// A pickup as the event log has it.
fn picked<'a>(
    maps: &'a Maps,
    tick: u32,
    key: Option<&PlayerKey>,
    item: Option<&str>,
    count: u32,
    at: Vec2,
    map: crate::world::MapId,
) -> Event<'a> {
    Event {
        map: &maps.get(map).log,
        tick,
        kind: "pickup",
        actor: key.map(|k| k.0.clone()).unwrap_or_default(),
        target: String::new(),
        amount: i64::from(count),
        at,
        detail: item.unwrap_or("gold").to_string(),
    }
}

fn taken_result(id: Option<u32>, loot: StreamId, item: Option<String>, count: u32) -> PickupResult {
    PickupResult {
        id,
        loot,
        item,
        count,
        refused: None,
    }
}

/// Takes the storage task's answers: a loaded inventory, a pickup stored (now told to
/// the player) or not (the pile goes back on the ground), a potion taken out.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish_jobs(
    worker: Option<Res<InventoryWorker>>,
    content: Option<Res<ContentHandle>>,
    clock: Res<Clock>,
    maps: Res<Maps>,
    mut log: ResMut<EventLog>,
    mut players: Query<
        (
            &mut Inventory,
            &mut Vitals,
            &mut AvatarState,
            &Owner,
            Option<&PlayerKey>,
        ),
        With<PlayerId>,
    >,
    mut ids: ResMut<StreamIds>,
    mut results: MessageWriter<ToClients<PickupResult>>,
    mut updates: MessageWriter<ToClients<InventoryUpdate>>,
    mut keys: MessageWriter<KeyTaken>,
    connected: Query<(), With<ConnectedClient>>,
    mut commands: Commands,
) {
    let Some(worker) = worker else {
        return;
    };
    let done: Vec<Done> = match worker.done.lock() {
        Ok(rx) => rx.try_iter().collect(),
        Err(_) => return,
    };
    for done in done {
        match done {
            Done::Loaded { avatar, result } => {
                let Ok((mut inventory, _, _, owner, _)) = players.get_mut(avatar) else {
                    continue;
                };
                match result {
                    Ok((gold, items)) => {
                        *inventory = Inventory { gold, items };
                        updates.write(to_client(owner.0, inventory.update(None)));
                    }
                    Err(e) => error!("cannot read an inventory: {e}"),
                }
            }
            Done::Added {
                avatar,
                client,
                pile,
                request,
                result: Ok(()),
            } => {
                if let Ok((mut inventory, _, _, _, key)) = players.get_mut(avatar) {
                    inventory.add(pile.item.as_deref(), pile.count);
                    if connected.contains(client) {
                        updates.write(to_client(client, inventory.update(None)));
                    }
                    log.record(picked(
                        &maps,
                        clock.0,
                        key,
                        pile.item.as_deref(),
                        pile.count,
                        pile.at,
                        pile.on.0,
                    ));
                }
                // The player may have dropped since (its avatar waits for it).
                if !connected.contains(client) {
                    continue;
                }
                results.write(to_client(
                    client,
                    taken_result(request, pile.loot, pile.item, pile.count),
                ));
            }
            Done::Added {
                client,
                pile,
                request,
                result: Err(e),
                ..
            } => {
                error!("cannot store a pickup: {e}");
                if connected.contains(client) {
                    results.write(to_client(
                        client,
                        refused(
                            request,
                            pile.loot,
                            "the pickup could not be stored; it is back on the ground",
                        ),
                    ));
                }
                commands.spawn(pile_bundle(pile, &mut ids));
            }
            Done::Took {
                avatar,
                client,
                item,
                purpose,
                result,
            } => {
                if let Purpose::Unlock { map, door } = purpose {
                    keys.write(KeyTaken {
                        avatar,
                        map,
                        door,
                        used: matches!(result, Ok(true)),
                    });
                }
                let Ok((mut inventory, mut vitals, mut state, _, _)) = players.get_mut(avatar)
                else {
                    continue;
                };
                let why_not = match result {
                    Ok(true) => {
                        inventory.take_one(&item);
                        if let Some(i) = content
                            .as_ref()
                            .and_then(|c| c.current().content.items.get(&item).cloned())
                            .filter(|_| purpose == Purpose::Drink)
                        {
                            drink(&i, &mut vitals, &mut state);
                        }
                        None
                    }
                    Ok(false) => Some("you have none left".to_string()),
                    Err(e) => {
                        error!("cannot take an item out of an inventory: {e}");
                        Some("the item could not be used right now".to_string())
                    }
                };
                if connected.contains(client) {
                    updates.write(to_client(client, inventory.update(why_not)));
                }
            }
        }
    }
}

/// A potion's health and mana come back.
fn drink(item: &tavern_shared::content::Item, vitals: &mut Vitals, state: &mut AvatarState) {
    vitals.health = (vitals.health + item.heal).min(vitals.max_health);
    vitals.mana = (vitals.mana + item.restore_mana).min(vitals.max_mana);
    state.health = tavern_shared::avatar::health_bar(vitals.health, vitals.max_health);
}

/// Potions: one is taken out (stored first) and its health or mana comes back.
fn use_items(
    content: Option<Res<ContentHandle>>,
    worker: Option<Res<InventoryWorker>>,
    mut uses: MessageReader<FromClient<UseItem>>,
    connections: Query<&Controls>,
    mut players: Query<
        (
            &mut Inventory,
            &mut Vitals,
            &mut AvatarState,
            Has<Dead>,
            Option<&PlayerKey>,
        ),
        With<PlayerId>,
    >,
    mut updates: MessageWriter<ToClients<InventoryUpdate>>,
) {
    let Some(content) = content else {
        return;
    };
    let served = content.current();
    for FromClient { client_id, message } in uses.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let Ok(controls) = connections.get(client) else {
            continue;
        };
        let Ok((mut inventory, mut vitals, mut state, dead, key)) = players.get_mut(controls.0)
        else {
            continue;
        };
        let item = served.content.items.get(&message.item);
        let why_not = match item {
            _ if dead => Some("you are dead".to_string()),
            None => Some(format!(
                "{} is not an item",
                message.item.chars().take(64).collect::<String>()
            )),
            Some(i) if i.kind == ItemKind::Key => Some(format!(
                "walk up to the door the {} opens, and it opens",
                i.name
            )),
            Some(i) if i.kind != ItemKind::Consumable => {
                Some(format!("{} cannot be used like that", i.name))
            }
            Some(i) if !inventory.items.contains_key(&message.item) => {
                Some(format!("you have no {}", i.name))
            }
            Some(_) => None,
        };
        match (why_not, item, &worker, key) {
            (None, Some(_), Some(worker), Some(key)) => worker.send(Job::Take {
                avatar: controls.0,
                client,
                key: key.0.clone(),
                item: message.item.clone(),
                purpose: Purpose::Drink,
            }),
            (None, Some(i), ..) => {
                inventory.take_one(&message.item);
                drink(i, &mut vitals, &mut state);
                updates.write(to_client(client, inventory.update(None)));
            }
            (why, ..) => {
                updates.write(to_client(client, inventory.update(why)));
            }
        }
    }
}

fn expire_loot(clock: Res<Clock>, loot: Query<(Entity, &Loot)>, mut commands: Commands) {
    for (entity, l) in &loot {
        if clock.0 >= l.until {
            commands.entity(entity).despawn();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inventory_counts_gold_and_stacks_and_gives_them_back() {
        let mut inv = Inventory::default();
        inv.add(None, 12);
        inv.add(Some("potion"), 2);
        inv.add(Some("potion"), 1);
        assert_eq!(inv.gold, 12);
        assert_eq!(inv.items["potion"], 3);
        assert!(inv.take_one("potion"));
        assert!(inv.take_one("potion"));
        assert!(inv.take_one("potion"));
        assert!(!inv.take_one("potion"));
        assert!(inv.items.is_empty());
        let update = inv.update(Some("no".into()));
        assert_eq!((update.gold, update.items.len()), (12, 0));
    }
}
