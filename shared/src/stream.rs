//! The avatar stream: how avatars reach the players who can see them.
//!
//! Avatars are not replicated entity by entity; each send the server works out, for
//! each player, which avatars are in view and which of their states the player does
//! not have yet, and sends that as three messages:
//!
//! - [`AvatarRoster`] (reliable, ordered): avatars that came into view, each with its
//!   id, player, name and state, and those that left it;
//! - [`AvatarStates`] (unreliable): the newest state of each avatar in view whose last
//!   state the player has not acknowledged, and the player's own avatar with the last
//!   input the server applied to it;
//! - [`StatesAck`] (client to server, unreliable): which [`AvatarStates`] arrived.
//!
//! A state is sent until a packet holding it (or a newer one) is acknowledged, so a
//! lost packet costs one more send of the avatars in it, an avatar standing still
//! costs nothing once its last state arrived, and a connection that cannot keep up
//! gets the newest state of each avatar, never a queue of old ones.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::avatar::AvatarState;

/// The server's id of an avatar on the wire: small, so it costs one to three bytes.
pub type StreamId = u32;

/// What a streamed body is (on the server, a component of each).
#[derive(Component, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// A player's avatar: the player's client id ([`crate::avatar::PlayerId`]).
    Player(u64),
    /// A monster: its enemy type's id in the content (`/api/content/enemy-types/{id}`).
    Monster(String),
    /// Loot on the ground: `count` of an item (its id in the content), or of gold.
    Loot { item: Option<String>, count: u32 },
}

/// An avatar (or monster) that came into a player's view, as it is at the send numbered
/// `seq`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AvatarIntro {
    pub id: StreamId,
    pub actor: Actor,
    /// The player's name, or the monster's.
    pub name: String,
    pub state: AvatarState,
    /// A player's avatar's look ([`crate::avatar::LOOKS`]); 0 for the rest.
    pub look: u8,
}

impl AvatarIntro {
    /// The player's client id, for a player's avatar.
    pub fn player(&self) -> Option<u64> {
        match self.actor {
            Actor::Player(id) => Some(id),
            Actor::Monster(_) | Actor::Loot { .. } => None,
        }
    }
}

/// Server → client, reliable and ordered: who came into view and who left it, decided
/// at the send numbered `seq` (states of those avatars in packets after `seq` are newer
/// than the ones here).
#[derive(Message, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AvatarRoster {
    pub seq: u32,
    pub entered: Vec<AvatarIntro>,
    pub left: Vec<StreamId>,
}

/// The server's state of the receiving player's own avatar.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnState {
    pub state: AvatarState,
    /// The sequence number of the last of the player's inputs applied (0 before any):
    /// prediction replays the inputs after it from `state`.
    pub last_input: u32,
    /// Health, mana and stamina.
    pub vitals: crate::combat::Vitals,
    /// Counts the times the server placed the avatar itself (it died, it came back):
    /// prediction starts over from such a state instead of counting a correction.
    pub warps: u8,
    /// The avatar stands still whatever its inputs say (the GM paused the game): the
    /// server uses its inputs up without moving it, and prediction does the same.
    pub held: bool,
}

/// Server → client, unreliable: the newest states the player does not have yet.
#[derive(Message, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AvatarStates {
    /// Numbers every packet of states sent to this player, from 1 up.
    pub seq: u32,
    pub own: Option<OwnState>,
    pub others: Vec<(StreamId, AvatarState)>,
}

/// Most other avatars' states in one [`AvatarStates`]: at most 17 bytes each, so a
/// packet stays within one datagram.
pub const STATES_PER_PACKET: usize = 64;

/// Client → server, unreliable: the newest [`AvatarStates`] received, and which of the
/// 64 before it arrived (bit `i` is `newest - 1 - i`).
#[derive(Message, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatesAck {
    pub newest: u32,
    pub earlier: u64,
}

impl StatesAck {
    /// Records that packet `seq` arrived.
    pub fn record(&mut self, seq: u32) {
        if seq == 0 {
            return;
        }
        if seq > self.newest {
            let shift = seq - self.newest;
            self.earlier = if shift > 64 {
                0
            } else {
                // The old newest becomes bit shift - 1.
                let moved = if shift == 64 {
                    0
                } else {
                    self.earlier << shift
                };
                if self.newest == 0 {
                    moved
                } else {
                    moved | 1 << (shift - 1)
                }
            };
            self.newest = seq;
        } else if seq < self.newest {
            let back = self.newest - seq;
            if back <= 64 {
                self.earlier |= 1 << (back - 1);
            }
        }
    }

    /// Whether packet `seq` is acknowledged.
    pub fn covers(&self, seq: u32) -> bool {
        if seq == 0 || seq > self.newest {
            return false;
        }
        let back = self.newest - seq;
        back == 0 || (back <= 64 && self.earlier & (1 << (back - 1)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::movement::{Facing, MoveState, quantize};

    #[test]
    fn acknowledgements_cover_exactly_what_arrived() {
        let mut ack = StatesAck::default();
        assert!(!ack.covers(1));
        for seq in [1, 2, 4, 3, 7, 40] {
            ack.record(seq);
        }
        for seq in [1, 2, 3, 4, 7, 40] {
            assert!(ack.covers(seq), "{seq}");
        }
        for seq in [5, 6, 8, 39, 41, 0] {
            assert!(!ack.covers(seq), "{seq}");
        }
        // Late arrivals within the window are recorded.
        ack.record(39);
        ack.record(5);
        assert!(ack.covers(39) && ack.covers(5));
        // Past 64 packets back, nothing is known.
        ack.record(70);
        assert!(ack.covers(7) && ack.covers(70) && !ack.covers(4) && !ack.covers(6));
        ack.record(3);
        assert!(!ack.covers(3));
        // A jump of exactly the window keeps the old newest as the last bit.
        let mut ack = StatesAck::default();
        ack.record(10);
        ack.record(74);
        assert!(ack.covers(10) && ack.covers(74) && !ack.covers(11));
        ack.record(200);
        assert!(ack.covers(200) && !ack.covers(74));
    }

    #[test]
    fn a_full_packet_of_states_fits_in_one_datagram() {
        // The largest position on a map the server accepts, the longest ids.
        let state = AvatarState {
            motion: MoveState {
                pos: quantize(Vec2::new(-1.0e6, 1.0e6)),
                facing: Facing::Left,
                moving: true,
                running: true,
            },
            health: 1,
        };
        let packet = AvatarStates {
            seq: u32::MAX,
            own: Some(OwnState {
                state,
                last_input: u32::MAX,
                vitals: crate::combat::Vitals {
                    health: u32::MAX,
                    max_health: u32::MAX,
                    mana: u32::MAX,
                    max_mana: u32::MAX,
                    stamina: u32::MAX,
                    max_stamina: u32::MAX,
                },
                warps: u8::MAX,
                held: true,
            }),
            others: vec![(u32::MAX, state); STATES_PER_PACKET],
        };
        let bytes = postcard::to_allocvec(&packet).unwrap();
        assert!(bytes.len() <= 1100, "{} bytes", bytes.len());
    }
}
