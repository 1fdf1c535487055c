//! Encounters at a campaign's table ([`tavern_shared::gm::encounter`] has the rules):
//! the GM starts one on its map, initiative is rolled for every player there and every
//! monster near the GM, and turns are enforced: only the combatant whose turn it is
//! moves (within its sheet's speed) and acts (once); the others stand held, so their
//! own view does not move either. The turn timer runs on the simulation clock and
//! stops while the game is paused. A player brought to 0 hit points makes a death
//! saving throw on each of its turns; every roll is said at the table and stored.

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, PlayerId, health_bar};
use tavern_shared::combat::Vitals;
use tavern_shared::gm::encounter::{
    Combatant, DeathSaves, Encounter, Initiative, SaveOutcome, Standing, TURN_SECS, feet_to_pixels,
    order,
};
use tavern_shared::gm::{DEFAULT_ENCOUNTER_RADIUS, EncounterCommand, EncounterState};
use tavern_shared::movement::TICK_HZ;

use super::session::{Change, Consequences, GmWorker, Stored, Table, submit, the_gm};
use crate::chat::ChatWorker;
use crate::combat::loot::PlayerKey;
use crate::combat::monsters::Monster;
use crate::combat::{Clock, CombatRng, Dead, Fighter, Warps};
use crate::content::ContentHandle;
use crate::interest::StreamTag;
use crate::net::to_client;
use crate::players::InRoom;
use crate::rooms::RoomId;
use crate::world::{MapId, Maps, OnMap};

/// An encounter being played in a room, on one of its maps.
#[derive(Debug)]
pub struct Running {
    pub encounter: Encounter,
    pub map: MapId,
    /// Each combatant's body (by stream id).
    bodies: HashMap<u32, Entity>,
    /// Where the mover stood on the tick before (to count its movement).
    last_pos: Option<Vec2>,
    /// The (round, turn) whose death save was rolled.
    rolled_for: Option<(u32, usize)>,
}

/// The encounters of every room; rooms whose encounter changed are told once a frame.
#[derive(Resource, Debug, Default)]
pub struct Encounters {
    pub running: HashMap<RoomId, Running>,
    dirty: HashSet<RoomId>,
    /// Counts changes of who is held ([`super::freeze`] looks again when it moves).
    pub generation: u64,
    /// Players back up with 1 hit point (a natural 20), to be stood up.
    revived: Vec<Entity>,
}

impl Encounters {
    /// Whether the body `body` on `map` of `room` stands held by an encounter: a
    /// combatant whose turn it is not, or a player whose turn it is with no movement
    /// left or no longer up.
    pub fn holds(&self, room: &RoomId, map: MapId, body: u32) -> bool {
        let Some(r) = self.running.get(room) else {
            return false;
        };
        if r.map != map || !r.bodies.contains_key(&body) {
            return false;
        }
        match r.encounter.current() {
            Some(current) if current.body == body => current.player && !r.encounter.may_move(body),
            _ => true,
        }
    }

    /// Why the body `body` in `room` may not use an ability now, if it is a combatant.
    pub fn refuse_action(&self, room: &RoomId, body: u32) -> Option<String> {
        let r = self.running.get(room)?;
        if !r.bodies.contains_key(&body) {
            return None;
        }
        r.encounter.refuse_action(body)
    }

    /// The body `body` took its action this turn.
    pub fn acted(&mut self, room: &RoomId, body: u32) {
        if let Some(r) = self.running.get_mut(room)
            && r.encounter.current().is_some_and(|c| c.body == body)
        {
            r.encounter.acted = true;
            self.changed(room);
        }
    }

    fn changed(&mut self, room: &RoomId) {
        self.dirty.insert(room.clone());
        self.generation += 1;
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Encounters>()
        .add_systems(
            PreUpdate,
            receive_commands.in_set(crate::GameSystems::ReceiveInputs),
        )
        .add_systems(
            FixedUpdate,
            (run_encounters, settle)
                .chain()
                .in_set(crate::GameSystems::Table)
                .before(super::freeze::freeze),
        )
        .add_systems(Update, (tell_rooms, welcome));
}

/// A d20 from the combat RNG (seeded by `--combat-seed` when given).
fn d20(rng: &mut CombatRng) -> u8 {
    ((rng.roll() * 20.0) as u8).min(19) + 1
}

/// The room's turn time limit in ticks.
fn turn_ticks(table: &Table, room: &RoomId) -> u32 {
    let secs = table
        .rooms
        .get(&room.0)
        .and_then(|r| r.campaign)
        .map_or(tavern_shared::gm::encounter::DEFAULT_TURN_SECS, |c| {
            c.turn_secs
        });
    secs.saturating_mul(TICK_HZ as u32)
}

/// What a combatant is made from: a body as it is now.
struct BodyInfo {
    entity: Entity,
    body: u32,
    map: MapId,
    pos: Vec2,
    player: bool,
    identity: Option<String>,
    /// A monster's enemy type, and its combat stats' id.
    kind: Option<String>,
    stats: Option<String>,
    dead: bool,
}

/// What the encounter systems read and change of the world.
#[derive(bevy::ecs::system::SystemParam)]
pub struct Arena<'w, 's> {
    pub encounters: ResMut<'w, Encounters>,
    clock: Res<'w, Clock>,
    rng: ResMut<'w, CombatRng>,
    maps: Res<'w, Maps>,
    content: Option<Res<'w, ContentHandle>>,
    bodies: Query<
        'w,
        's,
        (
            Entity,
            &'static StreamTag,
            &'static OnMap,
            &'static AvatarState,
            Option<&'static PlayerId>,
            Option<&'static PlayerKey>,
            Option<&'static Monster>,
            Option<&'static Fighter>,
            Has<Dead>,
        ),
    >,
    names: Query<'w, 's, &'static tavern_shared::avatar::DisplayName>,
    chat: Option<Res<'w, ChatWorker>>,
    players: Res<'w, crate::players::PlayerDirectory>,
}

impl Arena<'_, '_> {
    /// The body `entity` as it is now.
    fn info(&self, entity: Entity) -> Option<BodyInfo> {
        let (entity, tag, on, state, player, key, monster, fighter, dead) =
            self.bodies.get(entity).ok()?;
        Some(BodyInfo {
            entity,
            body: tag.0,
            map: on.0,
            pos: state.motion.pos,
            player: player.is_some(),
            identity: key.map(|k| k.0.clone()),
            kind: monster.map(|m| m.enemy.clone()),
            stats: fighter.map(|f| f.stats.clone()),
            dead,
        })
    }

    /// A combatant for a body: its initiative rolled now (players: dexterity and speed
    /// from their sheet in the campaign, else 10 and 30 feet; monsters: their stats').
    fn combatant(&mut self, table: &Table, room: &RoomId, b: &BodyInfo) -> Combatant {
        let tile = self.maps.try_get(b.map).map_or(32, |p| p.data.tile_width);
        let (name, dexterity, budget) = match b.player {
            true => {
                let sheet = b
                    .identity
                    .as_deref()
                    .and_then(crate::http::campaigns::account_of)
                    .and_then(|account| {
                        table
                            .tables
                            .sheets(room)
                            .iter()
                            .find(|s| s.account == account)
                    })
                    .map(|s| &s.sheet);
                let name = self
                    .names
                    .get(b.entity)
                    .map(|n| n.0.clone())
                    .unwrap_or_default();
                (
                    name,
                    sheet.map_or(10, |s| s.abilities.dexterity),
                    feet_to_pixels(sheet.map_or(30, |s| s.speed), tile),
                )
            }
            false => {
                let dexterity = self
                    .content
                    .as_ref()
                    .zip(b.stats.as_ref())
                    .and_then(|(c, stats)| {
                        c.current()
                            .content
                            .combat_stats
                            .get(stats)
                            .map(|s| s.dexterity)
                    })
                    .unwrap_or(10);
                let kind = b.kind.as_deref().unwrap_or("monster");
                (format!("{kind} #{}", b.body), dexterity, 0.0)
            }
        };
        Combatant {
            body: b.body,
            name,
            player: b.player,
            initiative: Initiative::new(d20(&mut self.rng), dexterity),
            budget,
            standing: match (b.dead, b.player) {
                (false, _) => Standing::Up,
                (true, true) => Standing::Dying(DeathSaves::default()),
                (true, false) => Standing::Dead,
            },
        }
    }

    /// Says `text` at the table of `room` on behalf of `who` (a connection, identity
    /// and name), stored with the room's dice; `false` if it could not be.
    fn say(&self, room: &RoomId, sender: Entity, who: (&str, &str), text: String) -> bool {
        super::say_at_table(
            self.chat.as_deref(),
            &self.players,
            room,
            (sender, who.0, who.1),
            text,
        )
    }
}

/// "Bram 16 (14 + 2)".
fn initiative_shown(c: &Combatant) -> String {
    let i = c.initiative;
    let sign = if i.modifier < 0 { '-' } else { '+' };
    format!(
        "{} {} ({} {sign} {})",
        c.name,
        i.total(),
        i.roll,
        i.modifier.abs()
    )
}

fn receive_commands(
    mut received: MessageReader<FromClient<EncounterCommand>>,
    mut table: Table,
    mut arena: Arena,
    worker: Option<Res<GmWorker>>,
    mut world: Consequences,
) {
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let command = *message;
        // A combatant ends its own turn; everything else is the GM's.
        if command == EncounterCommand::EndTurn {
            let Some((room, _, _)) = table.who(client) else {
                continue;
            };
            let body = table
                .find_client(client)
                .and_then(|a| arena.bodies.get(a).ok())
                .map(|b| b.1.0);
            let mine = arena
                .encounters
                .running
                .get(&room)
                .and_then(|r| r.encounter.current())
                .is_some_and(|c| Some(c.body) == body);
            let gm = table
                .rooms
                .get(&room.0)
                .zip(table.who(client))
                .is_some_and(|(r, (_, identity, _))| r.is_gm(&identity));
            if !mine && !gm {
                table.notice(client, "it is not your turn");
                continue;
            }
            next_turn(&room, &mut table, &mut arena, false);
            continue;
        }
        let Some((room, _, gm_name)) = the_gm(&mut table, client, || command.refused()) else {
            continue;
        };
        let outcome = match command {
            EncounterCommand::Start { radius } => {
                start(&room, client, &gm_name, radius, &mut table, &mut arena)
            }
            EncounterCommand::Next => running(&arena, &room).map(|()| {
                next_turn(&room, &mut table, &mut arena, false);
            }),
            EncounterCommand::Back => running(&arena, &room).map(|()| {
                let ticks = turn_ticks(&table, &room);
                let now = arena.clock.0;
                if let Some(r) = arena.encounters.running.get_mut(&room)
                    && r.encounter.back(now, ticks).is_some()
                {
                    r.last_pos = None;
                }
                arena.encounters.changed(&room);
                announce_turn(&room, &mut table, &arena);
            }),
            EncounterCommand::Add { player } => add(&room, player, &mut table, &mut arena),
            EncounterCommand::Remove { player } => remove(&room, player, &mut table, &mut arena),
            EncounterCommand::End => running(&arena, &room).map(|()| {
                arena.encounters.running.remove(&room);
                arena.encounters.changed(&room);
                table.announce(&room, &format!("{gm_name} ended the encounter"));
                info!(%room, "encounter ended");
            }),
            EncounterCommand::Timer { secs } => {
                if TURN_SECS.contains(&secs) {
                    let change = Change {
                        room: room.clone(),
                        gm: client,
                        gm_name: gm_name.clone(),
                        what: Stored::TurnSecs(secs),
                    };
                    submit(change, worker.as_deref(), &mut table, &mut world);
                    Ok(())
                } else {
                    Err(format!(
                        "a turn lasts {} to {} seconds, not {secs}",
                        TURN_SECS.start(),
                        TURN_SECS.end()
                    ))
                }
            }
            EncounterCommand::EndTurn => Ok(()),
        };
        if let Err(why) = outcome {
            table.notice(client, why);
        }
    }
}

fn running(arena: &Arena, room: &RoomId) -> Result<(), String> {
    if arena.encounters.running.contains_key(room) {
        Ok(())
    } else {
        Err("there is no encounter; start one with /encounter start".into())
    }
}

fn start(
    room: &RoomId,
    gm: Entity,
    gm_name: &str,
    radius: Option<f32>,
    table: &mut Table,
    arena: &mut Arena,
) -> Result<(), String> {
    if arena.encounters.running.contains_key(room) {
        return Err("an encounter is running; end it first (/encounter end)".into());
    }
    let radius = radius.unwrap_or(DEFAULT_ENCOUNTER_RADIUS);
    if !(radius.is_finite() && radius > 0.0 && radius <= 4096.0) {
        return Err(format!("the radius is 1 to 4096 pixels, not {radius}"));
    }
    let gm_avatar = table.find_client(gm).ok_or("you have no avatar")?;
    let gm_body = arena.info(gm_avatar).ok_or("you have no avatar")?;
    let (map, center) = (gm_body.map, gm_body.pos);
    let players: HashSet<Entity> = table
        .members(room)
        .into_iter()
        .filter_map(|c| table.find_client(c))
        .filter(|a| *a != gm_avatar)
        .collect();
    let chosen: Vec<Entity> = arena
        .bodies
        .iter()
        .filter(|b| b.2.0 == map)
        .filter(|b| {
            players.contains(&b.0)
                || (b.6.is_some() && !b.8 && b.3.motion.pos.distance(center) <= radius)
        })
        .map(|b| b.0)
        .collect();
    if !chosen.iter().any(|e| players.contains(e)) {
        return Err("no player is on your map to fight".into());
    }
    let mut combatants = Vec::new();
    let mut bodies = HashMap::new();
    for entity in chosen {
        let Some(body) = arena.info(entity) else {
            continue;
        };
        let c = arena.combatant(table, room, &body);
        bodies.insert(c.body, entity);
        combatants.push(c);
    }
    let rng = &mut arena.rng;
    let sorted = order(combatants, || d20(rng));
    let ticks = turn_ticks(table, room);
    let encounter =
        Encounter::start(sorted, arena.clock.0, ticks).ok_or("nobody there can fight")?;
    let rolls: Vec<String> = encounter.order.iter().map(initiative_shown).collect();
    let gm_identity = table
        .who(gm)
        .map(|(_, identity, _)| identity)
        .unwrap_or_default();
    if !arena.say(
        room,
        gm,
        (&gm_identity, gm_name),
        format!("rolls initiative: {}", rolls.join(", ")),
    ) {
        warn!(%room, "the initiative rolls could not be stored");
    }
    info!(%room, combatants = encounter.order.len(), "encounter started");
    arena.encounters.running.insert(
        room.clone(),
        Running {
            encounter,
            map,
            bodies,
            last_pos: None,
            rolled_for: None,
        },
    );
    arena.encounters.changed(room);
    table.announce(room, &format!("{gm_name} started an encounter"));
    announce_turn(room, table, arena);
    Ok(())
}

fn add(room: &RoomId, player: u64, table: &mut Table, arena: &mut Arena) -> Result<(), String> {
    running(arena, room)?;
    let (_, avatar, _, name) = table
        .find(room, player)
        .ok_or_else(|| format!("player {player} is not in this room"))?;
    let body = arena.info(avatar).ok_or("no such avatar")?;
    let r = &arena.encounters.running[room];
    if body.map != r.map {
        return Err(format!("{name} is on another map than the encounter"));
    }
    if r.bodies.contains_key(&body.body) {
        return Err(format!("{name} is in the encounter already"));
    }
    let c = arena.combatant(table, room, &body);
    let shown = initiative_shown(&c);
    let r = arena
        .encounters
        .running
        .get_mut(room)
        .expect("checked above");
    r.bodies.insert(c.body, avatar);
    r.encounter.add(c);
    arena.encounters.changed(room);
    table.announce(room, &format!("{name} joins the encounter: {shown}"));
    Ok(())
}

fn remove(room: &RoomId, player: u64, table: &mut Table, arena: &mut Arena) -> Result<(), String> {
    running(arena, room)?;
    let (_, avatar, _, name) = table
        .find(room, player)
        .ok_or_else(|| format!("player {player} is not in this room"))?;
    let body = arena
        .bodies
        .get(avatar)
        .map(|b| b.1.0)
        .map_err(|_| "no such avatar")?;
    let ticks = turn_ticks(table, room);
    let now = arena.clock.0;
    let r = arena
        .encounters
        .running
        .get_mut(room)
        .expect("checked above");
    if r.bodies.remove(&body).is_none() {
        return Err(format!("{name} is not in the encounter"));
    }
    let had_turn = r.encounter.current().is_some_and(|c| c.body == body);
    let anyone = r.encounter.remove(body, now, ticks);
    r.last_pos = None;
    arena.encounters.changed(room);
    table.announce(room, &format!("{name} leaves the encounter"));
    if !anyone {
        arena.encounters.running.remove(room);
        table.announce(room, "nobody is left to fight: the encounter is over");
    } else if had_turn {
        announce_turn(room, table, arena);
    }
    Ok(())
}

/// The next turn; `timed_out` when the timer ended it.
fn next_turn(room: &RoomId, table: &mut Table, arena: &mut Arena, timed_out: bool) {
    let ticks = turn_ticks(table, room);
    let now = arena.clock.0;
    let Some(r) = arena.encounters.running.get_mut(room) else {
        return;
    };
    let ended = r.encounter.current().map(|c| c.name.clone());
    r.encounter.next(now, ticks);
    r.last_pos = None;
    arena.encounters.changed(room);
    if timed_out && let Some(name) = ended {
        table.announce(room, &format!("{name}'s time is up"));
    }
    announce_turn(room, table, arena);
}

/// Tells the room whose turn it is ("Round 2: Bram's turn").
fn announce_turn(room: &RoomId, table: &mut Table, arena: &Arena) {
    if let Some(r) = arena.encounters.running.get(room)
        && let Some(c) = r.encounter.current()
    {
        let text = format!("Round {}: {}'s turn", r.encounter.round, c.name);
        table.announce(room, &text);
    }
}

/// Each tick: the timer runs (not while the room is paused), the mover's steps are
/// counted against its budget, falls are noticed (a hit while down is a failed death
/// save), and a dying player's turn begins with its death saving throw.
fn run_encounters(
    mut table: Table,
    mut arena: Arena,
    mut strikes: MessageReader<crate::combat::damage::Strike>,
) {
    if arena.encounters.running.is_empty() {
        strikes.clear();
        return;
    }
    let hits: Vec<Entity> = strikes.read().map(|s| s.target).collect();
    let rooms: Vec<RoomId> = arena.encounters.running.keys().cloned().collect();
    for room in rooms {
        let paused = table.tables.is_paused(&room);
        let said = standings(&room, &mut arena, &hits);
        for text in said {
            table.announce(&room, &text);
        }
        let now = arena.clock.0;
        let due = match arena.encounters.running.get_mut(&room) {
            Some(r) if paused => {
                r.encounter.hold();
                false
            }
            Some(r) => r.encounter.ends_at.wrapping_sub(now) as i32 <= 0,
            None => continue,
        };
        if due {
            next_turn(&room, &mut table, &mut arena, true);
        }
        // A stable or dead one's turn passes; a dying one's begins with its save.
        for _ in 0..arena
            .encounters
            .running
            .get(&room)
            .map_or(0, |r| r.encounter.order.len())
        {
            if !death_save(&room, &mut table, &mut arena) {
                break;
            }
        }
    }
}

/// Notes who fell, who was hit while down and who is gone, and counts the mover's
/// steps; what the table is told.
fn standings(room: &RoomId, arena: &mut Arena, hits: &[Entity]) -> Vec<String> {
    let mut said = Vec::new();
    let mut changed = false;
    let Arena {
        encounters, bodies, ..
    } = arena;
    let Some(r) = encounters.running.get_mut(room) else {
        return said;
    };
    let entities: Vec<(u32, Entity)> = r.bodies.iter().map(|(b, e)| (*b, *e)).collect();
    for (body, entity) in entities {
        // `None`: the body is gone (a monster's corpse removed, a player left).
        let dead = bodies.get(entity).ok().map(|b| b.8);
        let Some(c) = r.encounter.combatant_mut(body) else {
            continue;
        };
        let was = c.standing;
        match (c.standing, dead, c.player) {
            (Standing::Up, Some(true), true) => {
                c.standing = Standing::Dying(DeathSaves::default());
                said.push(format!("{} falls unconscious", c.name));
            }
            (Standing::Up | Standing::Dying(_) | Standing::Stable, None, _)
            | (Standing::Up, Some(true), false) => c.standing = Standing::Dead,
            (Standing::Dying(mut saves), Some(true), true) if hits.contains(&entity) => {
                let outcome = saves.hit();
                c.standing = match outcome {
                    SaveOutcome::Died => Standing::Dead,
                    _ => Standing::Dying(saves),
                };
                let what = match outcome {
                    SaveOutcome::Died => "dies".to_string(),
                    _ => format!("fails a death save ({})", saves.shown()),
                };
                said.push(format!("{} is hit while down and {what}", c.name));
            }
            _ => {}
        }
        changed |= was != c.standing;
    }
    // The mover's steps.
    if let Some(current) = r.encounter.current().cloned()
        && current.player
        && let Some(entity) = r.bodies.get(&current.body)
        && let Ok(b) = bodies.get(*entity)
    {
        let pos = b.3.motion.pos;
        if let Some(last) = r.last_pos {
            let before = r.encounter.may_move(current.body);
            r.encounter.moved += pos.distance(last);
            changed |= before && !r.encounter.may_move(current.body);
        }
        r.last_pos = Some(pos);
    }
    if changed {
        encounters.changed(room);
    }
    said
}

/// At the start of a turn that is not an able combatant's: a dying player rolls its
/// death save (said at the table and stored) and, unless it rolled a 20, its turn
/// passes; a stable or dead one's turn passes at once. Whether the turn passed.
fn death_save(room: &RoomId, table: &mut Table, arena: &mut Arena) -> bool {
    let Some(r) = arena.encounters.running.get(room) else {
        return false;
    };
    let Some(current) = r.encounter.current().cloned() else {
        return false;
    };
    let here = (r.encounter.round, r.encounter.turn);
    let mut saves = match current.standing {
        Standing::Up => return false,
        Standing::Dying(saves) if r.rolled_for != Some(here) => saves,
        _ => {
            next_turn(room, table, arena, false);
            return true;
        }
    };
    let Some(&entity) = r.bodies.get(&current.body) else {
        return false;
    };
    let roll = d20(&mut arena.rng);
    let outcome = saves.roll(roll);
    let (standing, what) = match outcome {
        SaveOutcome::Revived => (
            Standing::Up,
            "a natural 20: back up with 1 hit point".to_string(),
        ),
        SaveOutcome::Stable => (Standing::Stable, "stable".to_string()),
        SaveOutcome::Died => (Standing::Dead, "dead".to_string()),
        SaveOutcome::Success => (
            Standing::Dying(saves),
            format!("success ({})", saves.shown()),
        ),
        SaveOutcome::Failure => (
            Standing::Dying(saves),
            format!("failure ({})", saves.shown()),
        ),
    };
    if let Some(r) = arena.encounters.running.get_mut(room) {
        r.rolled_for = Some(here);
        if let Some(c) = r.encounter.combatant_mut(current.body) {
            c.standing = standing;
        }
    }
    if outcome == SaveOutcome::Revived {
        arena.encounters.revived.push(entity);
    }
    arena.encounters.changed(room);
    let text = format!("makes a death saving throw: [{roll}]: {what}");
    let owner = table
        .members(room)
        .into_iter()
        .find(|c| table.find_client(*c) == Some(entity));
    let identity = arena
        .info(entity)
        .and_then(|b| b.identity)
        .unwrap_or_default();
    let stored =
        owner.is_some_and(|owner| arena.say(room, owner, (&identity, &current.name), text.clone()));
    if !stored {
        // Its player is away (or nothing is stored): the table hears it all the same.
        table.announce(room, &format!("{} {text}", current.name));
    }
    if outcome == SaveOutcome::Revived {
        return false;
    }
    next_turn(room, table, arena, false);
    true
}

/// Players down in an encounter wait for it, not for the respawn timer; one that
/// rolled a 20 stands up with 1 hit point.
fn settle(
    mut encounters: ResMut<Encounters>,
    mut down: Query<&mut Dead>,
    mut revive: Query<(&mut Vitals, &mut AvatarState, &mut Warps)>,
    mut commands: Commands,
) {
    if encounters.running.is_empty() && encounters.revived.is_empty() {
        return;
    }
    for r in encounters.running.values() {
        for c in r
            .encounter
            .order
            .iter()
            .filter(|c| c.player && c.standing != Standing::Up)
        {
            if let Some(&entity) = r.bodies.get(&c.body)
                && let Ok(mut dead) = down.get_mut(entity)
            {
                dead.until = dead.until.wrapping_add(1);
            }
        }
    }
    for entity in std::mem::take(&mut encounters.revived) {
        if let Ok((mut vitals, mut state, mut warps)) = revive.get_mut(entity) {
            vitals.health = 1;
            state.health = health_bar(1, vitals.max_health);
            warps.0 = warps.0.wrapping_add(1);
            commands.entity(entity).remove::<Dead>();
        }
    }
}

/// Sends each room whose encounter changed its state.
fn tell_rooms(mut arena: Arena, table: Table, mut out: MessageWriter<ToClients<EncounterState>>) {
    if arena.encounters.dirty.is_empty() {
        return;
    }
    let dirty: Vec<RoomId> = arena.encounters.dirty.drain().collect();
    for room in dirty {
        let state = state_of(&arena, &table, &room);
        for client in table.members(&room) {
            out.write(to_client(client, state.clone()));
        }
    }
}

fn state_of(arena: &Arena, table: &Table, room: &RoomId) -> EncounterState {
    let running = arena.encounters.running.get(room);
    EncounterState {
        encounter: running.map(|r| r.encounter.clone()),
        seconds_left: running.map_or(0.0, |r| {
            r.encounter.ticks_left(arena.clock.0) as f32 / TICK_HZ as f32
        }),
        turn_secs: turn_ticks(table, room) / TICK_HZ as u32,
    }
}

/// A player arriving (or back after a drop) mid-encounter is told where it stands.
fn welcome(
    arrived: Query<(Entity, &InRoom), Added<InRoom>>,
    arena: Arena,
    table: Table,
    mut out: MessageWriter<ToClients<EncounterState>>,
) {
    for (client, room) in &arrived {
        if arena.encounters.running.contains_key(&room.0) {
            out.write(to_client(client, state_of(&arena, &table, &room.0)));
        }
    }
}
