//! Players' abilities: a [`UseAbility`] waits until the input it was sent after has been
//! applied (so the player is where it saw itself), is judged by the shared rules
//! against the positions its player saw (rewound by its interpolation delay and half
//! its round trip), and either lands its hits or is refused with the reason.

use std::collections::VecDeque;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon::shared::backend::connected_client::NetworkId;
use bevy_replicon_renet2::renet2::RenetServer;
use tavern_shared::avatar::{AvatarState, InputAck, PlayerId};
use tavern_shared::combat::messages::{AbilityResult, CombatEvent, MAX_ABILITY_ID, UseAbility};
use tavern_shared::combat::{
    Caster, HOTBAR_SLOTS, Refusal, Vitals, check_use, cooldown_ticks, rewind_ticks, roll_damage,
};
use tavern_shared::content::{Ability, CombatStats, Content, Delivery};
use tavern_shared::movement::{AVATAR_RADIUS, Facing, secs_to_ticks};

use super::damage::Strike;
use super::events::Happenings;
use super::monsters::Monster;
use super::{Clock, CombatRng, CombatSystems, Dead, Fighter, Past};
use crate::GameSystems;
use crate::content::ContentHandle;
use crate::interest::StreamTag;
use crate::net::rate::SendRate;
use crate::net::to_client;
use crate::players::Controls;
use crate::world::{Maps, OnMap};
use crate::zones::{Presence, can_see};

/// Uses a player may have waiting; more are refused.
pub const MAX_PENDING_USES: usize = 8;
/// Ticks a use waits for the input it was sent after before it is judged anyway.
const WAIT_FOR_INPUT_TICKS: u32 = 15;
/// An aimed single-target ability hits the enemy nearest the aim point within this
/// many pixels of it (the enemy's body and a margin for the hand).
pub const PICK_RADIUS: f32 = AVATAR_RADIUS * 2.0 + 12.0;

/// On a player's connection: uses waiting to be judged, with the tick each arrived.
#[derive(Component, Debug, Default)]
pub struct PendingUses(VecDeque<(UseAbility, u32)>);

/// Hits on their way (cast time, projectile flight), landing at their tick.
#[derive(Resource, Debug, Default)]
pub struct InFlight(Vec<(u32, Strike)>);

pub fn plugin(app: &mut App) {
    app.init_resource::<InFlight>()
        .add_systems(PreUpdate, receive_uses.in_set(GameSystems::ReceiveInputs))
        .add_systems(
            FixedUpdate,
            (judge_uses, land_hits).chain().in_set(CombatSystems::Act),
        );
}

/// A use the server will not even queue: why.
fn malformed(use_: &UseAbility) -> Option<String> {
    if use_.ability.len() > MAX_ABILITY_ID {
        return Some("that is not an ability".into());
    }
    if use_.aim.is_some_and(|a| !a.is_finite()) {
        return Some("the aim is not a point on the map".into());
    }
    None
}

fn receive_uses(
    clock: Res<Clock>,
    mut uses: MessageReader<FromClient<UseAbility>>,
    mut pending: Query<&mut PendingUses>,
    mut results: MessageWriter<ToClients<AbilityResult>>,
) {
    for FromClient { client_id, message } in uses.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let Ok(mut queue) = pending.get_mut(client) else {
            continue;
        };
        let refused = malformed(message).or_else(|| {
            (queue.0.len() >= MAX_PENDING_USES)
                .then(|| "too many abilities at once: wait for the last ones".to_string())
        });
        match refused {
            Some(reason) => {
                results.write(to_client(client, answer(message, Some(reason))));
            }
            None => queue.0.push_back((message.clone(), clock.0)),
        }
    }
}

fn answer(use_: &UseAbility, refused: Option<String>) -> AbilityResult {
    AbilityResult {
        id: use_.id,
        ability: use_.ability.chars().take(MAX_ABILITY_ID).collect(),
        refused,
    }
}

/// A body that can be hit, as the attacker saw it.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    pub entity: Entity,
    pub pos: Vec2,
}

/// The point an ability goes to and the bodies it hits there: with an aim, the enemy
/// nearest it within [`PICK_RADIUS`] (area abilities: the aim itself); without, the
/// nearest enemy in front within reach. `None` when there is nothing to hit.
pub fn choose_targets(
    ability: &Ability,
    from: Vec2,
    facing: Facing,
    aim: Option<Vec2>,
    marks: &[Mark],
) -> Option<(Vec2, Vec<Entity>)> {
    let point = match aim {
        Some(aim) if ability.area_radius > 0.0 => aim,
        Some(aim) => nearest(
            marks
                .iter()
                .filter(|m| m.pos.distance_squared(aim) <= PICK_RADIUS * PICK_RADIUS),
            aim,
        )?,
        None => {
            let ahead = match facing {
                Facing::Down => Vec2::Y,
                Facing::Up => Vec2::NEG_Y,
                Facing::Left => Vec2::NEG_X,
                Facing::Right => Vec2::X,
            };
            nearest(
                marks
                    .iter()
                    .filter(|m| (m.pos - from).dot(ahead) > 0.0)
                    .filter(|m| m.pos.distance(from) <= ability.range + PICK_RADIUS),
                from,
            )?
        }
    };
    let reach = ability.area_radius.max(0.0);
    let hit: Vec<Entity> = if reach > 0.0 {
        marks
            .iter()
            .filter(|m| m.pos.distance_squared(point) <= reach * reach)
            .map(|m| m.entity)
            .collect()
    } else {
        marks
            .iter()
            .filter(|m| m.pos == point)
            .take(1)
            .map(|m| m.entity)
            .collect()
    };
    Some((point, hit))
}

/// Where the mark nearest `to` stands.
fn nearest<'a>(marks: impl Iterator<Item = &'a Mark>, to: Vec2) -> Option<Vec2> {
    marks
        .map(|m| m.pos)
        .min_by(|a, b| a.distance_squared(to).total_cmp(&b.distance_squared(to)))
}

/// Ticks from use to impact: the cast, then the projectile's flight.
pub fn delay_ticks(ability: &Ability, distance: f32) -> u32 {
    let flight = match (ability.delivery, ability.projectile_speed) {
        (Delivery::Projectile, Some(speed)) if speed > 0.0 => distance / speed,
        _ => 0.0,
    };
    secs_to_ticks(f64::from(ability.cast_secs.max(0.0)) + f64::from(flight))
}

/// Rolls each hit and sends it on its way: at once, or in flight until it lands.
#[allow(clippy::too_many_arguments)]
pub fn deliver(
    ability: &Ability,
    attacker: Entity,
    attacker_stats: &CombatStats,
    targets: &[(Entity, &CombatStats)],
    delay: u32,
    now: u32,
    rng: &mut CombatRng,
    in_flight: &mut InFlight,
    strikes: &mut MessageWriter<Strike>,
) {
    for (target, defender) in targets {
        let hit = roll_damage(ability, attacker_stats, defender, rng.roll(), rng.roll());
        let strike = Strike {
            target: *target,
            attacker: Some(attacker),
            amount: hit.amount,
            crit: hit.crit,
            effect: ability.effect,
        };
        if delay == 0 {
            strikes.write(strike);
        } else {
            in_flight.0.push((now.wrapping_add(delay), strike));
        }
    }
}

type CasterQuery = (
    &'static mut Fighter,
    &'static mut Vitals,
    &'static AvatarState,
    &'static InputAck,
    &'static OnMap,
    &'static Presence,
    &'static StreamTag,
    Has<Dead>,
);

type CasterView<'a> = (
    &'a Fighter,
    &'a Vitals,
    &'a AvatarState,
    &'a InputAck,
    &'a OnMap,
    &'a Presence,
    &'a StreamTag,
    bool,
);

type TargetQuery = (
    Entity,
    &'static Past,
    &'static Fighter,
    &'static OnMap,
    &'static Presence,
    Option<&'static Dead>,
);

/// Judges the uses whose input has been applied (or that waited long enough).
#[allow(clippy::too_many_arguments)]
fn judge_uses(
    clock: Res<Clock>,
    content: Option<Res<ContentHandle>>,
    maps: Res<Maps>,
    rate: Res<SendRate>,
    server: Option<Res<RenetServer>>,
    mut rng: ResMut<CombatRng>,
    mut in_flight: ResMut<InFlight>,
    mut connections: Query<(Entity, &mut PendingUses, &Controls, Option<&NetworkId>)>,
    mut casters: Query<CasterQuery, (With<PlayerId>, Without<Monster>)>,
    monsters: Query<TargetQuery, With<Monster>>,
    mut rules: crate::gm::Rules,
    mut happenings: ResMut<Happenings>,
    mut strikes: MessageWriter<Strike>,
    mut results: MessageWriter<ToClients<AbilityResult>>,
) {
    let Some(content) = content else {
        return;
    };
    let served = content.current();
    let now = clock.0;
    for (client, mut pending, controls, network_id) in &mut connections {
        while let Some((use_, arrived)) = pending.0.front() {
            let Ok(caster) = casters.get(controls.0) else {
                pending.0.clear();
                break;
            };
            let waited = now.wrapping_sub(*arrived);
            if caster.3.0 < use_.input_seq && waited < WAIT_FOR_INPUT_TICKS {
                break;
            }
            let use_ = use_.clone();
            pending.0.pop_front();
            let rtt = match (&server, network_id) {
                (Some(server), Some(id)) => server.rtt(id.get()),
                _ => 0.0,
            };
            let rewind = rewind_ticks(
                tavern_shared::combat::lag::interpolation_delay(1.0 / f64::from(rate.hz.max(1))),
                rtt,
            );
            let room = maps.get(caster.4.0).room.clone();
            let body = caster.6.0;
            let outcome = if let Some(why) = rules.refuse(controls.0, &room, body) {
                Err(why)
            } else {
                judge(
                    &served.content,
                    &maps,
                    now,
                    now.wrapping_sub(rewind),
                    &use_,
                    caster,
                    &monsters,
                )
            };
            let refused = match outcome {
                Ok(judged) => {
                    rules.acted(&room, body);
                    let (mut fighter, mut vitals, state, _, _, _, tag, _) = casters
                        .get_mut(controls.0)
                        .expect("the caster was just found");
                    let ability = &served.content.abilities[&use_.ability];
                    vitals.mana -= ability.mana;
                    vitals.stamina -= ability.stamina;
                    fighter.used(&use_.ability, now.wrapping_add(cooldown_ticks(ability)));
                    happenings.push(CombatEvent::Cast {
                        who: tag.0,
                        ability: use_.ability.clone(),
                        at: judged.point,
                    });
                    let delay = delay_ticks(ability, state.motion.pos.distance(judged.point));
                    let attacker_stats = &served.content.combat_stats[&fighter.stats];
                    let targets: Vec<(Entity, &CombatStats)> = judged
                        .hit
                        .iter()
                        .filter_map(|(e, stats)| {
                            served.content.combat_stats.get(stats).map(|s| (*e, s))
                        })
                        .collect();
                    deliver(
                        ability,
                        controls.0,
                        attacker_stats,
                        &targets,
                        delay,
                        now,
                        &mut rng,
                        &mut in_flight,
                        &mut strikes,
                    );
                    None
                }
                Err(reason) => Some(reason),
            };
            results.write(to_client(client, answer(&use_, refused)));
        }
    }
}

/// What a judged use hits.
struct Judged {
    point: Vec2,
    /// Bodies hit, with their combat stats' id.
    hit: Vec<(Entity, String)>,
}

fn judge(
    content: &Content,
    maps: &Maps,
    now: u32,
    seen_at: u32,
    use_: &UseAbility,
    caster: CasterView<'_>,
    monsters: &Query<TargetQuery, With<Monster>>,
) -> Result<Judged, String> {
    let (fighter, vitals, state, _, on, presence, _, dead) = caster;
    let Some(ability) = content.abilities.get(&use_.ability) else {
        return Err(Refusal::NotOnHotbar(use_.ability.clone()).to_string());
    };
    let hotbar: &[String] = content
        .combat_stats
        .get(&fighter.stats)
        .map_or(&[], |s| &s.hotbar[..s.hotbar.len().min(HOTBAR_SLOTS)]);
    let from = state.motion.pos;
    // Those alive when the player saw them: one that died since is still hit (the hit
    // then does nothing), so racing another player's killing blow is not a refusal.
    let marks: Vec<Mark> = monsters
        .iter()
        .filter(|(_, _, _, m_on, m_presence, dead)| {
            m_on.0 == on.0
                && can_see(presence, m_presence)
                && dead.is_none_or(|d| d.since > seen_at)
        })
        .filter_map(|(entity, past, ..)| past.0.at(seen_at).map(|pos| Mark { entity, pos }))
        .collect();
    let caster_view = Caster {
        alive: !dead,
        mana: vitals.mana,
        stamina: vitals.stamina,
        hotbar,
        pos: from,
    };
    let world = &maps.get(on.0).collision;
    let ready_at = fighter.ready_at(&use_.ability);
    // Everything about the caster first, then what it aims at.
    check_use(
        &caster_view,
        &use_.ability,
        ability,
        ready_at,
        now,
        from,
        world,
    )
    .map_err(|r| r.to_string())?;
    let Some((point, hit)) = choose_targets(ability, from, state.motion.facing, use_.aim, &marks)
    else {
        return Err(match use_.aim {
            Some(_) => "there is no enemy there".into(),
            None => "there is no enemy in front of you".into(),
        });
    };
    check_use(
        &caster_view,
        &use_.ability,
        ability,
        ready_at,
        now,
        point,
        world,
    )
    .map_err(|r| r.to_string())?;
    let hit = hit
        .into_iter()
        .filter_map(|e| {
            monsters
                .get(e)
                .ok()
                .map(|(_, _, f, ..)| (e, f.stats.clone()))
        })
        .collect();
    Ok(Judged { point, hit })
}

/// Hits in flight whose time has come land.
fn land_hits(
    clock: Res<Clock>,
    mut in_flight: ResMut<InFlight>,
    mut strikes: MessageWriter<Strike>,
) {
    let now = clock.0;
    in_flight.0.retain(|(at, strike)| {
        let due = *at <= now;
        if due {
            strikes.write(strike.clone());
        }
        !due
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::content::Delivery;

    fn ability(range: f32, area: f32) -> Ability {
        Ability {
            name: "Test".into(),
            damage: [1, 2],
            range,
            cooldown_secs: 1.0,
            mana: 0,
            stamina: 0,
            area_radius: area,
            cast_secs: 0.0,
            delivery: Delivery::Melee,
            projectile_speed: None,
            effect: None,
        }
    }

    fn marks() -> Vec<Mark> {
        [
            (1, 40.0, 0.0),
            (2, 100.0, 0.0),
            (3, -30.0, 0.0),
            (4, 110.0, 10.0),
        ]
        .into_iter()
        .map(|(i, x, y)| Mark {
            entity: Entity::from_raw_u32(i).unwrap(),
            pos: Vec2::new(x, y),
        })
        .collect()
    }

    fn e(i: u32) -> Entity {
        Entity::from_raw_u32(i).unwrap()
    }

    #[test]
    fn an_aim_picks_the_enemy_nearest_it_and_an_area_takes_all_around() {
        let a = ability(200.0, 0.0);
        let got = choose_targets(
            &a,
            Vec2::ZERO,
            Facing::Right,
            Some(Vec2::new(95.0, 4.0)),
            &marks(),
        );
        assert_eq!(got, Some((Vec2::new(100.0, 0.0), vec![e(2)])));
        // Nothing near the aim: nothing to hit.
        assert_eq!(
            choose_targets(
                &a,
                Vec2::ZERO,
                Facing::Right,
                Some(Vec2::new(0.0, 90.0)),
                &marks()
            ),
            None
        );
        let blast = ability(200.0, 20.0);
        let (point, mut hit) = choose_targets(
            &blast,
            Vec2::ZERO,
            Facing::Right,
            Some(Vec2::new(105.0, 5.0)),
            &marks(),
        )
        .unwrap();
        hit.sort_by_key(|e| e.index());
        assert_eq!((point, hit), (Vec2::new(105.0, 5.0), vec![e(2), e(4)]));
    }

    #[test]
    fn without_aim_the_nearest_enemy_in_front_is_hit() {
        let a = ability(48.0, 0.0);
        assert_eq!(
            choose_targets(&a, Vec2::ZERO, Facing::Right, None, &marks()),
            Some((Vec2::new(40.0, 0.0), vec![e(1)]))
        );
        assert_eq!(
            choose_targets(&a, Vec2::ZERO, Facing::Left, None, &marks()),
            Some((Vec2::new(-30.0, 0.0), vec![e(3)]))
        );
        assert_eq!(
            choose_targets(&a, Vec2::ZERO, Facing::Up, None, &marks()),
            None
        );
    }

    #[test]
    fn projectiles_land_after_their_cast_and_flight() {
        let mut bolt = ability(300.0, 0.0);
        assert_eq!(delay_ticks(&bolt, 250.0), 0);
        bolt.delivery = Delivery::Projectile;
        bolt.projectile_speed = Some(500.0);
        bolt.cast_secs = 0.25;
        // 0.25 s cast + 0.5 s flight.
        assert_eq!(delay_ticks(&bolt, 250.0), 45);
    }
}
