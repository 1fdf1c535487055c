//! Bots at a campaign's table (`tavern-bots --campaign ROOM --role gm|player`). The GM
//! bot logs in as the campaign's GM account, starts the session, narrates, sets the
//! scene and runs an encounter for the whole run; player bots walk and strike on their
//! turns and end them, roll dice, and every other one tries to strike out of turn on
//! purpose, which the server must refuse. The report counts turns taken, violations
//! refused, turns that passed before their time without the player ending them
//! (`turns_skipped_wrongly`, which must be 0) and dice rolled.

use std::time::{Duration, Instant};

use serde::Serialize;
use tavern_shared::chat::ChatChannel;
use tavern_shared::gm::{CampaignStatus, GmCommand};

use crate::bot::{Bot, Brain};
use crate::connection::ServerTarget;

/// Which seat the bots take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Gm,
    Player,
}

/// What a campaign run is told.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    pub server: String,
    pub room: String,
    pub room_password: Option<String>,
    pub role: Role,
    pub count: usize,
    pub duration: Duration,
    pub connect_timeout: Duration,
    /// The GM's account name and password (the GM bot logs in with them).
    pub account: Option<(String, String)>,
}

/// What a campaign run reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CampaignReport {
    pub role: Option<Role>,
    pub connected: usize,
    pub failed: usize,
    /// Player bots: turns they had and ended; the GM: rounds the encounter reached.
    pub turns_taken: u32,
    pub rounds: u32,
    /// Out-of-turn strikes the server refused with "it is not your turn".
    pub turn_violations_refused: u32,
    /// Turns that left a player before it ended them and before their time was up.
    pub turns_skipped_wrongly: u32,
    pub dice_rolled: u32,
    pub narrations: u32,
    pub encounters_started: u32,
    pub corrections_total: u32,
}

/// A player bot's own turn, as it goes.
#[derive(Debug, Default)]
struct Turn {
    /// (round, turn) of the current own turn, and when it began.
    mine: Option<((u32, usize), Instant)>,
    struck: bool,
    ended: bool,
    /// Seconds the turn had left when last seen.
    left: f32,
}

/// Walks a little on its turn: right, then back.
fn turn_walk() -> Brain {
    let walk = |x: f32, ticks| {
        (
            ticks,
            tavern_shared::input::InputFrame {
                stick: tavern_shared::input::Stick::from_vec(bevy::math::Vec2::new(x, 0.0)),
                buttons: tavern_shared::input::Buttons::NONE,
            },
        )
    };
    Brain::Script([walk(1.0, 20), walk(-1.0, 20)].into())
}

/// Runs the bots for `options.duration` once all are connected; the report.
pub fn run_campaign(options: &CampaignOptions) -> Result<CampaignReport, String> {
    let mut report = CampaignReport {
        role: Some(options.role),
        ..Default::default()
    };
    let mut bots: Vec<Bot> = Vec::new();
    match options.role {
        Role::Gm => {
            let (name, password) = options.account.clone().ok_or(
                "--role gm needs the GM's account: --account NAME --account-password PASSWORD",
            )?;
            let credentials = crate::http::wait(crate::login::login_with(
                &options.server,
                &tavern_shared::api::LoginRequest {
                    name: name.clone(),
                    session: None,
                    password: Some(password),
                    room: None,
                    room_password: None,
                    transport: Default::default(),
                    fallbacks: Vec::new(),
                    look: None,
                },
            ))
            .map_err(|e| format!("cannot log in as {name}: {e}"))?;
            bots.push(Bot::with_target(
                ServerTarget {
                    session: Some(credentials.session),
                    room: Some(options.room.clone()),
                    room_password: options.room_password.clone(),
                    ..ServerTarget::guest(&options.server, &name)
                },
                Brain::Idle,
            ));
        }
        Role::Player => {
            for i in 0..options.count {
                bots.push(Bot::in_room(
                    &options.server,
                    &format!("player-{i}"),
                    Brain::Idle,
                    &options.room,
                    options.room_password.as_deref(),
                ));
            }
        }
    }
    let mut turns: Vec<Turn> = bots.iter().map(|_| Turn::default()).collect();
    let mut next_roll: Vec<Instant> = (0..bots.len())
        .map(|i| Instant::now() + Duration::from_millis(3000 + 700 * i as u64))
        .collect();
    let mut next_violation: Vec<Instant> = next_roll.clone();
    let mut answered: Vec<u32> = vec![0; bots.len()];
    let mut gm_stage = 0u32;
    let mut gm_tried = Instant::now();
    let started = Instant::now();
    let mut window: Option<Instant> = None;
    let frame = Duration::from_secs_f64(1.0 / 60.0);
    loop {
        let frame_start = Instant::now();
        for bot in &mut bots {
            bot.update();
        }
        let all_in = bots
            .iter()
            .all(|b| b.is_connected() && b.table().state.is_some());
        if window.is_none() && (all_in || started.elapsed() > options.connect_timeout) {
            window = Some(Instant::now());
        }
        let Some(since) = window else {
            std::thread::sleep(frame.saturating_sub(frame_start.elapsed()));
            continue;
        };
        let ending = since.elapsed() >= options.duration;
        let now = Instant::now();
        match options.role {
            Role::Gm => gm_step(
                &mut bots[0],
                (&mut gm_stage, &mut gm_tried),
                ending,
                &mut report,
            ),
            Role::Player => {
                for (i, bot) in bots.iter_mut().enumerate() {
                    player_step(
                        bot,
                        &mut turns[i],
                        (i % 2 == 0, &mut next_violation[i], &mut answered[i]),
                        &mut next_roll[i],
                        now,
                        &mut report,
                    );
                }
            }
        }
        if ending && (options.role == Role::Player || gm_stage >= 9) {
            break;
        }
        if since.elapsed() >= options.duration + Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(frame.saturating_sub(frame_start.elapsed()));
    }
    report.connected = bots.iter().filter(|b| b.is_connected()).count();
    report.failed = bots.len() - report.connected;
    report.corrections_total = bots.iter().map(|b| b.prediction().corrections).sum();
    Ok(report)
}

/// The GM's script: start the session, set the scene, narrate, start an encounter once
/// players are there, and at the end close it and the session.
fn gm_step(
    gm: &mut Bot,
    (stage, tried): (&mut u32, &mut Instant),
    ending: bool,
    report: &mut CampaignReport,
) {
    let Some(state) = gm.table().state.clone() else {
        return;
    };
    let players = gm.roster().players.len().saturating_sub(1);
    let encounter = gm.table().encounter().cloned();
    if let Some(e) = &encounter {
        report.rounds = report.rounds.max(e.round);
    }
    match *stage {
        0 => {
            if matches!(
                state.status,
                CampaignStatus::Waiting | CampaignStatus::Completed
            ) {
                gm.gm(GmCommand::Start);
            } else if state.status == CampaignStatus::Paused {
                gm.gm(GmCommand::Resume);
            }
            *stage = 1;
        }
        1 if state.status == CampaignStatus::Active => {
            let _ = gm.gm_act(
                "scene",
                "location=The flooded hall weather=dripping time=midnight mood=uneasy",
            );
            gm.say(
                ChatChannel::Narration,
                "Water drips from the vaulted ceiling. Something stirs.",
            );
            report.narrations += 1;
            *stage = 2;
        }
        2 if players > 0 && encounter.is_none() && gm.gm_act("encounter", "start").is_ok() => {
            report.encounters_started += 1;
            *tried = Instant::now();
            *stage = 3;
        }
        3 if ending => {
            let _ = gm.gm_act("encounter", "end");
            gm.gm(GmCommand::End);
            *stage = 9;
        }
        // Not started (refused), or ended: again, once the answer had time to come.
        3 if encounter.is_none() && tried.elapsed() > Duration::from_secs(3) => *stage = 2,
        _ => {}
    }
}

/// A player bot: on its turn it walks, strikes once and ends the turn; out of turn the
/// deliberate ones try to strike (refused); every so often it rolls dice.
fn player_step(
    bot: &mut Bot,
    turn: &mut Turn,
    (deliberate, next_violation, answered): (bool, &mut Instant, &mut u32),
    next_roll: &mut Instant,
    now: Instant,
    report: &mut CampaignReport,
) {
    let me = bot.own_stream_id();
    let encounter = bot.table().encounter().cloned();
    let left = bot.table().seconds_left(
        bot.app
            .world()
            .resource::<bevy::prelude::Time>()
            .elapsed_secs_f64(),
    );
    let current = encounter
        .as_ref()
        .and_then(|e| e.current().map(|c| ((e.round, e.turn), c.body)));
    let mine = current
        .filter(|(_, body)| Some(*body) == me)
        .map(|(at, _)| at);
    // A turn of ours that went before we ended it, with time still on the clock.
    if let Some((at, _)) = turn.mine
        && mine != Some(at)
    {
        if !turn.ended && turn.left > 1.5 {
            report.turns_skipped_wrongly += 1;
        }
        turn.mine = None;
    }
    if let Some(at) = mine {
        if turn.mine.is_none() {
            *turn = Turn {
                mine: Some((at, now)),
                ..Default::default()
            };
            *bot.brain_mut() = turn_walk();
        }
        turn.left = left;
        let since = turn.mine.map_or(Duration::ZERO, |(_, t)| now - t);
        if !turn.struck && since > Duration::from_millis(900) {
            bot.use_ability("slash", None);
            turn.struck = true;
        }
        if !turn.ended && since > Duration::from_millis(1500) && bot.gm_act("endturn", "").is_ok() {
            turn.ended = true;
            report.turns_taken += 1;
        }
    } else if deliberate && current.is_some() && now >= *next_violation {
        bot.use_ability("slash", None);
        *next_violation = now + Duration::from_secs(4);
    }
    // What the server answered since (uses are numbered): out-of-turn strikes must be
    // refused.
    let seen = *answered;
    for answer in bot.combat().answers.iter().filter(|a| a.id > seen) {
        if answer
            .refused
            .as_deref()
            .is_some_and(|why| why.starts_with("it is not your turn"))
        {
            report.turn_violations_refused += 1;
        }
        *answered = (*answered).max(answer.id);
    }
    if now >= *next_roll {
        bot.say(ChatChannel::Dice, "d20+2");
        report.dice_rolled += 1;
        *next_roll = now + Duration::from_secs(10);
    }
}
