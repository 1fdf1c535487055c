//! Combat, all decided here: players' abilities (checked, lag-compensated), monsters and
//! their AI, damage, deaths and respawns, and the events players in view are told.
//! The rules themselves are the pure functions of [`tavern_shared::combat`].

pub mod abilities;
pub mod damage;
pub mod events;
pub mod log;
pub mod loot;
pub mod monsters;
pub mod rooms;

use bevy::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tavern_shared::combat::History;
use tavern_shared::combat::Vitals;
use tavern_shared::content::{CombatStats, Content};

use crate::GameSystems;
use crate::content::ContentHandle;
use crate::interest::StreamTag;

/// The order of a combat tick, declared once.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CombatSystems {
    /// Count the tick; keep the monsters' spawns full.
    Clock,
    /// Monsters think and move.
    Monsters,
    /// Players' abilities are judged; hits whose time has come land.
    Act,
    /// Damage is applied: deaths, credit.
    Damage,
    /// Regeneration, effects wearing off, the dead coming back.
    Recover,
    /// Where everything stands now goes into its history (for lag compensation).
    Record,
}

/// Fixed ticks since the server started: the clock of cooldowns, effects and respawns.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Clock(pub u32);

/// The server's random numbers for combat (damage rolls, crits, loot, wandering):
/// seeded (`--combat-seed`, else from the OS), so a run can be replayed.
#[derive(Resource, Debug)]
pub struct CombatRng(pub ChaCha8Rng);

impl CombatRng {
    pub fn seeded(seed: Option<u64>) -> Self {
        CombatRng(match seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => ChaCha8Rng::from_os_rng(),
        })
    }

    /// A number in 0..1.
    pub fn roll(&mut self) -> f64 {
        rand::Rng::random(&mut self.0)
    }
}

/// On every body that fights: its combat stats (id), when each ability is ready again,
/// and what regeneration has banked below one point.
#[derive(Component, Debug, Clone)]
pub struct Fighter {
    pub stats: String,
    pub ready_at: Vec<(String, u32)>,
    banked: (f32, f32),
}

impl Fighter {
    pub fn new(stats: &str) -> Self {
        Fighter {
            stats: stats.to_string(),
            ready_at: Vec::new(),
            banked: (0.0, 0.0),
        }
    }

    /// The tick `ability` is ready again (0: it has not been used).
    pub fn ready_at(&self, ability: &str) -> u32 {
        self.ready_at
            .iter()
            .find(|(a, _)| a == ability)
            .map_or(0, |(_, t)| *t)
    }

    /// One tick on which cooldowns do not run (the room is paused).
    pub fn hold_cooldowns(&mut self) {
        for (_, t) in &mut self.ready_at {
            *t = t.wrapping_add(1);
        }
    }

    pub fn used(&mut self, ability: &str, ready_at: u32) {
        match self.ready_at.iter_mut().find(|(a, _)| a == ability) {
            Some((_, t)) => *t = ready_at,
            None => self.ready_at.push((ability.to_string(), ready_at)),
        }
    }
}

/// On a dead body: the tick it died, and the tick it comes back (players) or is removed
/// (monsters).
#[derive(Component, Debug, Clone, Copy)]
pub struct Dead {
    pub since: u32,
    pub until: u32,
}

/// On a player's avatar: times the server placed it itself ([`tavern_shared::stream::OwnState::warps`]).
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Warps(pub u8);

/// On every body that can be hit: where it stood over the last quarter second.
#[derive(Component, Debug, Clone, Default)]
pub struct Past(pub History);

/// The combat stats `id`, if the content has them.
pub fn stats<'a>(content: &'a Content, id: &str) -> Option<&'a CombatStats> {
    content.combat_stats.get(id)
}

/// Seconds a dead player waits to come back.
pub const PLAYER_RESPAWN_SECS: f32 = 5.0;

pub fn plugin(app: &mut App) {
    // `start` replaces it with one seeded by --combat-seed when given.
    app.init_resource::<Clock>()
        .insert_resource(CombatRng::seeded(None))
        .configure_sets(
            FixedUpdate,
            (
                CombatSystems::Clock,
                CombatSystems::Monsters,
                CombatSystems::Act,
                CombatSystems::Damage,
                CombatSystems::Recover,
                CombatSystems::Record,
            )
                .chain()
                .in_set(GameSystems::Combat),
        )
        .add_systems(FixedUpdate, tick.in_set(CombatSystems::Clock))
        .add_systems(
            FixedUpdate,
            (regenerate, record_history)
                .chain()
                .in_set(CombatSystems::Record),
        )
        .add_plugins((
            events::plugin,
            damage::plugin,
            abilities::plugin,
            monsters::plugin,
            loot::plugin,
            log::plugin,
            rooms::plugin,
        ));
}

fn tick(mut clock: ResMut<Clock>) {
    clock.0 = clock.0.wrapping_add(1);
}

/// Mana and stamina come back at their stats' rates (whole points; fractions are
/// banked), on the living.
fn regenerate(
    content: Option<Res<ContentHandle>>,
    mut bodies: Query<(&mut Fighter, &mut Vitals), (Without<Dead>, Without<crate::gm::Frozen>)>,
) {
    let Some(content) = content else {
        return;
    };
    let served = content.current();
    let dt = tavern_shared::movement::TICK_DT;
    for (mut fighter, mut vitals) in &mut bodies {
        if vitals.mana >= vitals.max_mana && vitals.stamina >= vitals.max_stamina {
            continue;
        }
        let Some(s) = stats(&served.content, &fighter.stats) else {
            continue;
        };
        let (mana_rate, stamina_rate) = (s.mana_regen, s.stamina_regen);
        let banked = &mut fighter.banked;
        banked.0 += mana_rate * dt;
        banked.1 += stamina_rate * dt;
        let (mana, stamina) = (banked.0.floor(), banked.1.floor());
        banked.0 -= mana;
        banked.1 -= stamina;
        let mut v = *vitals;
        v.mana = (v.mana + mana as u32).min(v.max_mana);
        v.stamina = (v.stamina + stamina as u32).min(v.max_stamina);
        vitals.set_if_neq(v);
    }
}

fn record_history(
    clock: Res<Clock>,
    mut bodies: Query<(&mut Past, &tavern_shared::avatar::AvatarState), With<StreamTag>>,
) {
    for (mut past, state) in &mut bodies {
        past.0.record(clock.0, state.motion.pos);
    }
}
