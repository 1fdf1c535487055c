//! End to end: a real server on loopback, two bots over UDP. One walks; the other sees
//! it where the server says. A third client sends malformed inputs and garbage packets,
//! and neither the server nor the honest clients notice.

use std::collections::VecDeque;
use std::time::Duration;

use crate::common::{pump_for, pump_until, server_player, server_players, start_server};
use bevy::prelude::*;
use bevy_replicon_renet2::renet2::RenetClient;
use tavern_client::bot::{Bot, Brain};
use tavern_shared::input::{Buttons, InputBatch, InputFrame, Stick};
use tavern_shared::movement::RUN_SPEED;

fn walk(dir: Vec2, run: bool) -> InputFrame {
    InputFrame {
        stick: Stick::from_vec(dir),
        buttons: if run { Buttons::RUN } else { Buttons::NONE },
    }
}

/// What a broken or hostile client might send.
fn malformed_batches(round: u32) -> Vec<InputBatch> {
    let ok = InputFrame::default();
    vec![
        // Stick longer than 1.
        InputBatch {
            first_seq: 1,
            frames: vec![InputFrame {
                stick: Stick { x: 127, y: 127 },
                buttons: Buttons::NONE,
            }],
        },
        // Too many inputs in one packet.
        InputBatch {
            first_seq: 1,
            frames: vec![ok; 200],
        },
        // Unknown buttons.
        InputBatch {
            first_seq: 1,
            frames: vec![InputFrame {
                stick: Stick::default(),
                buttons: Buttons(0xF0),
            }],
        },
        // Far in the future, then going backwards.
        InputBatch {
            first_seq: 1_000_000 + round,
            frames: vec![ok],
        },
        InputBatch {
            first_seq: 0,
            frames: vec![ok],
        },
        InputBatch {
            first_seq: u32::MAX,
            frames: vec![ok; 3],
        },
    ]
}

#[test]
fn two_clients_see_each_other_and_a_rogue_client_changes_nothing() {
    let _turn = crate::common::serial();
    let server = start_server("e2e", None);
    let url = server.http_url();
    let script = VecDeque::from([
        (90, walk(Vec2::new(1.0, 0.0), false)),
        (60, walk(Vec2::new(0.0, 1.0), true)),
        (45, walk(Vec2::new(-0.6, -0.6), false)),
        (1, InputFrame::default()),
    ]);
    // The walker stands still until everyone is in, so its start is known.
    let mut walker = Bot::new(&url, "Walker", Brain::Idle);
    let mut watcher = Bot::new(&url, "Watcher", Brain::Idle);
    let mut rogue = Bot::new(&url, "Rogue", Brain::Idle);

    assert!(
        pump_until(
            &mut [&mut walker, &mut watcher, &mut rogue],
            Duration::from_secs(15),
            |bots| {
                bots.iter_mut()
                    .all(|b| b.is_connected() && b.own_server_state().is_some())
            }
        ),
        "all three connect and get an avatar: {:?} / {:?} / {:?}",
        walker.status(),
        watcher.status(),
        rogue.status()
    );
    let walker_id = walker.client_id().unwrap();
    let rogue_id = rogue.client_id().unwrap();
    let rogue_start = server_player(&server, rogue_id);
    let walker_start = walker
        .own_server_state()
        .expect("the walker has its avatar");
    // Each player gets its own health, mana and stamina: full, from the content's
    // `player` stats.
    let content = tavern_server::content::load(&tavern_server::content::default_dir()).unwrap();
    let full = tavern_shared::combat::Vitals::full(&content.combat_stats["player"]);
    assert_eq!(walker.own_vitals(), Some(full));
    assert_eq!(full.health, 100);
    *walker.brain_mut() = Brain::Script(script);

    // While the walker walks, the rogue floods the server, and the watcher's view of
    // the walker stays within what interpolation explains.
    let mut round = 0;
    let mut worst_lag = 0.0f32;
    let mut samples = 0;
    pump_until(
        &mut [&mut walker, &mut watcher, &mut rogue],
        Duration::from_secs(10),
        |bots| {
            round += 1;
            let world = bots[2].app.world_mut();
            for batch in malformed_batches(round) {
                world.write_message(batch);
            }
            let channels = world
                .resource::<bevy_replicon::prelude::RepliconChannels>()
                .client_channels()
                .len();
            if let Some(mut raw) = world.get_resource_mut::<RenetClient>() {
                for channel in 0..channels as u8 {
                    raw.send_message(channel, vec![0xFF, 0x00, 0x13, round as u8, 0x37]);
                }
            }
            let predicted = bots[0].prediction().state.map(|s| s.pos);
            let seen = bots[1]
                .others()
                .into_iter()
                .find(|(id, ..)| *id == walker_id)
                .and_then(|(_, _, shown)| shown.map(|i| i.0.pos));
            if let (Some(p), Some(s)) = (predicted, seen) {
                worst_lag = worst_lag.max(p.distance(s));
                samples += 1;
            }
            bots[0].brain_mut().is_done() && bots[0].prediction().unacknowledged() == 0
        },
    );
    // Let the last state reach everyone and interpolation settle.
    pump_for(
        &mut [&mut walker, &mut watcher, &mut rogue],
        Duration::from_millis(600),
    );

    assert!(
        walker.is_connected() && watcher.is_connected(),
        "honest clients stay connected"
    );
    let truth = server_player(&server, walker_id);
    let truth_pos = Vec2::new(truth.x, truth.y);
    assert_eq!(
        truth.last_input,
        walker.prediction().next_seq() - 1,
        "every input was applied"
    );

    // The walker predicted exactly what the server computed.
    assert_eq!(walker.prediction().state.unwrap().pos, truth_pos);
    assert_eq!(walker.prediction().corrections, 0);
    let start = walker_start.motion.pos;
    assert!(
        truth_pos.distance(start) > 50.0,
        "the walker really moved: {start} -> {truth_pos}"
    );

    // The watcher sees the walker where the server says.
    let (_, replicated, shown) = watcher
        .others()
        .into_iter()
        .find(|(id, ..)| *id == walker_id)
        .expect("the watcher sees the walker");
    assert_eq!(replicated.motion.pos, truth_pos);
    assert_eq!(shown.unwrap().0.pos, truth_pos);
    // While walking, the watcher lagged by about the interpolation delay plus the trip.
    let rtt = walker.app.world().resource::<RenetClient>().rtt() as f32;
    let delay = watcher
        .app
        .world()
        .resource::<tavern_client::interpolation::SendInterval>()
        .delay();
    let tolerance = RUN_SPEED * (delay as f32 + rtt + 0.1);
    eprintln!(
        "watcher lag: worst {worst_lag:.1} px over {samples} samples, allowed {tolerance:.1} px"
    );
    assert!(samples > 60, "sampled the watcher's view {samples} times");
    assert!(
        worst_lag <= tolerance,
        "watcher lagged {worst_lag} px (allowed {tolerance})"
    );

    // Nothing the rogue sent moved its avatar (garbage on replicon's own channels may get
    // it disconnected, which is fine), and the server still serves the honest two.
    let players = server_players(&server);
    if let Some(rogue_now) = players.iter().find(|p| p.client_id == rogue_id) {
        // (A rogue the server disconnected may be waiting to reconnect: its avatar
        // stays where it stood.)
        assert_eq!((rogue_now.x, rogue_now.y), (rogue_start.x, rogue_start.y));
    }
    assert!(players.iter().any(|p| p.client_id == walker_id));
    assert!(players.len() >= 2);
    assert!(watcher.others().iter().any(|(id, ..)| *id == walker_id));
}

#[test]
fn login_rejects_bad_names_and_bodies_with_reasons() {
    let _turn = crate::common::serial();
    let server = start_server("login", None);
    let url = format!("{}/api/login", server.http_url());
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let post = |body: &str| {
        let mut r = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let (status, body) = post(r#"{"name": ""}"#);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("empty"), "{body}");
    let (status, body) = post(&format!(r#"{{"name": "{}"}}"#, "x".repeat(25)));
    assert_eq!(status, 422);
    assert!(body.contains("25 characters"), "{body}");
    let (status, body) = post(r#"{"name": "a\u0007b"}"#);
    assert_eq!(status, 422);
    assert!(body.contains("control character"), "{body}");
    let (status, body) = post("{not json");
    assert_eq!(status, 400);
    assert!(body.contains("JSON"), "{body}");
    let (status, body) = post(r#"{"name": "Ada", "admin": true}"#);
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    let (status, body) = post(r#"{"name": "Ada"}"#);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("token"));

    let mut health = agent
        .get(format!("{}/healthz", server.http_url()))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(
        health
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("\"ok\"")
    );
}

/// A watcher that stops reading for 3.5 s (a long frame, a browser tab in the
/// background) while another player walks and stops, then reads again: it catches up
/// with the walker where the server has it, though the states sent meanwhile piled up
/// unacknowledged.
#[test]
fn a_watcher_that_stalls_catches_up_with_the_walker() {
    let _turn = crate::common::serial();
    let server = start_server("stall", None);
    let url = server.http_url();
    let (mut walker, mut watcher) = crate::common::two_players(&url, "Walker", "Watcher");
    let id = walker.client_id().unwrap();
    *walker.brain_mut() = Brain::Script(VecDeque::from([
        (60, walk(Vec2::X, false)),
        (1, walk(Vec2::ZERO, false)),
    ]));
    // Only the walker runs: it walks for a second and stands.
    pump_for(&mut [&mut walker], Duration::from_millis(3500));
    let there = server_player(&server, id);
    let there = Vec2::new(there.x, there.y);
    let seen = |bot: &mut Bot| crate::common::seen_at(bot, id);
    let caught_up = pump_until(
        &mut [&mut watcher, &mut walker],
        Duration::from_secs(5),
        |b| seen(b[0]).is_some_and(|at| at.distance(there) < 1.0),
    );
    assert!(
        caught_up,
        "the watcher sees the walker at {:?}, the server has it at {there} ({:?})",
        seen(&mut watcher),
        watcher.status()
    );
}

/// Each player chooses a look at login; everyone, the player included, sees it, and a
/// look that does not exist is refused with the reason.
#[test]
fn players_see_the_look_each_chose_at_login() {
    let _turn = crate::common::serial();
    let server = start_server("looks", None);
    let url = server.http_url();
    let with_look = |name: &str, look: u8| {
        Bot::with_target(
            tavern_client::connection::ServerTarget {
                look,
                ..tavern_client::connection::ServerTarget::guest(&url, name)
            },
            Brain::Idle,
        )
    };
    let mut scholar = with_look("Scholar", 2);
    let mut smith = with_look("Smith", 3);
    let mut plain = Bot::new(&url, "Plain", Brain::Idle);
    let looks = |b: &mut [&mut Bot]| {
        let ids: Vec<u64> = b.iter().map(|bot| bot.client_id()).collect::<Option<_>>()?;
        let mut seen = Vec::new();
        for bot in b.iter_mut() {
            seen.push(
                ids.iter()
                    .map(|id| bot.look_of(*id).map(|l| l.0))
                    .collect::<Vec<_>>(),
            );
        }
        Some(seen)
    };
    let want = vec![Some(2), Some(3), Some(0)];
    assert!(
        pump_until(
            &mut [&mut scholar, &mut smith, &mut plain],
            Duration::from_secs(15),
            |b| looks(b).is_some_and(|seen| seen.iter().all(|s| *s == want))
        ),
        "{:?}",
        looks(&mut [&mut scholar, &mut smith, &mut plain])
    );
    let (status, refused) = crate::common::call(
        &url,
        "/api/login",
        None,
        Some(serde_json::json!({"name": "Odd", "look": 4})),
    );
    assert_eq!(status, 422, "{refused}");
    let reason = refused["error"].as_str().unwrap();
    assert!(
        reason.contains("look 4") && reason.contains("0 to 3"),
        "{reason}"
    );
}
