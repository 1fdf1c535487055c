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
