//! A bot's fighting mind (`tavern-bots --fight`): go for the nearest monster it sees
//! and can walk to (along an A* path around walls and through open doors, the
//! monsters' own pathing), and use the first
//! hotbar ability that is ready, affordable, in reach and in sight, aimed where the
//! monster is drawn, as a player would. With `--cheat` it also tries what a cheating
//! client would (hits out of reach, during cooldown, through walls) and records
//! whether the server let any through.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;
use tavern_shared::avatar::AvatarState;
use tavern_shared::collision::CollisionWorld;
use tavern_shared::combat::Vitals;
use tavern_shared::combat::messages::{PICKUP_REACH, WALK_OVER_RADIUS};
use tavern_shared::content::{Ability, Content};
use tavern_shared::input::{InputFrame, Stick};
use tavern_shared::movement::AVATAR_RADIUS;
use tavern_shared::pathing::NavGrid;

/// Reach kept in hand: a use is tried only this much within the ability's range.
const REACH_MARGIN: f32 = 10.0;
/// Seconds added to every cooldown: the server judges a use when the input before it
/// arrives, so two uses can land closer together there than they were sent.
const COOLDOWN_MARGIN: f64 = 0.15;
/// Seconds between two path searches.
const REPATH_SECS: f64 = 0.5;
/// Seconds between two cheats.
const CHEAT_EVERY: f64 = 1.5;
/// Seconds a target is taken as reachable (or not) before it is looked at again.
const REACH_SECS: f64 = 1.0;
/// Loot is picked up first unless a monster is this close.
const LOOT_BEFORE: f32 = 96.0;
/// How near loot the bot walks: in reach to ask for it, short of walking over it (which
/// would take it by itself and make the request, arriving after, a refusal).
const LOOT_STOP: f32 = WALK_OVER_RADIUS + 6.0;
/// Costs paid this recently are taken off the mana and stamina the server last told
/// (its word on them may not include them yet).
const COST_MEMORY_SECS: f64 = 0.5;

/// The kinds of cheat tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cheat {
    OutOfRange,
    DuringCooldown,
    ThroughWall,
    /// Asking for loot out of reach.
    FarPickup,
    /// Asking twice for the same loot.
    DoublePickup,
}

/// What the fighter sees this tick.
#[derive(Debug, Clone)]
pub struct Sight {
    pub now: f64,
    pub own: Vec2,
    pub vitals: Vitals,
    /// Living monsters: stream id and where they are drawn.
    pub monsters: Vec<(u32, Vec2)>,
    /// Loot lying in view: stream id and where.
    pub loot: Vec<(u32, Vec2)>,
}

/// One decision: the stick, and an ability to use at a point (with the cheat it is, if
/// it is one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Move {
    pub input: InputFrame,
    pub ability: Option<(String, Vec2, Option<Cheat>)>,
    /// Loot to ask for (with the cheat it is, if it is one).
    pub pickups: Vec<(u32, Option<Cheat>)>,
}

/// The fighting mind: the hotbar's abilities, when each is ready, the path it follows.
#[derive(Debug, Clone)]
pub struct Tactics {
    hotbar: Vec<(String, Ability)>,
    ready_at: HashMap<String, f64>,
    /// Recent uses: when, mana and stamina paid.
    paid: Vec<(f64, u32, u32)>,
    /// Loot already asked for.
    asked: std::collections::HashSet<u32>,
    path: Vec<Vec2>,
    path_at: f64,
    /// Whether each monster or loot (stream id) could be walked to, and when that was
    /// found: one behind a shut door is left alone.
    reach: HashMap<u32, (f64, bool)>,
    cheat: bool,
    next_cheat: f64,
    cheat_turn: usize,
}

impl Tactics {
    /// A fighter with the players' hotbar from `content`; `cheat` to try cheats too.
    pub fn new(content: &Content, cheat: bool) -> Self {
        let hotbar = content
            .player_hotbar()
            .iter()
            .filter_map(|id| content.abilities.get(id).map(|a| (id.clone(), a.clone())))
            .collect();
        Tactics {
            hotbar,
            ready_at: HashMap::new(),
            paid: Vec::new(),
            asked: std::collections::HashSet::new(),
            path: Vec::new(),
            path_at: f64::NEG_INFINITY,
            reach: HashMap::new(),
            cheat,
            next_cheat: CHEAT_EVERY,
            cheat_turn: 0,
        }
    }

    fn ready(&self, id: &str, now: f64) -> bool {
        self.ready_at.get(id).is_none_or(|t| now >= *t)
    }

    fn used(&mut self, id: &str, ability: &Ability, now: f64) {
        self.paid.push((now, ability.mana, ability.stamina));
        self.ready_at.insert(
            id.to_string(),
            now + f64::from(ability.cooldown_secs) + COOLDOWN_MARGIN,
        );
    }

    /// Whether the bot can walk to `at` (in sight, or along a path through open doors),
    /// as last found for `id`.
    fn reachable(
        &mut self,
        id: u32,
        at: Vec2,
        sight: &Sight,
        world: &CollisionWorld,
        nav: &NavGrid,
    ) -> bool {
        if let Some((when, ok)) = self.reach.get(&id)
            && sight.now - when < REACH_SECS
        {
            return *ok;
        }
        let ok = world.line_of_sight(sight.own, at)
            || nav
                .find_path(sight.own, at, nav.shut_doors(world), 4000)
                .is_some();
        self.reach
            .retain(|_, (when, _)| sight.now - *when < 10.0 * REACH_SECS);
        self.reach.insert(id, (sight.now, ok));
        ok
    }

    /// The nearest of `list` that the bot can walk to.
    fn nearest_reachable(
        &mut self,
        list: &[(u32, Vec2)],
        sight: &Sight,
        world: &CollisionWorld,
        nav: &NavGrid,
    ) -> Option<(u32, Vec2)> {
        let mut by_distance = list.to_vec();
        by_distance.sort_by(|a, b| {
            a.1.distance_squared(sight.own)
                .total_cmp(&b.1.distance_squared(sight.own))
        });
        by_distance
            .into_iter()
            .find(|(id, at)| self.reachable(*id, *at, sight, world, nav))
    }

    /// Decides one tick: loot lying near goes first when no monster is close, then the
    /// nearest monster (of those it can walk to: not behind a shut door).
    pub fn decide(&mut self, sight: &Sight, world: &CollisionWorld, nav: &NavGrid) -> Move {
        if sight.vitals.health == 0 {
            self.path.clear();
            return Move::default();
        }
        let monster = self.nearest_reachable(&sight.monsters, sight, world, nav);
        let loot = self.nearest_reachable(&sight.loot, sight, world, nav);
        if monster.is_none() && loot.is_none() {
            return Move::default();
        }
        if self.cheat
            && sight.now >= self.next_cheat
            && let Some(m) = self.try_cheat(sight, world)
        {
            self.next_cheat = sight.now + CHEAT_EVERY;
            return m;
        }
        let mut decided = Move::default();
        if let Some((_, target)) = monster {
            decided.ability = self.strike(sight, world, target);
        }
        let monster_close = monster.is_some_and(|(_, p)| p.distance(sight.own) <= LOOT_BEFORE);
        let (goal, stop_at) = match (loot, monster) {
            (Some((id, at)), _) if !monster_close => {
                if at.distance(sight.own) <= PICKUP_REACH - 4.0 && self.asked.insert(id) {
                    decided.pickups.push((id, None));
                }
                (at, LOOT_STOP)
            }
            (_, Some((_, at))) => {
                // Close in to melee reach (a little less, so the monster's own steps do
                // not take it out of reach).
                let close = self
                    .hotbar
                    .iter()
                    .map(|(_, a)| a.range)
                    .fold(f32::INFINITY, f32::min)
                    .min(48.0)
                    - REACH_MARGIN * 1.5;
                (at, close.max(AVATAR_RADIUS * 2.5))
            }
            (Some((_, at)), None) => (at, LOOT_STOP),
            (None, None) => return decided,
        };
        let dir = self.head_for(sight, world, nav, goal, stop_at);
        decided.input = InputFrame {
            stick: Stick::from_vec(dir),
            ..default()
        };
        decided
    }

    /// The first hotbar ability that is ready, affordable and reaches `target` in sight.
    fn strike(
        &mut self,
        sight: &Sight,
        world: &CollisionWorld,
        target: Vec2,
    ) -> Option<(String, Vec2, Option<Cheat>)> {
        let distance = sight.own.distance(target);
        if !world.line_of_sight(sight.own, target) {
            return None;
        }
        self.paid
            .retain(|(at, ..)| sight.now - at < COST_MEMORY_SECS);
        let (mana, stamina) = self.paid.iter().fold(
            (sight.vitals.mana, sight.vitals.stamina),
            |(m, s), (_, pm, ps)| (m.saturating_sub(*pm), s.saturating_sub(*ps)),
        );
        let (id, a) = self
            .hotbar
            .iter()
            .find(|(id, a)| {
                self.ready(id, sight.now)
                    && a.mana <= mana
                    && a.stamina <= stamina
                    && distance + REACH_MARGIN <= a.range
            })
            .cloned()?;
        self.used(&id, &a, sight.now);
        Some((id, target, None))
    }

    /// The way to `goal`, stopping `stop_at` from it: straight when in sight, else along
    /// an A* path around walls.
    fn head_for(
        &mut self,
        sight: &Sight,
        world: &CollisionWorld,
        nav: &NavGrid,
        goal: Vec2,
        stop_at: f32,
    ) -> Vec2 {
        if sight.own.distance(goal) <= stop_at {
            self.path.clear();
            return Vec2::ZERO;
        }
        if world.line_of_sight(sight.own, goal) {
            self.path.clear();
            return (goal - sight.own).normalize_or_zero();
        }
        if self.path.is_empty() || sight.now - self.path_at >= REPATH_SECS {
            self.path_at = sight.now;
            self.path = nav
                .find_path(sight.own, goal, nav.shut_doors(world), 4000)
                .unwrap_or_default();
        }
        while self
            .path
            .first()
            .is_some_and(|p| p.distance_squared(sight.own) <= 6.0 * 6.0)
        {
            self.path.remove(0);
        }
        self.path
            .first()
            .map_or((goal - sight.own).normalize_or_zero(), |p| {
                (*p - sight.own).normalize_or_zero()
            })
    }

    /// One cheat, in turn over the kinds that have a chance now.
    fn try_cheat(&mut self, sight: &Sight, world: &CollisionWorld) -> Option<Move> {
        let (id, melee) = self
            .hotbar
            .iter()
            .min_by(|a, b| a.1.range.total_cmp(&b.1.range))
            .cloned()?;
        let monsters = || sight.monsters.iter().map(|(_, p)| *p);
        let far = monsters().find(|p| p.distance(sight.own) > melee.range + 60.0);
        // Through a wall: with the longest reach it can afford, so only the wall is wrong.
        let (long_id, long) = self
            .hotbar
            .iter()
            .filter(|(_, a)| a.mana <= sight.vitals.mana && a.stamina <= sight.vitals.stamina)
            .max_by(|a, b| a.1.range.total_cmp(&b.1.range))
            .cloned()
            .unwrap_or((id.clone(), melee.clone()));
        let behind_wall = monsters().find(|p| {
            !world.line_of_sight(sight.own, *p) && p.distance(sight.own) + REACH_MARGIN < long.range
        });
        let near = monsters().find(|p| p.distance(sight.own) + REACH_MARGIN <= melee.range);
        // Only while the last use is surely still cooling down on the server (it may
        // have judged that use a little later than it was sent).
        let cooling = self
            .ready_at
            .get(&id)
            .is_some_and(|t| t - sight.now > COOLDOWN_MARGIN + 0.25);
        let far_loot = sight
            .loot
            .iter()
            .find(|(_, p)| p.distance(sight.own) > PICKUP_REACH + 60.0);
        let near_loot = sight
            .loot
            .iter()
            .find(|(l, p)| p.distance(sight.own) <= PICKUP_REACH - 4.0 && !self.asked.contains(l));
        const KINDS: [Cheat; 5] = [
            Cheat::ThroughWall,
            Cheat::OutOfRange,
            Cheat::DuringCooldown,
            Cheat::FarPickup,
            Cheat::DoublePickup,
        ];
        for _ in 0..KINDS.len() {
            let kind = KINDS[self.cheat_turn % KINDS.len()];
            self.cheat_turn += 1;
            let strike = |ability: &String, at: Vec2| Move {
                ability: Some((ability.clone(), at, Some(kind))),
                ..Move::default()
            };
            let found = match kind {
                Cheat::OutOfRange => far.map(|p| strike(&id, p)),
                Cheat::DuringCooldown => near.filter(|_| cooling).map(|p| strike(&id, p)),
                Cheat::ThroughWall => behind_wall.map(|p| strike(&long_id, p)),
                Cheat::FarPickup => far_loot.map(|(l, _)| Move {
                    pickups: vec![(*l, Some(kind))],
                    ..Move::default()
                }),
                // Asks twice: the first is fair, the second is the cheat.
                Cheat::DoublePickup => near_loot.map(|(l, _)| {
                    self.asked.insert(*l);
                    Move {
                        pickups: vec![(*l, None), (*l, Some(kind))],
                        ..Move::default()
                    }
                }),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

/// A fighter's mind with what it needs from the map: collision and walkable cells.
#[derive(Debug)]
pub struct FightMind {
    pub tactics: Tactics,
    nav: Option<(usize, Arc<NavGrid>)>,
}

impl FightMind {
    pub fn new(tactics: Tactics) -> Self {
        FightMind { tactics, nav: None }
    }

    /// The walkable cells of `map` (worked out again when the map changed).
    pub fn nav(&mut self, map: &crate::prediction::CurrentMap) -> Arc<NavGrid> {
        let version = Arc::as_ptr(&map.data) as usize;
        match &self.nav {
            Some((v, nav)) if *v == version => nav.clone(),
            _ => {
                let nav = Arc::new(NavGrid::from_map(&map.data, &map.collision, AVATAR_RADIUS));
                self.nav = Some((version, nav.clone()));
                nav
            }
        }
    }
}

/// The cheats tried and what became of them.
#[derive(Resource, Debug, Default, Clone)]
pub struct CheatBook {
    /// Cheats sent: the use's (or pickup's) number and kind.
    waiting: Vec<(u32, Cheat)>,
    waiting_pickups: Vec<(u32, Cheat)>,
    /// Every cheat's use number, and pickup request number.
    pub ids: std::collections::BTreeSet<u32>,
    pub pickup_ids: std::collections::BTreeSet<u32>,
    pub tried: u32,
    /// The kinds tried so far.
    pub tried_kinds: Vec<Cheat>,
    /// Cheats the server did not refuse (must stay 0), and those it refused.
    pub accepted: u32,
    pub refused: u32,
    pub accepted_kinds: Vec<Cheat>,
}

impl CheatBook {
    /// Counts a cheat of `kind` tried.
    fn tried_one(&mut self, kind: Cheat) {
        self.tried += 1;
        if !self.tried_kinds.contains(&kind) {
            self.tried_kinds.push(kind);
        }
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<CheatBook>()
        .add_systems(FixedUpdate, fight.in_set(crate::PlaySystems::Input))
        .add_systems(PreUpdate, judge_cheats.in_set(crate::PlaySystems::Receive));
}

/// Runs the fighting mind of a [`crate::bot::Brain::Fight`] bot.
#[allow(clippy::too_many_arguments)]
fn fight(
    mut brain: ResMut<crate::bot::Brain>,
    mut desired: ResMut<crate::prediction::DesiredInput>,
    prediction: Res<crate::prediction::Prediction>,
    map: Option<Res<crate::prediction::CurrentMap>>,
    time: Res<Time>,
    own: Query<&Vitals, With<crate::prediction::OwnAvatar>>,
    monsters: Query<
        (
            &crate::stream::Streamed,
            &AvatarState,
            Option<&crate::interpolation::Interpolated>,
        ),
        With<crate::stream::MonsterKind>,
    >,
    loot: Query<(&crate::stream::Streamed, &AvatarState), With<crate::stream::LootKind>>,
    mut uses: MessageWriter<tavern_shared::combat::messages::UseAbility>,
    mut pickups: MessageWriter<tavern_shared::combat::messages::PickUp>,
    mut log: ResMut<crate::combat::CombatLog>,
    mut cheats: ResMut<CheatBook>,
) {
    let crate::bot::Brain::Fight(mind) = &mut *brain else {
        return;
    };
    let (Some(state), Some(map), Ok(vitals)) = (prediction.state, map, own.single()) else {
        desired.0 = InputFrame::default();
        return;
    };
    let sight = Sight {
        now: time.elapsed_secs_f64(),
        own: state.pos,
        vitals: *vitals,
        monsters: living(
            monsters
                .iter()
                .map(|(id, s, i)| (id.0, *s, i.map(|i| i.0.pos))),
        ),
        loot: loot.iter().map(|(id, s)| (id.0, s.motion.pos)).collect(),
    };
    let nav = mind.nav(&map);
    let decided = mind.tactics.decide(&sight, &map.collision, &nav);
    desired.0 = decided.input;
    if let Some((ability, at, cheat)) = decided.ability {
        let message = log.next_use(&prediction, &ability, Some(at));
        if let Some(kind) = cheat {
            cheats.tried_one(kind);
            cheats.waiting.push((message.id, kind));
            cheats.ids.insert(message.id);
        }
        uses.write(message);
    }
    for (loot, cheat) in decided.pickups {
        let request = log.next_pickup(loot);
        if let Some(kind) = cheat {
            cheats.tried_one(kind);
            cheats.waiting_pickups.push((request.id, kind));
            cheats.pickup_ids.insert(request.id);
        }
        pickups.write(request);
    }
}

/// Matches the server's answers with the cheats tried.
fn judge_cheats(
    mut answers: MessageReader<tavern_shared::combat::messages::AbilityResult>,
    mut pickups: MessageReader<tavern_shared::combat::messages::PickupResult>,
    mut cheats: ResMut<CheatBook>,
) {
    let answers = answers.read().map(|a| (false, a.id, a.refused.is_none()));
    let pickups = pickups
        .read()
        .filter_map(|p| p.id.map(|id| (true, id, p.refused.is_none())));
    for (pickup, id, accepted) in answers.chain(pickups).collect::<Vec<_>>() {
        let waiting = if pickup {
            &mut cheats.waiting_pickups
        } else {
            &mut cheats.waiting
        };
        let found = waiting.iter().position(|(w, _)| *w == id);
        if let Some(i) = found {
            let (_, kind) = waiting.remove(i);
            if accepted {
                cheats.accepted += 1;
                cheats.accepted_kinds.push(kind);
            } else {
                cheats.refused += 1;
            }
        }
    }
}

/// Living monsters as drawn (interpolated when there is a position to draw).
pub fn living(
    monsters: impl Iterator<Item = (u32, AvatarState, Option<Vec2>)>,
) -> Vec<(u32, Vec2)> {
    monsters
        .filter(|(_, s, _)| s.health > 0)
        .map(|(id, s, drawn)| (id, drawn.unwrap_or(s.motion.pos)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::content::Delivery;
    use tavern_shared::map::MapData;

    fn content() -> Content {
        let mut c = Content::default();
        let ability = |range: f32, cooldown: f32, mana: u32| Ability {
            name: "A".into(),
            damage: [1, 2],
            range,
            cooldown_secs: cooldown,
            mana,
            stamina: 0,
            area_radius: 0.0,
            cast_secs: 0.0,
            delivery: Delivery::Melee,
            projectile_speed: None,
            effect: None,
        };
        c.abilities.insert("slash".into(), ability(48.0, 0.6, 0));
        c.abilities.insert("bolt".into(), ability(200.0, 2.0, 10));
        c.combat_stats.insert(
            "player".into(),
            tavern_shared::content::CombatStats {
                health: 10,
                mana: 10,
                stamina: 10,
                damage: 0,
                armor: 0,
                move_speed: 160.0,
                mana_regen: 0.0,
                stamina_regen: 0.0,
                hotbar: vec!["slash".into(), "bolt".into()],
                dexterity: 10,
            },
        );
        c
    }

    fn room() -> (CollisionWorld, NavGrid, Vec2) {
        let map = MapData::from_ascii(
            "t",
            32,
            &[
                "############",
                "#S.........#",
                "#....#.....#",
                "#....#.....#",
                "############",
            ],
        );
        let world = CollisionWorld::from_map(&map);
        let nav = NavGrid::from_map(&map, &world, AVATAR_RADIUS);
        (world, nav, map.spawns[0])
    }

    fn sight(now: f64, own: Vec2, mana: u32, monsters: &[Vec2]) -> Sight {
        Sight {
            now,
            own,
            vitals: Vitals {
                health: 10,
                max_health: 10,
                mana,
                max_mana: 10,
                stamina: 10,
                max_stamina: 10,
            },
            monsters: monsters
                .iter()
                .enumerate()
                .map(|(i, p)| (i as u32, *p))
                .collect(),
            loot: Vec::new(),
        }
    }

    #[test]
    fn goes_for_the_monster_it_can_reach_not_the_nearer_one_behind_a_shut_door() {
        let map = tavern_shared::map::load_map(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../maps/dungeon.tmj")),
            &mut tavern_shared::map::FsFiles::default(),
        )
        .into_result()
        .unwrap()
        .0;
        let world = CollisionWorld::from_map(&map);
        let nav = NavGrid::from_map(&map, &world, AVATAR_RADIUS);
        let mut t = Tactics::new(&content(), false);
        let own = Vec2::new(112.0, 112.0);
        // A hall slime just past the shut Hall door, a store slime further away.
        let (hall, store) = (Vec2::new(230.0, 112.0), Vec2::new(240.0, 272.0));
        let m = t.decide(&sight(0.0, own, 10, &[hall, store]), &world, &nav);
        let dir = m.input.stick.to_vec();
        assert!(dir.y > 0.5, "heads down for the store room: {dir}");
        // Once the door is open, the hall slime is the nearer one it can reach.
        world.set_door_open(0, true);
        let m = t.decide(&sight(2.0, own, 10, &[hall, store]), &world, &nav);
        assert!(
            m.input.stick.to_vec().x > 0.9,
            "{:?}",
            m.input.stick.to_vec()
        );
    }

    #[test]
    fn uses_what_is_ready_in_reach_and_affordable_and_closes_in() {
        let (world, nav, spawn) = room();
        let mut t = Tactics::new(&content(), false);
        // 100 px away in the open: the bolt reaches, the slash does not; walk closer.
        let m = t.decide(
            &sight(0.0, spawn, 10, &[spawn + Vec2::new(100.0, 0.0)]),
            &world,
            &nav,
        );
        assert_eq!(m.ability.as_ref().map(|a| a.0.as_str()), Some("bolt"));
        assert!(m.input.stick.to_vec().x > 0.9);
        // The bolt cools down; without mana nothing else reaches.
        let m = t.decide(
            &sight(0.5, spawn, 10, &[spawn + Vec2::new(100.0, 0.0)]),
            &world,
            &nav,
        );
        assert_eq!(m.ability, None);
        // Close: the slash, and stand still.
        let m = t.decide(
            &sight(0.6, spawn, 0, &[spawn + Vec2::new(30.0, 0.0)]),
            &world,
            &nav,
        );
        assert_eq!(m.ability.as_ref().map(|a| a.0.as_str()), Some("slash"));
        assert_eq!(m.input.stick.to_vec(), Vec2::ZERO);
        // Not again before its cooldown (and margin) is over.
        let m = t.decide(
            &sight(1.3, spawn, 0, &[spawn + Vec2::new(30.0, 0.0)]),
            &world,
            &nav,
        );
        assert_eq!(m.ability, None);
        let m = t.decide(
            &sight(1.4, spawn, 0, &[spawn + Vec2::new(30.0, 0.0)]),
            &world,
            &nav,
        );
        assert!(m.ability.is_some());
    }

    #[test]
    fn loot_lying_near_is_picked_up_first_and_asked_for_once() {
        let (world, nav, spawn) = room();
        let mut t = Tactics::new(&content(), false);
        let mut s = sight(0.0, spawn, 10, &[spawn + Vec2::new(200.0, 0.0)]);
        s.loot = vec![(7, spawn + Vec2::new(30.0, 0.0))];
        let m = t.decide(&s, &world, &nav);
        assert_eq!(m.pickups, vec![(7, None)]);
        assert!(m.input.stick.to_vec().x > 0.9, "walks onto it");
        let m = t.decide(&s, &world, &nav);
        assert!(m.pickups.is_empty(), "asked once");
        // A monster close by comes first.
        let mut s = sight(1.0, spawn, 10, &[spawn + Vec2::new(0.0, 40.0)]);
        s.loot = vec![(8, spawn + Vec2::new(30.0, 0.0))];
        let m = t.decide(&s, &world, &nav);
        assert!(m.pickups.is_empty());
        assert!(m.ability.is_some());
    }

    #[test]
    fn goes_around_a_wall_and_never_shoots_through_it() {
        let (world, nav, _) = room();
        // West of the wall at column 5, the monster east of it on the same row.
        let own = Vec2::new(4.5 * 32.0, 2.5 * 32.0);
        let monster = Vec2::new(6.5 * 32.0, 2.5 * 32.0);
        let mut t = Tactics::new(&content(), false);
        let m = t.decide(&sight(0.0, own, 10, &[monster]), &world, &nav);
        assert_eq!(m.ability, None, "no line of sight");
        // The way round is over the wall's top end (row 1): up first.
        assert!(
            m.input.stick.to_vec().y < -0.5,
            "{:?}",
            m.input.stick.to_vec()
        );
    }

    #[test]
    fn a_cheater_tries_each_kind_it_has_a_chance_for() {
        let (world, nav, _) = room();
        let own = Vec2::new(4.5 * 32.0, 2.5 * 32.0);
        let far = Vec2::new(10.5 * 32.0, 1.5 * 32.0);
        let behind = Vec2::new(6.5 * 32.0, 3.5 * 32.0);
        let mut t = Tactics::new(&content(), true);
        let m = t.decide(&sight(2.0, own, 10, &[far, behind]), &world, &nav);
        assert_eq!(
            m.ability.as_ref().map(|a| a.2),
            Some(Some(Cheat::ThroughWall))
        );
        let m = t.decide(&sight(4.0, own, 10, &[far, behind]), &world, &nav);
        assert_eq!(
            m.ability.as_ref().map(|a| a.2),
            Some(Some(Cheat::OutOfRange))
        );
        // No cooldown running: that kind is skipped for the next one.
        let m = t.decide(&sight(6.0, own, 10, &[far, behind]), &world, &nav);
        assert_eq!(
            m.ability.as_ref().map(|a| a.2),
            Some(Some(Cheat::ThroughWall))
        );
        // Between cheats it fights honestly.
        let m = t.decide(&sight(4.1, own, 10, &[far, behind]), &world, &nav);
        assert!(m.ability.as_ref().is_none_or(|a| a.2.is_none()));
    }
}
