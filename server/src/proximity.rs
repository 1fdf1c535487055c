//! Who is near whom, every tick, with a spatial hash: each player is told when someone
//! comes within the proximity radius or leaves it (only the two players concerned hear
//! of it). Only players who see each other (`can_hear`: same map, same private zone or
//! none) can be near. Chat uses the same sets. An avatar waiting for its player to
//! reconnect still stands where it was and is near the same people (they hear of it
//! going only if it leaves): what is said near it reaches its player's catch-up.

use std::collections::HashMap;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, PlayerId};
use tavern_shared::protocol::Nearby;
use tavern_shared::proximity::{Placed, SpatialHash, changes, near_sets};

use crate::GameSystems;
use crate::net::to_client;
use crate::zones::{Owner, Presence};

/// The proximity radius in pixels (`--proximity-radius`).
#[derive(Resource, Debug, Clone, Copy)]
pub struct ProximityRadius(pub f32);

/// Each player's neighbours (sorted client ids) as of the last tick.
#[derive(Resource, Debug, Default)]
pub struct NearSets(pub HashMap<u64, Vec<u64>>);

impl NearSets {
    pub fn of(&self, player: u64) -> &[u64] {
        self.0.get(&player).map_or(&[], Vec::as_slice)
    }
}

/// Where every avatar stood at the last tick, in a spatial hash: who is near is worked
/// out from it, and voice asks it who is within hearing.
#[derive(Resource, Default)]
pub struct Grid {
    hash: Option<SpatialHash>,
    placed: Vec<Placed>,
}

impl Grid {
    /// Calls `found` with each player (client id) in `space` ([`Presence::space`]) within
    /// `radius` of `pos`, as of the last tick.
    pub fn within(&self, space: u64, pos: Vec2, radius: f32, found: impl FnMut(u64, Vec2)) {
        if let Some(hash) = &self.hash {
            hash.within(space, pos, radius, found);
        }
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<NearSets>()
        .init_resource::<Grid>()
        .add_systems(
            FixedUpdate,
            update_near_sets
                .in_set(GameSystems::Track)
                .after(crate::zones::track_zones),
        );
}

fn update_near_sets(
    radius: Option<Res<ProximityRadius>>,
    mut grid: ResMut<Grid>,
    mut sets: ResMut<NearSets>,
    avatars: Query<(&PlayerId, &AvatarState, &Presence, Option<&Owner>)>,
    mut nearby: MessageWriter<ToClients<Nearby>>,
) {
    let radius = radius.map_or(tavern_shared::proximity::DEFAULT_RADIUS, |r| r.0);
    let grid = &mut *grid;
    grid.placed.clear();
    let mut owners = HashMap::new();
    for (id, state, presence, owner) in &avatars {
        grid.placed.push((id.0, presence.space(), state.motion.pos));
        // A waiting avatar has no connection to tell; a player coming back does so
        // under a new id, so it hears of everyone near it again.
        if let Some(owner) = owner {
            owners.insert(id.0, owner.0);
        }
    }
    let hash = grid.hash.get_or_insert_with(|| SpatialHash::new(radius));
    let now = near_sets(hash, &grid.placed, radius);
    for (player, near) in &now {
        let (entered, left) = changes(sets.of(*player), near);
        let Some(&client) = owners.get(player) else {
            continue;
        };
        for (other, is_near) in entered
            .iter()
            .map(|o| (o, true))
            .chain(left.iter().map(|o| (o, false)))
        {
            nearby.write(to_client(
                client,
                Nearby {
                    player: *other,
                    near: is_near,
                },
            ));
        }
    }
    sets.0 = now;
}
