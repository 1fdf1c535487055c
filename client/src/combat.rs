//! The client's side of combat: sends the player's [`UseAbility`] intentions (after the
//! input it has predicted, so the server judges from the same spot), and keeps what the
//! server answered and what it told of fights in view ([`CombatLog`]), for the HUD, the
//! floating numbers and the bots' reports. It decides nothing: hits, deaths and
//! refusals all come from the server.

use std::collections::VecDeque;
use std::sync::Arc;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::combat::messages::{
    AbilityResult, CombatEvent, CombatEvents, InventoryUpdate, PickUp, PickupResult, UseAbility,
    UseItem,
};
use tavern_shared::content::Content;
use tavern_shared::stream::StreamId;

use crate::PlaySystems;
use crate::http::{Pending, Taken};
use crate::prediction::Prediction;
use crate::stream::StreamBook;

/// Most events and answers kept for showing.
const KEEP: usize = 256;

/// What the server said about fights: answers to the own uses, recent events, and
/// running counts for reports.
#[derive(Resource, Debug, Default, Clone)]
pub struct CombatLog {
    /// Newest last.
    pub answers: VecDeque<AbilityResult>,
    pub events: VecDeque<CombatEvent>,
    /// Uses sent and not answered yet.
    pub awaiting: u32,
    /// The number of the last use sent.
    last_use: u32,
    /// Monsters that died with the own avatar among those credited.
    pub kills: u32,
    /// Times the own avatar died.
    pub deaths: u32,
    /// Damage the own avatar's hits did.
    pub damage_dealt: u64,
    /// Uses the server refused.
    pub refused: u32,
    /// Seconds the own avatar waits to come back, when it is dead.
    pub respawn_secs: Option<f32>,
    /// When (seconds since start) the own avatar comes back, when it is dead.
    pub back_at: Option<f64>,
    /// The phase each boss in view last entered, by stream id.
    pub boss_phases: std::collections::HashMap<StreamId, String>,
    /// Loot picked up; pickups lost to someone who was first; other refused pickups.
    pub loot_picked: u32,
    pub pickups_lost: u32,
    pub pickups_refused: u32,
    /// Answers to pickups, newest last.
    pub pickups: VecDeque<PickupResult>,
    last_pickup: u32,
}

/// What the own player holds, as the server last said (gold, item ids and counts), and
/// why an item could not be used, if it could not.
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct Inventory(pub InventoryUpdate);

impl CombatLog {
    /// The last reason the server gave for refusing a use.
    pub fn last_refusal(&self) -> Option<&str> {
        self.answers.iter().rev().find_map(|a| a.refused.as_deref())
    }

    fn take(&mut self, event: &CombatEvent, me: Option<StreamId>, now: f64) {
        match event {
            CombatEvent::Hit {
                attacker, amount, ..
            } if attacker.is_some() && *attacker == me => {
                self.damage_dealt += u64::from(*amount);
            }
            CombatEvent::Died {
                who,
                credited,
                respawn_secs,
            } => {
                if Some(*who) == me {
                    self.deaths += 1;
                    self.respawn_secs = *respawn_secs;
                    self.back_at = respawn_secs.map(|s| now + f64::from(s));
                } else if me.is_some_and(|me| credited.contains(&me)) {
                    self.kills += 1;
                }
            }
            CombatEvent::Respawned { who, .. } if Some(*who) == me => {
                self.respawn_secs = None;
                self.back_at = None;
            }
            CombatEvent::Phase { who, name } => {
                self.boss_phases.insert(*who, name.clone());
            }
            _ => {}
        }
        if self.events.len() >= KEEP {
            self.events.pop_front();
        }
        self.events.push_back(event.clone());
    }
}

/// The server's game content (names, sprites, the hotbar's abilities), fetched from
/// `/api/content` once connected; `None` until it arrives.
#[derive(Resource, Debug, Default, Clone)]
pub struct GameContent(pub Option<Arc<Content>>);

/// The fetch under way.
#[derive(Resource)]
struct FetchingContent(Pending<Result<Content, String>>);

pub fn plugin(app: &mut App) {
    app.init_resource::<CombatLog>()
        .init_resource::<GameContent>()
        .init_resource::<Inventory>()
        .add_systems(
            PreUpdate,
            (receive, receive_loot).in_set(PlaySystems::Receive),
        )
        .add_systems(OnEnter(ClientState::Connected), fetch_content)
        .add_systems(
            Update,
            take_content.run_if(resource_exists::<FetchingContent>),
        )
        .add_systems(OnExit(ClientState::Connected), forget);
}

fn fetch_content(
    mut commands: Commands,
    content: Res<GameContent>,
    target: Option<Res<crate::connection::ServerTarget>>,
) {
    let Some(target) = target.filter(|_| content.0.is_none()) else {
        return;
    };
    let url = target.url.clone();
    commands.insert_resource(FetchingContent(crate::http::spawn(async move {
        crate::login::fetch_content(&url).await
    })));
}

fn take_content(
    mut commands: Commands,
    fetching: Res<FetchingContent>,
    mut content: ResMut<GameContent>,
) {
    match fetching.0.take() {
        Taken::Waiting => return,
        Taken::Done(Ok(fetched)) => content.0 = Some(Arc::new(fetched)),
        Taken::Done(Err(e)) => warn!("cannot show monsters and the hotbar: {e}"),
        Taken::Lost => warn!("the content fetch ended without an answer"),
    }
    commands.remove_resource::<FetchingContent>();
}

fn receive(
    mut answers: MessageReader<AbilityResult>,
    mut events: MessageReader<CombatEvents>,
    book: Res<StreamBook>,
    time: Res<Time>,
    mut log: ResMut<CombatLog>,
) {
    for answer in answers.read() {
        log.awaiting = log.awaiting.saturating_sub(1);
        if answer.refused.is_some() {
            log.refused += 1;
        }
        if log.answers.len() >= KEEP {
            log.answers.pop_front();
        }
        log.answers.push_back(answer.clone());
    }
    let me = book.own_id();
    for batch in events.read() {
        for event in &batch.events {
            log.take(event, me, time.elapsed_secs_f64());
        }
    }
}

fn receive_loot(
    mut results: MessageReader<PickupResult>,
    mut updates: MessageReader<InventoryUpdate>,
    mut log: ResMut<CombatLog>,
    mut inventory: ResMut<Inventory>,
) {
    for result in results.read() {
        match &result.refused {
            None => log.loot_picked += 1,
            Some(why) if why.starts_with("already taken by") => log.pickups_lost += 1,
            Some(_) => log.pickups_refused += 1,
        }
        if log.pickups.len() >= KEEP {
            log.pickups.pop_front();
        }
        log.pickups.push_back(result.clone());
    }
    if let Some(update) = updates.read().last() {
        inventory.0 = update.clone();
    }
}

/// Asks the server for the loot `loot` (a stream id). Returns the request.
pub fn pick_up(world: &mut World, loot: StreamId) -> PickUp {
    let request = world.resource_mut::<CombatLog>().next_pickup(loot);
    world.write_message(request);
    request
}

/// Asks the server to use one of an item held (a potion).
pub fn use_item(world: &mut World, item: &str) {
    world.write_message(UseItem {
        item: item.to_string(),
    });
}

fn forget(mut log: ResMut<CombatLog>) {
    let kept = CombatLog {
        last_use: log.last_use,
        last_pickup: log.last_pickup,
        loot_picked: log.loot_picked,
        pickups_lost: log.pickups_lost,
        pickups_refused: log.pickups_refused,
        kills: log.kills,
        deaths: log.deaths,
        damage_dealt: log.damage_dealt,
        refused: log.refused,
        ..default()
    };
    *log = kept;
}

impl CombatLog {
    /// The next request for the loot `loot`.
    pub fn next_pickup(&mut self, loot: StreamId) -> PickUp {
        self.last_pickup = self.last_pickup.wrapping_add(1);
        PickUp {
            id: self.last_pickup,
            loot,
        }
    }

    /// The next use of `ability` aimed at `aim`, after the newest input predicted
    /// (counted as awaiting its answer).
    pub fn next_use(
        &mut self,
        prediction: &Prediction,
        ability: &str,
        aim: Option<Vec2>,
    ) -> UseAbility {
        self.last_use = self.last_use.wrapping_add(1);
        self.awaiting += 1;
        UseAbility {
            id: self.last_use,
            ability: ability.to_string(),
            aim,
            input_seq: prediction.next_seq().saturating_sub(1),
        }
    }
}

/// Asks the server to use `ability` aimed at `aim` (map pixels; `None`: the nearest
/// enemy in front). Returns the message sent.
pub fn use_ability(world: &mut World, ability: &str, aim: Option<Vec2>) -> UseAbility {
    let message = world.resource_scope(|world, mut log: Mut<CombatLog>| {
        log.next_use(world.resource::<Prediction>(), ability, aim)
    });
    world.write_message(message.clone());
    message
}
