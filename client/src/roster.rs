//! The players of this client's room as the server last listed them, with their map
//! and whether each is online, away or reconnecting.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::presence::RoomRoster;

use crate::PlaySystems;

/// The room's players (empty before the first list came, and after leaving).
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct Roster(pub RoomRoster);

pub fn plugin(app: &mut App) {
    app.init_resource::<Roster>()
        .add_systems(PreUpdate, receive.in_set(PlaySystems::Receive))
        .add_systems(OnExit(ClientState::Connected), |mut r: ResMut<Roster>| {
            *r = Roster::default();
        });
}

fn receive(mut lists: MessageReader<RoomRoster>, mut roster: ResMut<Roster>) {
    if let Some(last) = lists.read().last() {
        roster.0 = last.clone();
    }
}
