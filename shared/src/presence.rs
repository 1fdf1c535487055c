//! Presence: who is in the player's room, on which map, and whether each is online,
//! away or reconnecting. The server sends the room's list when it changes.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::PlayerStatus;

/// One player of the room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub client_id: u64,
    pub name: String,
    /// The map of the room the player is on.
    pub map: String,
    pub status: PlayerStatus,
}

/// Server → client, reliable: everyone in the player's room (itself included), sorted
/// by name. Sent on arrival and whenever someone joins, leaves, changes map or status.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoomRoster {
    /// The room's id and name.
    pub room: String,
    pub room_name: String,
    pub players: Vec<RosterEntry>,
}
