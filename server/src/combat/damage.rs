//! Damage and death: every hit of a tick is applied here, in one place and in order, so
//! a body dies exactly once however many killing blows land together (one death event,
//! one [`Slain`], credit to every player who hurt it); effects that go on hurting or
//! slowing; dead players coming back at their map's entry.

use bevy::prelude::*;
use tavern_shared::avatar::{AvatarState, PlayerId, health_bar};
use tavern_shared::combat::Vitals;
use tavern_shared::combat::messages::CombatEvent;
use tavern_shared::content::{EffectKind, StatusEffect};
use tavern_shared::movement::{MoveState, TICK_DT, TICK_HZ, secs_to_ticks};
use tavern_shared::stream::StreamId;

use super::events::Happenings;
use super::log::{Event, EventLog, label};
use super::loot::PlayerKey;
use super::monsters::Monster;
use super::{Clock, CombatSystems, Dead, Fighter, PLAYER_RESPAWN_SECS, Warps};
use crate::content::ContentHandle;
use crate::interest::StreamTag;
use crate::world::{Maps, OnMap};

/// A hit landing now (server-internal).
#[derive(Message, Debug, Clone)]
pub struct Strike {
    pub target: Entity,
    /// Who struck (`None`: an effect whose source is gone).
    pub attacker: Option<Entity>,
    pub amount: u32,
    pub crit: bool,
    /// Left on the target if it survives.
    pub effect: Option<StatusEffect>,
}

/// A monster died (server-internal, once per death): for loot and counters.
#[derive(Message, Debug, Clone)]
pub struct Slain {
    pub monster: Entity,
    pub at: Vec2,
    /// The players' avatars that hurt it.
    pub credited: Vec<Entity>,
}

/// On a monster: the players' avatars that hurt it in this life.
#[derive(Component, Debug, Clone, Default)]
pub struct Credit(pub Vec<(Entity, StreamId)>);

/// On a body: effects on it now.
#[derive(Component, Debug, Clone, Default)]
pub struct Afflicted(pub Vec<Affliction>);

#[derive(Debug, Clone)]
pub struct Affliction {
    pub effect: StatusEffect,
    pub source: Option<Entity>,
    /// The tick it wears off.
    pub until: u32,
    /// Poison damage owed below one point.
    banked: f32,
}

impl Afflicted {
    /// The factor its speed is multiplied by: the strongest slow on it.
    pub fn speed_factor(&self) -> f32 {
        self.0
            .iter()
            .filter(|a| a.effect.kind == EffectKind::Slow)
            .map(|a| (1.0 - a.effect.amount).clamp(0.0, 1.0))
            .fold(1.0, f32::min)
    }
}

pub fn plugin(app: &mut App) {
    app.add_message::<Strike>()
        .add_message::<Slain>()
        .add_systems(FixedUpdate, apply_strikes.in_set(CombatSystems::Damage))
        .add_systems(
            FixedUpdate,
            (afflict, respawn_players).in_set(CombatSystems::Recover),
        );
}

type Target = (
    &'static mut Vitals,
    &'static mut AvatarState,
    &'static StreamTag,
    Option<&'static mut Credit>,
    Option<&'static mut Afflicted>,
    Option<&'static mut Warps>,
    Has<Dead>,
    Has<PlayerId>,
    Named,
);

/// What names a body in the log, and its map.
type Named = (
    Option<&'static PlayerKey>,
    Option<&'static Monster>,
    &'static OnMap,
);

/// Applies this tick's strikes in order. The first to bring a body to 0 kills it; later
/// ones in the same tick still earn their players credit but do nothing else.
fn apply_strikes(
    clock: Res<Clock>,
    mut strikes: MessageReader<Strike>,
    mut targets: Query<Target>,
    tags: Query<(
        &StreamTag,
        Has<PlayerId>,
        Option<&PlayerKey>,
        Option<&Monster>,
    )>,
    maps: Res<Maps>,
    mut log: ResMut<EventLog>,
    mut happenings: ResMut<Happenings>,
    mut slain: MessageWriter<Slain>,
    mut commands: Commands,
) {
    let name_of = |e: Entity| {
        tags.get(e)
            .map(|(tag, _, key, monster)| label(key, monster, tag))
            .unwrap_or_default()
    };
    let mut dying: Vec<Entity> = Vec::new();
    for strike in strikes.read() {
        let Ok((mut vitals, mut state, tag, credit, afflicted, warps, dead, is_player, named)) =
            targets.get_mut(strike.target)
        else {
            continue;
        };
        let attacker = strike
            .attacker
            .and_then(|a| tags.get(a).ok().map(|(t, p, ..)| (a, (t, p))));
        let just_died = dying.contains(&strike.target);
        if dead || (vitals.health == 0 && !just_died) {
            continue;
        }
        if let (Some(mut credit), Some((who, (tag, true)))) = (credit, attacker)
            && !credit.0.iter().any(|(e, _)| *e == who)
        {
            credit.0.push((who, tag.0));
        }
        if just_died {
            continue;
        }
        let amount = strike.amount.min(vitals.health);
        vitals.health -= amount;
        state.health = health_bar(vitals.health, vitals.max_health);
        let (key, monster, on) = named;
        log.record(Event {
            map: &maps.get(on.0).log,
            tick: clock.0,
            kind: "damage",
            actor: strike.attacker.map(name_of).unwrap_or_default(),
            target: label(key, monster, tag),
            amount: i64::from(amount),
            at: state.motion.pos,
            detail: if strike.crit {
                "crit".into()
            } else {
                String::new()
            },
        });
        happenings.push(CombatEvent::Hit {
            attacker: attacker.map(|(_, (t, _))| t.0),
            target: tag.0,
            amount: strike.amount,
            crit: strike.crit,
        });
        if vitals.health > 0 {
            if let (Some(effect), Some(mut afflicted)) = (strike.effect, afflicted) {
                afflicted.0.retain(|a| a.effect.kind != effect.kind);
                afflicted.0.push(Affliction {
                    effect,
                    source: strike.attacker,
                    until: clock.0.wrapping_add(secs_to_ticks(f64::from(effect.secs))),
                    banked: 0.0,
                });
            }
            continue;
        }
        dying.push(strike.target);
        state.motion.moving = false;
        if is_player {
            if let Some(mut warps) = warps {
                warps.0 = warps.0.wrapping_add(1);
            }
            let wait = secs_to_ticks(f64::from(PLAYER_RESPAWN_SECS));
            commands.entity(strike.target).insert(Dead {
                since: clock.0,
                until: clock.0.wrapping_add(wait),
            });
        } else {
            // Seen as a corpse for a second, then removed.
            commands.entity(strike.target).insert(Dead {
                since: clock.0,
                until: clock.0.wrapping_add(TICK_HZ as u32),
            });
        }
    }
    // Deaths are told after every strike of the tick, so same-tick blows are credited.
    for body in dying {
        let Ok((_, state, tag, credit, mut afflicted, _, _, is_player, (key, monster, on))) =
            targets.get_mut(body)
        else {
            continue;
        };
        if let Some(afflicted) = afflicted.as_mut() {
            afflicted.0.clear();
        }
        let credited = credit.map(|c| c.0.clone()).unwrap_or_default();
        log.record(Event {
            map: &maps.get(on.0).log,
            tick: clock.0,
            kind: "death",
            actor: String::new(),
            target: label(key, monster, tag),
            amount: 0,
            at: state.motion.pos,
            detail: credited
                .iter()
                .map(|(e, _)| name_of(*e))
                .collect::<Vec<_>>()
                .join(","),
        });
        happenings.push(CombatEvent::Died {
            who: tag.0,
            credited: credited.iter().map(|(_, id)| *id).collect(),
            respawn_secs: is_player.then_some(PLAYER_RESPAWN_SECS),
        });
        if !is_player {
            slain.write(Slain {
                monster: body,
                at: state.motion.pos,
                credited: credited.into_iter().map(|(e, _)| e).collect(),
            });
        }
    }
}

/// Poison hurts (whole points, fractions banked) and every effect wears off in time.
fn afflict(
    clock: Res<Clock>,
    mut bodies: Query<(Entity, &mut Afflicted), (Without<Dead>, Without<crate::gm::Frozen>)>,
    mut strikes: MessageWriter<Strike>,
) {
    for (body, mut afflicted) in &mut bodies {
        if afflicted.0.is_empty() {
            continue;
        }
        afflicted.0.retain(|a| clock.0 < a.until);
        for a in &mut afflicted.0 {
            if a.effect.kind != EffectKind::Poison {
                continue;
            }
            a.banked += a.effect.amount * TICK_DT;
            if a.banked >= 1.0 {
                let amount = a.banked.floor();
                a.banked -= amount;
                strikes.write(Strike {
                    target: body,
                    attacker: a.source,
                    amount: amount as u32,
                    crit: false,
                    effect: None,
                });
            }
        }
    }
}

/// Dead players whose wait is over come back at their map's entry with full pools.
fn respawn_players(
    clock: Res<Clock>,
    content: Option<Res<ContentHandle>>,
    mut maps: ResMut<Maps>,
    mut dead: Query<
        (
            Entity,
            &Dead,
            &Fighter,
            &OnMap,
            &StreamTag,
            &mut AvatarState,
            &mut Vitals,
            &mut Warps,
        ),
        With<PlayerId>,
    >,
    mut happenings: ResMut<Happenings>,
    mut commands: Commands,
) {
    for (avatar, d, fighter, on, tag, mut state, mut vitals, mut warps) in &mut dead {
        if clock.0 < d.until {
            continue;
        }
        let at = maps.get_mut(on.0).take_spawn();
        *state = AvatarState::new(MoveState::at(at));
        if let Some(stats) = content.as_ref().and_then(|c| {
            c.current()
                .content
                .combat_stats
                .get(&fighter.stats)
                .cloned()
        }) {
            *vitals = Vitals::full(&stats);
        } else {
            vitals.health = vitals.max_health;
        }
        warps.0 = warps.0.wrapping_add(1);
        commands.entity(avatar).remove::<Dead>();
        happenings.push(CombatEvent::Respawned {
            who: tag.0,
            at: state.motion.pos,
        });
        info!(x = at.x, y = at.y, "player came back to life");
    }
}
