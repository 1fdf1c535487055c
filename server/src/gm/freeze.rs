//! A paused campaign room stands still: every body on its maps is [`Frozen`] (players'
//! inputs are used up without moving them, monsters neither move nor strike, no one
//! casts, and their cooldowns, effects and respawn waits stop counting down). A player
//! whose avatar is frozen or thawed is told through the own state's `held`, with a
//! warp so that prediction starts over instead of counting a correction.

use bevy::prelude::*;

use super::Tables;
use crate::GameSystems;
use crate::combat::{Dead, Fighter, Warps};
use crate::world::{Maps, OnMap};

/// On every body on a map of a paused room.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Frozen;

/// What a player trying to cast in a paused room is told.
pub const PAUSED: &str = "the GM paused the game";

pub fn plugin(app: &mut App) {
    app.add_systems(
        FixedUpdate,
        (freeze, hold_timers).chain().in_set(GameSystems::Table),
    );
}

/// Freezes what is on a paused room's maps and thaws what is not: every body when a
/// room's status changed, else only bodies that just arrived or changed map.
fn freeze(
    tables: Res<Tables>,
    maps: Res<Maps>,
    mut all: Query<(Entity, &OnMap, Has<Frozen>, Option<&mut Warps>)>,
    moved: Query<Entity, Changed<OnMap>>,
    mut commands: Commands,
) {
    let apply = |entity: Entity,
                 on: &OnMap,
                 frozen: bool,
                 warps: Option<Mut<Warps>>,
                 commands: &mut Commands| {
        let paused = maps
            .try_get(on.0)
            .is_some_and(|place| tables.is_paused(&place.room));
        if paused == frozen {
            return;
        }
        if paused {
            commands.entity(entity).insert(Frozen);
        } else {
            commands.entity(entity).remove::<Frozen>();
        }
        if let Some(mut warps) = warps {
            warps.0 = warps.0.wrapping_add(1);
        }
    };
    if tables.is_changed() {
        for (entity, on, frozen, warps) in &mut all {
            apply(entity, on, frozen, warps, &mut commands);
        }
    } else {
        for entity in &moved {
            if let Ok((entity, on, frozen, warps)) = all.get_mut(entity) {
                apply(entity, on, frozen, warps, &mut commands);
            }
        }
    }
}

/// While frozen, waits do not run out: each tick pushes back a dead body's return, an
/// effect's end and every cooldown by one tick.
fn hold_timers(
    mut bodies: Query<
        (
            Option<&mut Dead>,
            Option<&mut crate::combat::damage::Afflicted>,
            Option<&mut Fighter>,
        ),
        With<Frozen>,
    >,
) {
    for (dead, afflicted, fighter) in &mut bodies {
        if let Some(mut dead) = dead {
            dead.until = dead.until.wrapping_add(1);
        }
        if let Some(mut afflicted) = afflicted
            && !afflicted.0.is_empty()
        {
            for a in &mut afflicted.0 {
                a.until = a.until.wrapping_add(1);
            }
        }
        if let Some(mut fighter) = fighter {
            fighter.hold_cooldowns();
        }
    }
}
