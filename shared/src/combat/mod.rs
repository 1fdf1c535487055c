//! Combat rules as pure functions, like movement: how much a hit does, and whether an
//! ability may be used now (alive, on the hotbar, cooled down, affordable, in range, in
//! sight). The server decides with them; the client predicts its own cooldowns and
//! refusals with the same code. Randomness comes in as numbers drawn by the server's
//! seeded generator, so every rule here is deterministic.

use bevy::math::Vec2;

use crate::collision::CollisionWorld;
use crate::content::{Ability, CombatStats};
use crate::movement::TICK_HZ;

pub mod lag;
pub mod loot;
pub mod messages;

pub use lag::{History, MAX_REWIND_SECS, leashed, rewind_ticks};
pub use loot::{Drop, roll_loot};

/// Health, mana and stamina now and at most. The server keeps them on every avatar and
/// sends a player its own with its state ([`crate::stream::OwnState`]).
#[derive(
    bevy::prelude::Component,
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Vitals {
    pub health: u32,
    pub max_health: u32,
    pub mana: u32,
    pub max_mana: u32,
    pub stamina: u32,
    pub max_stamina: u32,
}

impl Vitals {
    /// Full pools for these stats.
    pub fn full(stats: &CombatStats) -> Self {
        Vitals {
            health: stats.health,
            max_health: stats.health,
            mana: stats.mana,
            max_mana: stats.mana,
            stamina: stats.stamina,
            max_stamina: stats.stamina,
        }
    }
}

/// The combat stats players use (`player` in `combat_stats.toml`).
pub const PLAYER_STATS: &str = "player";

/// Slots on a player's hotbar (keys 1 to 4).
pub const HOTBAR_SLOTS: usize = 4;
/// Chance of a critical hit.
pub const CRIT_CHANCE: f64 = 0.1;
/// A critical hit's damage, as a multiple of the rolled damage.
pub const CRIT_MULTIPLIER: f32 = 1.5;

/// What one hit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub amount: u32,
    pub crit: bool,
}

/// The damage of `ability` used by someone with `attacker`'s stats on someone with
/// `defender`'s: a roll between the ability's least and most damage (`damage_roll` in
/// 0..1 picks it), plus the attacker's bonus, times [`CRIT_MULTIPLIER`] when
/// `crit_roll` < [`CRIT_CHANCE`], less the defender's armor; at least 1.
pub fn roll_damage(
    ability: &Ability,
    attacker: &CombatStats,
    defender: &CombatStats,
    damage_roll: f64,
    crit_roll: f64,
) -> Hit {
    let [least, most] = ability.damage;
    let span = most.saturating_sub(least);
    let pick = ((damage_roll.clamp(0.0, 1.0) * f64::from(span + 1)) as u32).min(span);
    let base = least + pick + attacker.damage;
    let crit = crit_roll < CRIT_CHANCE;
    let dealt = if crit {
        (base as f32 * CRIT_MULTIPLIER).round() as u32
    } else {
        base
    };
    Hit {
        amount: dealt.saturating_sub(defender.armor).max(1),
        crit,
    }
}

/// How many of a boss's `phases` (highest threshold first) it has entered at `health`
/// of `max`: every phase whose threshold its health has fallen to.
pub fn phase_for(phases: &[crate::content::BossPhase], health: u32, max: u32) -> usize {
    if max == 0 {
        return 0;
    }
    let fraction = health as f32 / max as f32;
    phases
        .iter()
        .take_while(|p| fraction <= p.at_health)
        .count()
}

/// Ticks an ability takes to be ready again after use (its cooldown to the nearest tick).
pub fn cooldown_ticks(ability: &Ability) -> u32 {
    crate::movement::secs_to_ticks(f64::from(ability.cooldown_secs))
}

/// Why an ability was not used; the text is what the player is shown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("you are dead")]
    Dead,
    #[error("{0} is not on your hotbar")]
    NotOnHotbar(String),
    #[error("{name} is not ready for {secs:.1} s")]
    CoolingDown { name: String, secs: f32 },
    #[error("{name} needs {need} mana; you have {have}")]
    NotEnoughMana { name: String, need: u32, have: u32 },
    #[error("{name} needs {need} stamina; you have {have}")]
    NotEnoughStamina { name: String, need: u32, have: u32 },
    #[error("the target is {distance:.0} px away; {name} reaches {range:.0} px")]
    OutOfRange {
        name: String,
        distance: f32,
        range: f32,
    },
    #[error("a wall is in the way")]
    NoLineOfSight,
}

/// Someone about to use an ability.
#[derive(Debug, Clone, Copy)]
pub struct Caster<'a> {
    pub alive: bool,
    pub mana: u32,
    pub stamina: u32,
    /// Ability ids on the hotbar.
    pub hotbar: &'a [String],
    pub pos: Vec2,
}

/// Whether `caster` may use `ability` (id `id`) at `target` on tick `now`, the ability
/// being ready again at tick `ready_at`.
pub fn check_use(
    caster: &Caster,
    id: &str,
    ability: &Ability,
    ready_at: u32,
    now: u32,
    target: Vec2,
    world: &CollisionWorld,
) -> Result<(), Refusal> {
    let name = || ability.name.clone();
    if !caster.alive {
        return Err(Refusal::Dead);
    }
    if !caster.hotbar.iter().any(|h| h == id) {
        return Err(Refusal::NotOnHotbar(name()));
    }
    if now < ready_at {
        return Err(Refusal::CoolingDown {
            name: name(),
            secs: ((ready_at - now) as f64 / TICK_HZ) as f32,
        });
    }
    if caster.mana < ability.mana {
        return Err(Refusal::NotEnoughMana {
            name: name(),
            need: ability.mana,
            have: caster.mana,
        });
    }
    if caster.stamina < ability.stamina {
        return Err(Refusal::NotEnoughStamina {
            name: name(),
            need: ability.stamina,
            have: caster.stamina,
        });
    }
    let distance = caster.pos.distance(target);
    if distance > ability.range {
        return Err(Refusal::OutOfRange {
            name: name(),
            distance,
            range: ability.range,
        });
    }
    if !world.line_of_sight(caster.pos, target) {
        return Err(Refusal::NoLineOfSight);
    }
    Ok(())
}

#[cfg(test)]
mod phase_tests {
    use super::*;
    use crate::content::BossPhase;

    #[test]
    fn a_boss_enters_each_phase_at_its_threshold_and_not_before() {
        let phase = |name: &str, at: f32| BossPhase {
            name: name.into(),
            at_health: at,
            abilities: Vec::new(),
            speed: 1.0,
        };
        let phases = [phase("Enraged", 0.66), phase("Desperate", 0.33)];
        assert_eq!(phase_for(&phases, 400, 400), 0);
        assert_eq!(phase_for(&phases, 265, 400), 0); // 66.25 %
        assert_eq!(phase_for(&phases, 264, 400), 1); // 66 %
        assert_eq!(phase_for(&phases, 133, 400), 1);
        assert_eq!(phase_for(&phases, 132, 400), 2);
        assert_eq!(phase_for(&phases, 0, 400), 2);
        // A big hit goes through both at once.
        assert_eq!(phase_for(&phases, 10, 400), 2);
        assert_eq!(phase_for(&[], 1, 400), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Delivery;
    use crate::map::MapData;

    fn slash() -> Ability {
        Ability {
            name: "Slash".into(),
            damage: [6, 10],
            range: 48.0,
            cooldown_secs: 0.6,
            mana: 0,
            stamina: 5,
            area_radius: 0.0,
            cast_secs: 0.0,
            delivery: Delivery::Melee,
            projectile_speed: None,
            effect: None,
        }
    }

    fn stats(damage: u32, armor: u32) -> CombatStats {
        CombatStats {
            health: 100,
            mana: 50,
            stamina: 50,
            damage,
            armor,
            move_speed: 160.0,
            mana_regen: 0.0,
            stamina_regen: 0.0,
            hotbar: Vec::new(),
            dexterity: 10,
        }
    }

    #[test]
    fn damage_covers_the_range_evenly_adds_the_bonus_and_takes_off_armor() {
        let a = slash();
        let rolls: Vec<u32> = (0..5)
            .map(|i| roll_damage(&a, &stats(2, 1), &stats(0, 0), i as f64 / 5.0 + 0.01, 0.5).amount)
            .collect();
        // 6..=10 in five equal slices, +2 bonus.
        assert_eq!(rolls, vec![8, 9, 10, 11, 12]);
        assert_eq!(
            roll_damage(&a, &stats(2, 1), &stats(0, 3), 1.0, 0.5).amount,
            9
        );
        // Armor never takes a hit below 1.
        assert_eq!(
            roll_damage(&a, &stats(0, 0), &stats(0, 500), 0.0, 0.5).amount,
            1
        );
    }

    #[test]
    fn a_crit_multiplies_before_armor() {
        let a = slash();
        let hit = roll_damage(&a, &stats(0, 0), &stats(0, 2), 0.0, 0.05);
        assert_eq!(
            hit,
            Hit {
                amount: 7,
                crit: true
            }
        ); // 6 * 1.5 = 9, less 2
        assert!(!roll_damage(&a, &stats(0, 0), &stats(0, 0), 0.0, CRIT_CHANCE).crit);
    }

    fn walled() -> CollisionWorld {
        // A wall at column 4 of a 10-wide room.
        let map = MapData::from_ascii(
            "t",
            32,
            &[
                "##########",
                "#S..#....#",
                "#...#....#",
                "#........#",
                "##########",
            ],
        );
        CollisionWorld::from_map(&map)
    }

    #[test]
    fn each_refusal_has_its_reason_and_an_honest_use_passes() {
        let world = walled();
        let hotbar = vec!["slash".to_string()];
        let at = Vec2::new(48.0, 112.0); // row 3, open
        let caster = Caster {
            alive: true,
            mana: 0,
            stamina: 10,
            hotbar: &hotbar,
            pos: at,
        };
        let a = slash();
        let near = at + Vec2::new(40.0, 0.0);
        assert_eq!(check_use(&caster, "slash", &a, 0, 10, near, &world), Ok(()));
        let dead = Caster {
            alive: false,
            ..caster
        };
        assert_eq!(
            check_use(&dead, "slash", &a, 0, 10, near, &world),
            Err(Refusal::Dead)
        );
        let refused = check_use(&caster, "kick", &a, 0, 10, near, &world).unwrap_err();
        assert_eq!(refused.to_string(), "Slash is not on your hotbar");
        let cooling = check_use(&caster, "slash", &a, 46, 10, near, &world).unwrap_err();
        assert_eq!(cooling.to_string(), "Slash is not ready for 0.6 s");
        let tired = Caster {
            stamina: 4,
            ..caster
        };
        assert_eq!(
            check_use(&tired, "slash", &a, 0, 10, near, &world)
                .unwrap_err()
                .to_string(),
            "Slash needs 5 stamina; you have 4"
        );
        let far = at + Vec2::new(49.0, 0.0);
        assert_eq!(
            check_use(&caster, "slash", &a, 0, 10, far, &world)
                .unwrap_err()
                .to_string(),
            "the target is 49 px away; Slash reaches 48 px"
        );
        // Through the wall at column 4 (x 128..160), within range of a long ability.
        let bow = Ability {
            range: 300.0,
            ..slash()
        };
        let from = Vec2::new(112.0, 48.0);
        let behind = Vec2::new(176.0, 48.0);
        let archer = Caster {
            pos: from,
            ..caster
        };
        assert_eq!(
            check_use(&archer, "slash", &bow, 0, 10, behind, &world),
            Err(Refusal::NoLineOfSight)
        );
        // Around the wall's end (row 3 is open), it is clear.
        let below = Vec2::new(176.0, 112.0);
        let low = Caster {
            pos: Vec2::new(112.0, 112.0),
            ..caster
        };
        assert_eq!(check_use(&low, "slash", &bow, 0, 10, below, &world), Ok(()));
        assert_eq!(cooldown_ticks(&a), 36);
    }
}
