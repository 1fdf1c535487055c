//! Who is near the own avatar, as the server says (it sends a [`Nearby`] message when
//! someone comes within the proximity radius or leaves it).

use std::collections::BTreeSet;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::protocol::Nearby;

use crate::PlaySystems;

/// Client ids of the players near the own avatar, and how many changes were heard.
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct NearbyPlayers {
    pub near: BTreeSet<u64>,
    /// Enter and leave messages received since connecting (for bot reports).
    pub events: u64,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<NearbyPlayers>()
        .add_systems(PreUpdate, receive_nearby.in_set(PlaySystems::Receive))
        .add_systems(OnExit(ClientState::Connected), forget_nearby);
}

fn receive_nearby(mut messages: MessageReader<Nearby>, mut nearby: ResMut<NearbyPlayers>) {
    for m in messages.read() {
        nearby.events += 1;
        if m.near {
            nearby.near.insert(m.player);
        } else {
            nearby.near.remove(&m.player);
        }
    }
}

fn forget_nearby(mut nearby: ResMut<NearbyPlayers>) {
    nearby.near.clear();
}
