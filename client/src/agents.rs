//! The client's side of NPC conversations: which NPC the player is talking to, what
//! the server said about NPCs (busy, could not answer), and saying goodbye. The lines
//! themselves are chat lines on `ChatChannel::Agent`, kept in the chat log.

use bevy::prelude::*;
use tavern_shared::agent::{AgentClosed, AgentLeave, AgentNotice, AgentOpened};
use tavern_shared::chat::ChatChannel;

use crate::PlaySystems;

/// Longest list of notices kept.
const MAX_NOTICES: usize = 50;

/// The open conversation and what happened around it.
#[derive(Resource, Debug, Default, Clone)]
pub struct Conversation {
    /// The NPC the player is talking to now.
    pub open: Option<AgentOpened>,
    /// Why the last conversation ended.
    pub last_closed: Option<AgentClosed>,
    /// Busy NPCs, failed replies, newest last, each with when it arrived (Unix ms).
    pub notices: Vec<(AgentNotice, i64)>,
    pub opened: u32,
}

impl Conversation {
    /// The chat channel of the open conversation.
    pub fn channel(&self) -> Option<ChatChannel> {
        self.open
            .as_ref()
            .map(|o| ChatChannel::Agent(o.agent.clone()))
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Conversation>()
        .add_systems(PreUpdate, receive.in_set(PlaySystems::Receive));
}

fn receive(
    mut opened: MessageReader<AgentOpened>,
    mut closed: MessageReader<AgentClosed>,
    mut notices: MessageReader<AgentNotice>,
    mut talk: ResMut<Conversation>,
) {
    for o in opened.read() {
        talk.opened += 1;
        talk.open = Some(o.clone());
    }
    for c in closed.read() {
        if talk.open.as_ref().is_some_and(|o| o.agent == c.agent) {
            talk.open = None;
        }
        talk.last_closed = Some(c.clone());
    }
    for n in notices.read() {
        let now = web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        talk.notices.push((n.clone(), now));
        if talk.notices.len() > MAX_NOTICES {
            talk.notices.remove(0);
        }
    }
}

/// Ends the open conversation (the server confirms with [`AgentClosed`]).
pub fn leave(world: &mut World) {
    let agent = world
        .resource::<Conversation>()
        .open
        .as_ref()
        .map(|o| o.agent.clone());
    if let Some(agent) = agent {
        world.write_message(AgentLeave { agent });
    }
}
