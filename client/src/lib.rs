//! Tavern's client: connection, prediction and interpolation shared by the desktop game
//! and the headless bots, plus (feature `render`) the windowed game itself.

pub mod agents;
pub mod assets;
pub mod bot;
#[cfg(not(target_arch = "wasm32"))]
pub mod campaign;
pub mod chat;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod combat;
pub mod connection;
pub mod controls;
pub mod dungeon;
pub mod events;
pub mod fight;
pub mod handouts;
pub mod http;
pub mod interpolation;
#[cfg(not(target_arch = "wasm32"))]
pub mod light;
#[cfg(not(target_arch = "wasm32"))]
pub mod load;
pub mod login;
pub mod meetings;
pub mod offers;
pub mod prediction;
pub mod proximity;
pub mod roster;
pub mod sessions;
pub mod stream;
pub mod table;
pub mod voice;
#[cfg(not(target_arch = "wasm32"))]
pub mod websocket;
pub mod webtransport;

#[cfg(all(feature = "render", not(target_arch = "wasm32")))]
pub mod desktop;
#[cfg(feature = "embedded-server")]
pub mod embedded;
#[cfg(feature = "render")]
pub mod render;
#[cfg(feature = "render")]
pub mod web;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon_renet2::RepliconRenetPlugins;
use tavern_shared::movement::TICK_HZ;

/// The client's system order, declared once here.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaySystems {
    /// PreUpdate: log in, open and watch the link.
    Connection,
    /// PreUpdate: take in the avatar stream (who is in view, their states).
    Stream,
    /// PreUpdate: take in what the server sent (map, own state, remote states).
    Receive,
    /// FixedUpdate: decide this tick's input (keyboard, gamepad, bot brain).
    Input,
    /// FixedUpdate: predict the own avatar from that input.
    Predict,
    /// PostUpdate: send unacknowledged inputs.
    Send,
    /// Update: compute what to draw.
    Present,
}

/// Networking and simulation of a client, without any window. Add it after the base
/// plugins (`DefaultPlugins`, or `MinimalPlugins` with `StatesPlugin`).
pub fn plugin(app: &mut App) {
    app.add_plugins((RepliconPlugins, RepliconRenetPlugins))
        .add_plugins(tavern_shared::protocol_plugin)
        .insert_resource(Time::<Fixed>::from_hz(TICK_HZ))
        .configure_sets(
            PreUpdate,
            (
                PlaySystems::Connection,
                PlaySystems::Stream,
                PlaySystems::Receive,
            )
                .chain()
                .after(ClientSystems::Receive),
        )
        .configure_sets(
            FixedUpdate,
            (PlaySystems::Input, PlaySystems::Predict).chain(),
        )
        .configure_sets(PostUpdate, PlaySystems::Send.before(ClientSystems::Send))
        .configure_sets(Update, PlaySystems::Present)
        .add_plugins((
            connection::plugin,
            stream::plugin,
            prediction::plugin,
            interpolation::plugin,
            proximity::plugin,
            chat::plugin,
            meetings::plugin,
            agents::plugin,
            combat::plugin,
            dungeon::plugin,
            roster::plugin,
            events::plugin,
            assets::plugin,
            table::plugin,
            handouts::plugin,
        ))
        .add_plugins(voice::plugin);
}
