//! A paused campaign room stands still, and so does each combatant of an encounter
//! whose turn it is not: every body on a paused room's maps is [`Frozen`] (players'
//! inputs are used up without moving them, monsters neither move nor strike, no one
//! casts, and their cooldowns, effects and respawn waits stop counting down). A player
//! whose avatar is frozen or thawed is told through the own state's `held`, with a
//! warp so that prediction starts over instead of counting a correction.

use bevy::prelude::*;

use super::Tables;
use crate::GameSystems;
use crate::combat::{Dead, Fighter, Warps};
use crate::interest::StreamTag;
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

/// Freezes what is on a paused room's maps, and the combatants of an encounter whose
/// turn it is not (or who spent their movement), and thaws the rest: every body when a
/// room's status or an encounter's turn changed, else only bodies that just arrived or
/// changed map.
pub fn freeze(
    tables: Res<Tables>,
    encounters: Res<super::encounter::Encounters>,
    mut seen: Local<u64>,
    maps: Res<Maps>,
    mut all: Query<(
        Entity,
        &OnMap,
        Option<&StreamTag>,
        Has<Frozen>,
        Option<&mut Warps>,
    )>,
    moved: Query<Entity, Changed<OnMap>>,
    mut commands: Commands,
) {
    let apply = |(entity, on, tag, frozen, warps): (
        Entity,
        &OnMap,
        Option<&StreamTag>,
        bool,
        Option<Mut<Warps>>,
    ),
                 commands: &mut Commands| {
        let held = maps.try_get(on.0).is_some_and(|place| {
            tables.is_paused(&place.room)
                || tag.is_some_and(|t| encounters.holds(&place.room, on.0, t.0))
        });
        if held == frozen {
            return;
        }
        if held {
            commands.entity(entity).insert(Frozen);
        } else {
            commands.entity(entity).remove::<Frozen>();
        }
        if let Some(mut warps) = warps {
            warps.0 = warps.0.wrapping_add(1);
        }
    };
    if tables.is_changed() || *seen != encounters.generation {
        *seen = encounters.generation;
        for body in &mut all {
            apply(body, &mut commands);
        }
    } else {
        for entity in &moved {
            if let Ok(body) = all.get_mut(entity) {
                apply(body, &mut commands);
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
