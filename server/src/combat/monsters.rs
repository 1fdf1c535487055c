//! Monsters: spawned from the maps' `enemySpawn` areas (and `boss` spots), they wander
//! near home, notice the nearest player in their aggro radius and sight, chase it
//! (straight when they see it, else along an A* path on the tile grid, recomputed at
//! most every few ticks with a budget of searches per tick), strike when in reach, and
//! walk home healed when it gets away past their leash. They move by the shared
//! movement rule and collision, so they never walk through walls.

use std::sync::Arc;

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use tavern_shared::avatar::{AvatarState, DisplayName, PlayerId};
use tavern_shared::combat::messages::CombatEvent;
use tavern_shared::combat::{Vitals, cooldown_ticks, leashed, phase_for};
use tavern_shared::content::{AiKind, CombatStats, Content};
use tavern_shared::map::{Area, MapData};
use tavern_shared::movement::{AVATAR_RADIUS, TICK_DT, TICK_HZ, secs_to_ticks, walk};
use tavern_shared::pathing::NavGrid;
use tavern_shared::stream::Actor;

use super::abilities::{InFlight, delay_ticks, deliver};
use super::damage::{Afflicted, Credit, Strike};
use super::events::Happenings;
use super::{Clock, CombatRng, CombatSystems, Dead, Fighter, Past};
use crate::content::ContentHandle;
use crate::interest::StreamIds;
use crate::world::{MapId, Maps, OnMap};
use crate::zones::{Presence, can_see};

/// A-star searches allowed per tick over all monsters; the rest keep their old path (or
/// go straight) until a later tick.
pub const PATHS_PER_TICK: u32 = 8;
/// Ticks before a chaser's path is worked out again.
const REPATH_TICKS: u32 = 20;
/// Cells one search may look at.
const PATH_BUDGET: usize = 4000;
/// Monsters look for a player to chase every this many ticks (each on its own tick).
const LOOK_EVERY: u32 = 10;
/// How far from home an idle monster strolls.
const WANDER_RADIUS: f32 = 64.0;
/// Seconds a boss takes to come back after it died.
pub const BOSS_RESPAWN_SECS: f32 = 300.0;

/// What a monster is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mind {
    Idle,
    Chase(Entity),
    /// Walking home, healed on arrival.
    Return,
}

#[derive(Component, Debug, Clone)]
pub struct Monster {
    /// Its enemy type's id.
    pub enemy: String,
    spawner: usize,
    pub home: Vec2,
    pub mind: Mind,
    /// Boss phases entered (0: none).
    pub phase: usize,
    path: Vec<Vec2>,
    path_tick: u32,
    wander: Option<Vec2>,
    next_wander: u32,
}

/// Where monsters of one kind come from.
#[derive(Debug, Clone)]
struct Spawner {
    map: MapId,
    area: Area,
    enemy: String,
    count: u32,
    respawn_ticks: u32,
    alive: u32,
    /// Ticks at which dead ones come back.
    waiting: Vec<u32>,
}

/// Every map's spawners, rebuilt when a map is reloaded (the map's data is new).
#[derive(Resource, Debug, Default)]
pub struct Spawners {
    list: Vec<Option<Spawner>>,
    versions: HashMap<MapId, usize>,
}

/// Walkable cells of each map, for monsters' paths.
#[derive(Resource, Debug, Default)]
pub struct NavGrids(HashMap<MapId, (usize, Arc<NavGrid>)>);

impl NavGrids {
    fn get(&mut self, id: MapId, maps: &Maps) -> Arc<NavGrid> {
        if self.0.len() > maps.place_count() {
            self.0.retain(|id, _| maps.is_open(*id));
        }
        let map = maps.get(id);
        let version = Arc::as_ptr(&map.data) as usize;
        match self.0.get(&id) {
            Some((v, grid)) if *v == version => grid.clone(),
            _ => {
                let grid = Arc::new(NavGrid::from_map(&map.data, &map.collision, AVATAR_RADIUS));
                self.0.insert(id, (version, grid.clone()));
                grid
            }
        }
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Spawners>()
        .init_resource::<NavGrids>()
        .add_systems(
            FixedUpdate,
            keep_spawns.in_set(CombatSystems::Clock).after(super::tick),
        )
        .add_systems(FixedUpdate, think.in_set(CombatSystems::Monsters))
        .add_systems(
            FixedUpdate,
            (provoke, enter_phases, remove_dead).in_set(CombatSystems::Recover),
        );
}

/// A boss whose health falls to a phase's threshold enters it (all those passed, in
/// order), and everyone on its map is told.
fn enter_phases(
    content: Option<Res<ContentHandle>>,
    clock: Res<Clock>,
    maps: Res<Maps>,
    mut log: ResMut<super::log::EventLog>,
    mut bosses: Query<
        (
            &mut Monster,
            &Vitals,
            &crate::interest::StreamTag,
            &Presence,
            &AvatarState,
        ),
        Changed<Vitals>,
    >,
    mut happenings: ResMut<Happenings>,
) {
    let Some(content) = content else {
        return;
    };
    let served = content.current();
    for (mut monster, vitals, tag, presence, state) in &mut bosses {
        let Some(kind) = served.content.enemy_types.get(&monster.enemy) else {
            continue;
        };
        if kind.phases.is_empty() || vitals.health == 0 {
            continue;
        }
        let now_in = phase_for(&kind.phases, vitals.health, vitals.max_health);
        while monster.phase < now_in {
            let name = kind.phases[monster.phase].name.clone();
            monster.phase += 1;
            info!(boss = %kind.name, phase = %name, "boss entered a phase");
            log.record(super::log::Event {
                map: &maps.get(presence.map).log,
                tick: clock.0,
                kind: "phase",
                actor: super::log::label(None, Some(&monster), tag),
                target: String::new(),
                amount: monster.phase as i64,
                at: state.motion.pos,
                detail: name.clone(),
            });
            happenings.push_to_map(CombatEvent::Phase { who: tag.0, name }, *presence);
        }
    }
}

/// An idle monster a player hurts goes after that player, whatever its aggro radius.
fn provoke(
    mut strikes: MessageReader<Strike>,
    mut monsters: Query<&mut Monster, Without<Dead>>,
    players: Query<
        (),
        (
            With<PlayerId>,
            Without<Dead>,
            Without<crate::reconnect::Away>,
        ),
    >,
) {
    for strike in strikes.read() {
        let Some(attacker) = strike.attacker.filter(|a| players.contains(*a)) else {
            continue;
        };
        if let Ok(mut monster) = monsters.get_mut(strike.target)
            && monster.mind == Mind::Idle
        {
            monster.mind = Mind::Chase(attacker);
            monster.path.clear();
            monster.wander = None;
        }
    }
}

/// The spawners a map declares: `enemySpawn` zones and `boss` spots.
fn spawners_of(id: MapId, map: &MapData) -> Vec<Spawner> {
    let ticks = |secs: f32| secs_to_ticks(f64::from(secs));
    map.zones
        .iter()
        .flat_map(|zone| {
            let spawn = zone.effects.enemy_spawn.as_ref().map(|s| Spawner {
                map: id,
                area: zone.area.clone(),
                enemy: s.enemy.clone(),
                count: s.count,
                respawn_ticks: ticks(s.respawn_secs),
                alive: 0,
                waiting: Vec::new(),
            });
            let boss = zone.effects.boss.as_ref().map(|enemy| Spawner {
                map: id,
                area: Area::Point(zone.area.anchor()),
                enemy: enemy.clone(),
                count: 1,
                respawn_ticks: ticks(BOSS_RESPAWN_SECS),
                alive: 0,
                waiting: Vec::new(),
            });
            spawn.into_iter().chain(boss)
        })
        .collect()
}

/// A free spot in `area` for a body (a few random tries, else the area's anchor).
fn spot_in(area: &Area, map: &crate::world::Place, rng: &mut CombatRng) -> Vec2 {
    if let Area::Point(p) = area {
        return *p;
    }
    let bounds = area.bounds();
    for _ in 0..24 {
        let p = bounds.min
            + (bounds.max - bounds.min) * Vec2::new(rng.roll() as f32, rng.roll() as f32);
        if area.contains(p) && map.collision.is_free(p, AVATAR_RADIUS) {
            return p;
        }
    }
    area.anchor()
}

/// Keeps every spawner's monsters coming: fills empty spawners, brings back the dead
/// whose time has come, and starts over for a map that was reloaded.
#[allow(clippy::too_many_arguments)]
fn keep_spawns(
    clock: Res<Clock>,
    maps: Res<Maps>,
    content: Option<Res<ContentHandle>>,
    mut spawners: ResMut<Spawners>,
    mut ids: ResMut<StreamIds>,
    mut rng: ResMut<CombatRng>,
    monsters: Query<(Entity, &Monster)>,
    mut commands: Commands,
) {
    let Some(content) = content else {
        return;
    };
    let served = content.current();
    // A closed map's spawners go (its monsters went with it).
    for slot in spawners.list.iter_mut() {
        if slot.as_ref().is_some_and(|s| !maps.is_open(s.map)) {
            *slot = None;
        }
    }
    spawners.versions.retain(|id, _| maps.is_open(*id));
    for (id, map) in maps.places() {
        let version = Arc::as_ptr(&map.data) as usize;
        if spawners.versions.get(&id) == Some(&version) {
            continue;
        }
        // New or reloaded: its monsters start over from the map's spawners.
        for (entity, monster) in &monsters {
            if spawners
                .list
                .get(monster.spawner)
                .and_then(|s| s.as_ref())
                .is_some_and(|s| s.map == id)
            {
                commands.entity(entity).despawn();
            }
        }
        for slot in spawners.list.iter_mut() {
            if slot.as_ref().is_some_and(|s| s.map == id) {
                *slot = None;
            }
        }
        spawners
            .list
            .extend(spawners_of(id, &map.data).into_iter().map(Some));
        spawners.versions.insert(id, version);
    }
    let now = clock.0;
    for index in 0..spawners.list.len() {
        let Some(spawner) = spawners.list[index].as_mut() else {
            continue;
        };
        let before = spawner.waiting.len();
        spawner.waiting.retain(|at| *at > now);
        let due = (before - spawner.waiting.len()) as u32;
        let missing = spawner
            .count
            .saturating_sub(spawner.alive + spawner.waiting.len() as u32)
            .max(due);
        if missing == 0 {
            continue;
        }
        let Some(enemy) = served.content.enemy_types.get(&spawner.enemy) else {
            continue; // content and maps are checked together; never here
        };
        let Some(stats) = served.content.combat_stats.get(&enemy.stats) else {
            continue;
        };
        let map = maps.get(spawner.map);
        for _ in 0..missing {
            let at = spot_in(&spawner.area, map, &mut rng);
            spawner.alive += 1;
            commands.spawn((
                Monster {
                    enemy: spawner.enemy.clone(),
                    spawner: index,
                    home: at,
                    mind: Mind::Idle,
                    phase: 0,
                    path: Vec::new(),
                    path_tick: 0,
                    wander: None,
                    next_wander: now.wrapping_add((rng.roll() * 3.0 * TICK_HZ) as u32),
                },
                Actor::Monster(spawner.enemy.clone()),
                DisplayName(enemy.name.clone()),
                AvatarState::at(at),
                Vitals::full(stats),
                Fighter::new(&enemy.stats),
                ids.issue(),
                OnMap(spawner.map),
                Presence {
                    map: spawner.map,
                    private: None,
                },
                Past::default(),
                Credit::default(),
                Afflicted::default(),
            ));
        }
    }
}

/// Dead monsters are removed after their corpse has been seen, and come back after
/// their spawner's respawn time.
fn remove_dead(
    clock: Res<Clock>,
    mut spawners: ResMut<Spawners>,
    dead: Query<(Entity, &Dead, &Monster)>,
    mut commands: Commands,
) {
    for (entity, d, monster) in &dead {
        if clock.0 < d.until {
            continue;
        }
        commands.entity(entity).despawn();
        if let Some(Some(spawner)) = spawners.list.get_mut(monster.spawner) {
            spawner.alive = spawner.alive.saturating_sub(1);
            spawner
                .waiting
                .push(clock.0.wrapping_add(spawner.respawn_ticks));
        }
    }
}

/// A living player, as monsters see it.
#[derive(Debug, Clone, Copy)]
struct Prey {
    entity: Entity,
    pos: Vec2,
    presence: Presence,
}

/// The way to go to follow `path` from `pos` (dropping the waypoints reached).
pub fn steer(pos: Vec2, path: &mut Vec<Vec2>) -> Vec2 {
    while let Some(next) = path.first() {
        if pos.distance_squared(*next) <= 4.0 * 4.0 {
            path.remove(0);
        } else {
            return (*next - pos).normalize_or_zero();
        }
    }
    Vec2::ZERO
}

type Body = (
    Entity,
    &'static mut Monster,
    &'static mut AvatarState,
    &'static mut Fighter,
    &'static mut Vitals,
    &'static OnMap,
    &'static Presence,
    &'static Afflicted,
    &'static crate::interest::StreamTag,
);

/// Each monster decides and moves, one tick.
#[allow(clippy::too_many_arguments)]
fn think(
    clock: Res<Clock>,
    maps: Res<Maps>,
    content: Option<Res<ContentHandle>>,
    mut navs: ResMut<NavGrids>,
    mut rng: ResMut<CombatRng>,
    mut in_flight: ResMut<InFlight>,
    mut monsters: Query<Body, (With<Monster>, Without<Dead>, Without<crate::gm::Frozen>)>,
    players: Query<
        (Entity, &AvatarState, &Presence, &Fighter),
        (
            With<PlayerId>,
            Without<Dead>,
            Without<Monster>,
            Without<crate::reconnect::Away>,
        ),
    >,
    mut happenings: ResMut<Happenings>,
    mut strikes: MessageWriter<Strike>,
) {
    let Some(content) = content else {
        return;
    };
    let served = content.current();
    let content: &Content = &served.content;
    let now = clock.0;
    let prey: Vec<Prey> = players
        .iter()
        .map(|(entity, state, presence, _)| Prey {
            entity,
            pos: state.motion.pos,
            presence: *presence,
        })
        .collect();
    let mut searches = PATHS_PER_TICK;
    for (entity, mut monster, mut state, mut fighter, mut vitals, on, presence, afflicted, tag) in
        &mut monsters
    {
        let Some(kind) = content.enemy_types.get(&monster.enemy) else {
            continue;
        };
        let (Some(stats), Some(attack)) = (
            content.combat_stats.get(&kind.stats),
            content.abilities.get(&kind.attack),
        ) else {
            continue;
        };
        let map = maps.get(on.0);
        let world = &map.collision;
        let pos = state.motion.pos;
        let phase_speed = monster
            .phase
            .checked_sub(1)
            .and_then(|i| kind.phases.get(i))
            .map_or(1.0, |ph| ph.speed);
        let speed = stats.move_speed * afflicted.speed_factor() * phase_speed;
        let mut dir = Vec2::ZERO;
        let mut pace = 1.0;

        if let Mind::Chase(target) = monster.mind {
            let found = prey
                .iter()
                .find(|p| p.entity == target && can_see(presence, &p.presence));
            match found {
                Some(p) if !leashed(monster.home, pos, kind.leash_radius) => {
                    let d = pos.distance(p.pos);
                    let sees = world.line_of_sight(pos, p.pos);
                    if d <= attack.range * 0.9 && sees {
                        face(&mut state, p.pos - pos);
                        // The newest phase's abilities first, then its attack.
                        let gained = kind.phases[..monster.phase.min(kind.phases.len())]
                            .iter()
                            .rev()
                            .flat_map(|ph| ph.abilities.iter());
                        let ready = gained
                            .chain(std::iter::once(&kind.attack))
                            .filter_map(|id| content.abilities.get(id).map(|a| (id, a)))
                            .find(|(id, a)| d <= a.range * 0.9 && now >= fighter.ready_at(id));
                        if let Some((id, ability)) = ready {
                            fighter.used(id, now.wrapping_add(cooldown_ticks(ability).max(1)));
                            happenings.push(CombatEvent::Cast {
                                who: tag.0,
                                ability: id.clone(),
                                at: p.pos,
                            });
                            // One target, or every player it may see around it.
                            let reach = ability.area_radius.max(0.0);
                            let targets: Vec<(Entity, &CombatStats)> = prey
                                .iter()
                                .filter(|q| {
                                    if reach > 0.0 {
                                        can_see(presence, &q.presence)
                                            && q.pos.distance_squared(p.pos) <= reach * reach
                                    } else {
                                        q.entity == p.entity
                                    }
                                })
                                .filter_map(|q| {
                                    let (_, _, _, f) = players.get(q.entity).ok()?;
                                    Some((q.entity, content.combat_stats.get(&f.stats)?))
                                })
                                .collect();
                            deliver(
                                ability,
                                entity,
                                stats,
                                &targets,
                                delay_ticks(ability, d),
                                now,
                                &mut rng,
                                &mut in_flight,
                                &mut strikes,
                            );
                        }
                        // A ranged monster too close steps back; others hold.
                        if kind.ai == AiKind::Ranged && d < attack.range * 0.4 {
                            dir = (pos - p.pos).normalize_or_zero();
                        }
                    } else if sees && d < map.data.tile_width as f32 * 3.0 {
                        monster.path.clear();
                        dir = (p.pos - pos).normalize_or_zero();
                    } else {
                        dir = follow(
                            &mut monster,
                            pos,
                            p.pos,
                            now,
                            &mut searches,
                            &mut navs,
                            on.0,
                            &maps,
                        );
                    }
                }
                _ => {
                    monster.mind = Mind::Return;
                    monster.path.clear();
                }
            }
        }
        if monster.mind == Mind::Return {
            let home = monster.home;
            if pos.distance_squared(home) <= 4.0 * 4.0 {
                monster.mind = Mind::Idle;
                monster.phase = 0;
                let full = Vitals::full(stats);
                vitals.set_if_neq(full);
                state.health = tavern_shared::avatar::FULL_HEALTH;
                monster.wander = None;
            } else if world.line_of_sight(pos, home) {
                dir = (home - pos).normalize_or_zero();
            } else {
                dir = follow(
                    &mut monster,
                    pos,
                    home,
                    now,
                    &mut searches,
                    &mut navs,
                    on.0,
                    &maps,
                );
            }
        }
        if monster.mind == Mind::Idle {
            let looks = (now.wrapping_add(entity.index_u32())).is_multiple_of(LOOK_EVERY);
            let noticed = looks
                .then(|| nearest_in_sight(&prey, pos, kind.aggro_radius, presence, world))
                .flatten();
            if let Some(p) = noticed {
                monster.mind = Mind::Chase(p);
                monster.path.clear();
                monster.wander = None;
            } else {
                pace = 0.5;
                match monster.wander {
                    Some(to) if pos.distance_squared(to) > 2.0 * 2.0 => {
                        dir = (to - pos).normalize_or_zero();
                    }
                    Some(_) => monster.wander = None,
                    None if now >= monster.next_wander => {
                        let angle = rng.roll() as f32 * std::f32::consts::TAU;
                        let reach = rng.roll() as f32 * WANDER_RADIUS;
                        let to = monster.home + Vec2::from_angle(angle) * reach;
                        if world.is_free(to, AVATAR_RADIUS) && world.line_of_sight(pos, to) {
                            monster.wander = Some(to);
                        }
                        monster.next_wander =
                            now.wrapping_add(((2.0 + rng.roll() * 3.0) * TICK_HZ) as u32);
                    }
                    None => {}
                }
            }
        }
        let moved = walk(state.motion, dir, speed * pace, TICK_DT, world);
        if moved != state.motion {
            state.motion = moved;
        }
    }
}

/// Turns a standing body to look along `d`.
fn face(state: &mut Mut<AvatarState>, d: Vec2) {
    use tavern_shared::movement::Facing;
    let facing = if d.x.abs() > d.y.abs() {
        if d.x > 0.0 {
            Facing::Right
        } else {
            Facing::Left
        }
    } else if d.y > 0.0 {
        Facing::Down
    } else {
        Facing::Up
    };
    if state.motion.facing != facing || state.motion.moving {
        state.motion.facing = facing;
        state.motion.moving = false;
    }
}

/// The nearest player within `radius` that the monster may see and has in sight.
fn nearest_in_sight(
    prey: &[Prey],
    pos: Vec2,
    radius: f32,
    presence: &Presence,
    world: &tavern_shared::collision::CollisionWorld,
) -> Option<Entity> {
    prey.iter()
        .filter(|p| can_see(presence, &p.presence))
        .filter(|p| p.pos.distance_squared(pos) <= radius * radius)
        .filter(|p| world.line_of_sight(pos, p.pos))
        .min_by(|a, b| {
            a.pos
                .distance_squared(pos)
                .total_cmp(&b.pos.distance_squared(pos))
        })
        .map(|p| p.entity)
}

/// The way along a path to `to`, worked out again when it is old (if this tick's
/// searches are not used up); straight at it when there is no path.
#[allow(clippy::too_many_arguments)]
fn follow(
    monster: &mut Monster,
    pos: Vec2,
    to: Vec2,
    now: u32,
    searches: &mut u32,
    navs: &mut NavGrids,
    map: MapId,
    maps: &Maps,
) -> Vec2 {
    let stale = monster.path.is_empty() || now.wrapping_sub(monster.path_tick) >= REPATH_TICKS;
    if stale && *searches > 0 {
        *searches -= 1;
        monster.path_tick = now;
        let grid = navs.get(map, maps);
        let world = &maps.get(map).collision;
        monster.path = grid
            .find_path(pos, to, grid.shut_doors(world), PATH_BUDGET)
            .unwrap_or_default();
        // The first waypoint is the cell it stands in.
        if monster.path.len() > 1 {
            monster.path.remove(0);
        }
    }
    match steer(pos, &mut monster.path) {
        Vec2::ZERO => (to - pos).normalize_or_zero(),
        dir => dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steering_drops_reached_waypoints_and_heads_for_the_next() {
        let mut path = vec![
            Vec2::new(2.0, 0.0),
            Vec2::new(50.0, 0.0),
            Vec2::new(50.0, 50.0),
        ];
        assert_eq!(steer(Vec2::ZERO, &mut path), Vec2::X);
        assert_eq!(path.len(), 2);
        assert_eq!(steer(Vec2::new(50.0, 1.0), &mut path), Vec2::Y);
        assert_eq!(steer(Vec2::new(50.0, 49.0), &mut path), Vec2::ZERO);
        assert!(path.is_empty());
    }

    #[test]
    fn a_map_declares_its_spawners() {
        let map = tavern_shared::map::MapData::from_ascii("t", 32, &["#####", "#S..#", "#####"]);
        assert!(spawners_of(MapId(0), &map).is_empty());
        let dungeon = tavern_shared::map::load_map(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../maps/dungeon.tmj")),
            &mut tavern_shared::map::FsFiles::default(),
        )
        .into_result()
        .unwrap()
        .0;
        let found: Vec<(String, u32)> = spawners_of(MapId(0), &dungeon)
            .into_iter()
            .map(|s| (s.enemy, s.count))
            .collect();
        assert_eq!(
            found,
            vec![
                ("slime".to_string(), 3),
                ("slime".to_string(), 2),
                ("ogre".to_string(), 1)
            ]
        );
    }
}
