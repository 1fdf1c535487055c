//! What goes over the wire for combat: a player's intention to use an ability, the
//! server's answer, and what players in view see happen (hits, deaths, casts).

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::stream::StreamId;

/// Longest ability id a client may send, in bytes.
pub const MAX_ABILITY_ID: usize = 64;

/// Client → server, reliable: use `ability` (an id on the player's hotbar), aimed at
/// `aim` (map pixels; `None`: at the nearest enemy in front), after the player's input
/// numbered `input_seq` has been applied, so the server judges it from where the player
/// saw itself.
#[derive(Message, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UseAbility {
    /// Numbers the player's uses (the client's choice); the answer carries it back.
    pub id: u32,
    pub ability: String,
    pub aim: Option<Vec2>,
    pub input_seq: u32,
}

/// Server → client, reliable: what became of the [`UseAbility`] numbered `id`.
/// `refused` is the reason shown to the player when it was not used (nothing changed
/// then).
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbilityResult {
    pub id: u32,
    pub ability: String,
    pub refused: Option<String>,
}

/// Something that happened in a fight, told to every player who can see where it
/// happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CombatEvent {
    /// `who` used `ability` at `at` (where its projectile or swing goes).
    Cast {
        who: StreamId,
        ability: String,
        at: Vec2,
    },
    /// `target` lost `amount` health to `attacker`'s ability (`None`: an effect such as
    /// poison).
    Hit {
        attacker: Option<StreamId>,
        target: StreamId,
        amount: u32,
        crit: bool,
    },
    /// `who` died; `credited` are the players' avatars that hurt it (for a monster),
    /// `respawn_secs` when it comes back (for a player).
    Died {
        who: StreamId,
        credited: Vec<StreamId>,
        respawn_secs: Option<f32>,
    },
    /// `who` came back to life at `at`.
    Respawned { who: StreamId, at: Vec2 },
    /// The boss `who` entered its phase `name` (told to everyone on its map).
    Phase { who: StreamId, name: String },
}

/// Server → client, reliable: the combat events of one send that this player can see,
/// in the order they happened.
#[derive(Message, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CombatEvents {
    pub events: Vec<CombatEvent>,
}

/// How close (px, centre to centre) a player must be to pick loot up; walking within
/// [`WALK_OVER_RADIUS`] picks it up by itself.
pub const PICKUP_REACH: f32 = 40.0;
pub const WALK_OVER_RADIUS: f32 = 16.0;

/// Client → server, reliable: pick up the loot with this stream id; `id` numbers the
/// player's requests (the answer carries it back).
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickUp {
    pub id: u32,
    pub loot: StreamId,
}

/// Server → client, reliable: a pickup, asked for or walked into. `refused` says why
/// nothing was taken ("already taken by Ada", too far); otherwise the player now holds
/// `count` more of `item` (`None`: gold), already stored.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickupResult {
    /// The request answered; `None` when the player walked over the loot.
    pub id: Option<u32>,
    pub loot: StreamId,
    pub item: Option<String>,
    pub count: u32,
    pub refused: Option<String>,
}

/// Client → server, reliable: use one of an item held (a potion).
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseItem {
    pub item: String,
}

/// Server → client, reliable: what the player holds, sent when it changes (and on
/// joining), with the reason when an item could not be used.
#[derive(Message, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryUpdate {
    pub gold: u64,
    /// Item ids and counts, by id.
    pub items: Vec<(String, u32)>,
    pub refused: Option<String>,
}

/// Server → client, reliable: the doors, chests and rooms of the player's map `map`,
/// numbered as [`crate::map::rooms::Rooms::of`] numbers them. Sent on entering a map
/// (and after it was edited) and to everyone on it whenever one of them changes.
#[derive(Message, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DungeonState {
    pub map: String,
    pub doors_open: Vec<bool>,
    /// Open since their room was last cleared.
    pub chests_open: Vec<bool>,
    /// No monster of theirs alive.
    pub rooms_cleared: Vec<bool>,
}

/// Server → client, reliable: why the door the player walked into stays shut ("The
/// Lair door needs an Iron key"), or that the player's key opened it.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorNotice {
    pub door: u16,
    pub text: String,
}
