//! Tavern's shared crate: the protocol, replicated components and the deterministic
//! simulation that the server runs and the client predicts with.

pub mod agent;
pub mod api;
pub mod assets;
pub mod avatar;
pub mod chat;
pub mod collision;
pub mod combat;
pub mod content;
pub mod dice;
pub mod events;
pub mod gm;
pub mod input;
pub mod map;
pub mod movement;
pub mod pathing;
pub mod presence;
pub mod protocol;
pub mod proximity;
pub mod stream;
pub mod voice;

pub use protocol::plugin as protocol_plugin;
