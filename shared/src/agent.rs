//! NPC agents: the replicated NPC, the messages of a conversation with one, and how near
//! a player must stand to talk. The server runs the conversations; the client shows them.

use bevy::prelude::*;
use bevy_replicon::prelude::Replicated;
use serde::{Deserialize, Serialize};

use crate::map::Area;

/// A player this close to a point NPC (an `agentId` object without an area) can talk to
/// it; for an NPC with an area, anywhere inside the area will do too.
pub const TALK_RADIUS: f32 = 48.0;
/// A conversation ends when the player gets this much farther away than talking needs.
pub const LEAVE_SLACK: f32 = 32.0;

/// An NPC standing on a map, placed by an `agentId` zone or object.
#[derive(Component, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[require(Replicated)]
pub struct Npc {
    /// The `agentId`: which script or webhook agent speaks for it.
    pub agent: String,
    /// The name shown above it and in its conversation window.
    pub name: String,
    /// Where it stands (map pixels).
    pub pos: Vec2,
    /// The player it is talking to; others see it as busy.
    pub busy_with: Option<String>,
}

/// Whether a player at `pos` can talk to an NPC placed by `area` (`slack` pixels of
/// grace, for keeping a conversation going rather than starting one).
pub fn in_reach(area: &Area, pos: Vec2, slack: f32) -> bool {
    area.contains(pos) || area.anchor().distance(pos) <= TALK_RADIUS + slack
}

/// Server → client, reliable: a conversation with an NPC has begun; lines on
/// `ChatChannel::Agent(agent)` belong to it.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentOpened {
    pub agent: String,
    pub name: String,
}

/// Server → client, reliable: the conversation has ended, and why.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentClosed {
    pub agent: String,
    pub reason: String,
}

/// Server → client, reliable: something the player should know about an NPC that is not
/// one of its lines: it is busy, or it could not answer.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentNotice {
    pub agent: String,
    pub text: String,
}

/// Client → server, reliable: the player closed the conversation window.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLeave {
    pub agent: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_covers_the_area_and_a_ring_around_its_anchor() {
        let point = Area::Point(Vec2::new(100.0, 100.0));
        assert!(in_reach(&point, Vec2::new(100.0, 140.0), 0.0));
        assert!(!in_reach(&point, Vec2::new(100.0, 150.0), 0.0));
        assert!(in_reach(&point, Vec2::new(100.0, 150.0), LEAVE_SLACK));
        let room = Area::Rect(Rect::new(0.0, 0.0, 400.0, 400.0));
        assert!(
            in_reach(&room, Vec2::new(10.0, 10.0), 0.0),
            "inside, far from the anchor"
        );
        assert!(!in_reach(&room, Vec2::new(500.0, 10.0), 0.0));
    }
}
