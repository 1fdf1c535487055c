//! The admin API and `tavern-server admin`: off without a token, refused with a wrong
//! one; lists of players (with room and identity), rooms and nodes; a broadcast reaches
//! every player (or one room's); a kick sends one player away with the reason and
//! leaves the others playing.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tavern_client::bot::{Bot, Brain};
use tavern_client::connection::ConnectionStatus;
use tavern_server::ServerConfig;
use tavern_shared::chat::ChatChannel;

use crate::common::{pump_until, server_bin, start_server, temp_dir};

const TOKEN: &str = "admin-token-for-the-test";

/// A request to the admin API: the status and the JSON answer.
fn admin(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{url}/api/admin/{path}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let answer = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        (_, body) => {
            let mut r = agent.post(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send_json(body.unwrap_or(json!({})))
        }
    };
    let mut answer = answer.unwrap();
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn admins_list_broadcast_and_kick() {
    let _turn = crate::common::serial();
    // Off without a token.
    let plain = start_server("admin-off", None);
    let (status, answer) = admin(&plain.http_url(), "GET", "players", Some(TOKEN), None);
    assert_eq!(status, 404, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("--admin-token"));
    drop(plain);

    let mut config = ServerConfig::local(temp_dir("admin"));
    config.admin_token = Some(TOKEN.into());
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    assert_eq!(admin(&url, "GET", "players", None, None).0, 401);
    assert_eq!(
        admin(
            &url,
            "GET",
            "players",
            Some("admin-token-for-the-tesT"),
            None
        )
        .0,
        401
    );

    let mut ada = Bot::new(&url, "Ada", Brain::Idle);
    let mut bo = Bot::new(&url, "Bo", Brain::Idle);
    assert!(pump_until(
        &mut [&mut ada, &mut bo],
        Duration::from_secs(15),
        |b| b.iter_mut().all(|b| b.own_server_state().is_some())
    ));
    let (status, players) = admin(&url, "GET", "players", Some(TOKEN), None);
    assert_eq!(status, 200, "{players}");
    let listed: Vec<&str> = players
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "{players}");
    assert!(
        listed.contains(&"Ada") && listed.contains(&"Bo"),
        "{players}"
    );
    assert!(
        players[0]["room"].as_str().is_some_and(|r| !r.is_empty()),
        "{players}"
    );
    let room = players[0]["room"].as_str().unwrap().to_string();
    let (status, rooms) = admin(&url, "GET", "rooms", Some(TOKEN), None);
    assert_eq!(status, 200);
    assert!(
        rooms
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == room.as_str()),
        "{rooms}"
    );
    let (status, nodes) = admin(&url, "GET", "nodes", Some(TOKEN), None);
    assert_eq!(status, 200);
    assert_eq!(nodes[0]["players"], 2, "{nodes}");

    // A broadcast reaches both, on the system channel.
    let (status, answer) = admin(
        &url,
        "POST",
        "broadcast",
        Some(TOKEN),
        Some(json!({"text": "The tavern closes at midnight", "room": room})),
    );
    assert_eq!(status, 202, "{answer}");
    let told = |b: &Bot| {
        b.chat()
            .lines
            .iter()
            .any(|l| l.channel == ChatChannel::System && l.text == "The tavern closes at midnight")
    };
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(10), |b| b
            .iter()
            .all(|b| told(b))),
        "both hear the broadcast"
    );
    let (status, _) = admin(
        &url,
        "POST",
        "broadcast",
        Some(TOKEN),
        Some(json!({"text": "hello", "room": "nowhere"})),
    );
    assert_eq!(status, 404);
    let (status, _) = admin(
        &url,
        "POST",
        "broadcast",
        Some(TOKEN),
        Some(json!({"text": " "})),
    );
    assert_eq!(status, 422);

    // A kick through the command line sends Bo away with the reason; Ada plays on.
    let bo_id = bo.client_id().unwrap();
    let kicked = Command::new(server_bin())
        .args([
            "admin",
            "--url",
            &url,
            "kick",
            &bo_id.to_string(),
            "spamming the well",
        ])
        .env("TAVERN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        kicked.status.success(),
        "{}",
        String::from_utf8_lossy(&kicked.stderr)
    );
    let failed = |b: &Bot| match b.status() {
        ConnectionStatus::Failed(reason) => Some(reason.clone()),
        _ => None,
    };
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(10), |b| {
            failed(b[1]).is_some()
        }),
        "Bo is sent away"
    );
    assert_eq!(
        failed(&bo).unwrap(),
        "an admin sent you away: spamming the well"
    );
    assert!(ada.is_connected());
    // The list through the command line: only Ada now.
    let listed = Command::new(server_bin())
        .args(["admin", "--url", &url, "players"])
        .env("TAVERN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && text.contains("\"Ada\"") && !text.contains("\"Bo\""),
        "{text}"
    );
    // Someone who is not there: the server's reason, exit 1.
    let missing = Command::new(server_bin())
        .args(["admin", "--url", &url, "kick", "999999"])
        .env("TAVERN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{said}");
    assert!(
        said.contains("404") && said.contains("no player 999999"),
        "{said}"
    );
}

/// A `tavern-server` process with the admin API on; its address.
fn server_process(name: &str) -> (std::process::Child, String) {
    let dir = temp_dir(name);
    let addr = crate::common::free_addr();
    let child = crate::common::server_command(&dir, addr)
        .env("TAVERN_ADMIN_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let url = format!("http://{addr}");
    let start = std::time::Instant::now();
    while ureq::get(&format!("{url}/healthz")).call().is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, url)
}

/// Waits up to `timeout` for the process to exit; its exit code.
fn exits_within(
    child: &mut std::process::Child,
    timeout: Duration,
    bots: &mut [&mut Bot],
) -> Option<i32> {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        crate::common::pump_for(bots, Duration::from_millis(100));
    }
    let _ = child.kill();
    None
}

/// A drained server takes nobody new, tells its players, and exits 0 once the last has
/// left; with players who stay, at the deadline.
#[test]
fn a_drained_server_closes_when_empty_or_at_its_deadline() {
    let _turn = crate::common::serial();
    let (mut child, url) = server_process("admin-drain");
    let mut ada = Bot::new(&url, "Ada", Brain::Idle);
    assert!(pump_until(&mut [&mut ada], Duration::from_secs(15), |b| b
        [0]
    .own_server_state()
    .is_some()));
    let drained = Command::new(server_bin())
        .args([
            "admin",
            "--url",
            &url,
            "drain",
            "--deadline",
            "60",
            "Moving house: log in again soon",
        ])
        .env("TAVERN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        drained.status.success(),
        "{}",
        String::from_utf8_lossy(&drained.stderr)
    );
    assert!(String::from_utf8_lossy(&drained.stdout).contains("\"players\":1"));
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(10), |b| b[0]
            .chat()
            .lines
            .iter()
            .any(
                |l| l.channel == ChatChannel::System && l.text == "Moving house: log in again soon"
            )),
        "Ada is told"
    );
    // Nobody new; the health check says so.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let login = agent
        .post(&format!("{url}/api/login"))
        .send_json(json!({"name": "Bo"}))
        .unwrap();
    assert_eq!(login.status().as_u16(), 503);
    let mut health = agent.get(&format!("{url}/healthz")).call().unwrap();
    assert_eq!(health.status().as_u16(), 503);
    assert!(
        health
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("draining")
    );
    // Ada leaves: the server exits, 0.
    ada.leave();
    assert_eq!(
        exits_within(&mut child, Duration::from_secs(15), &mut [&mut ada]),
        Some(0)
    );

    // With a player who stays: at the deadline.
    let (mut child, url) = server_process("admin-drain-deadline");
    let mut cy = Bot::new(&url, "Cy", Brain::Idle);
    assert!(pump_until(&mut [&mut cy], Duration::from_secs(15), |b| b
        [0]
    .own_server_state()
    .is_some()));
    let (status, _) = admin(
        &url,
        "POST",
        "drain",
        Some(TOKEN),
        Some(json!({"deadline_secs": 1})),
    );
    assert_eq!(status, 202);
    assert_eq!(
        exits_within(&mut child, Duration::from_secs(15), &mut [&mut cy]),
        Some(0)
    );
}

/// A ban sends the player away with the reason, refuses its logins (the same guest
/// session) with it, outlives a restart, and can be lifted.
#[test]
fn a_banned_player_is_sent_away_and_refused_until_the_ban_is_lifted() {
    let _turn = crate::common::serial();
    let dir = temp_dir("admin-ban");
    let start = || {
        let mut config = ServerConfig::local(dir.clone());
        config.admin_token = Some(TOKEN.into());
        tavern_server::start(config).expect("the server starts")
    };
    let server = start();
    let url = server.http_url();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let login = |url: &str, session: Option<&str>| {
        let mut answer = agent
            .post(&format!("{url}/api/login"))
            .send_json(json!({"name": "Eve", "session": session}))
            .unwrap();
        let status = answer.status().as_u16();
        let body: Value =
            serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
        (status, body)
    };
    let (status, first) = login(&url, None);
    assert_eq!(status, 200, "{first}");
    let session = first["session"].as_str().unwrap().to_string();
    let mut eve = Bot::with_session(&url, "Eve", Brain::Idle, Some(session.clone()));
    assert!(pump_until(&mut [&mut eve], Duration::from_secs(15), |b| b
        [0]
    .own_server_state()
    .is_some()));
    let id = eve.client_id().unwrap();
    let (status, _) = admin(
        &url,
        "POST",
        "ban",
        Some(TOKEN),
        Some(json!({"client_id": id, "reason": "cheating at dice"})),
    );
    assert_eq!(status, 202);
    let failed = |b: &Bot| match b.status() {
        ConnectionStatus::Failed(reason) => Some(reason.clone()),
        _ => None,
    };
    assert!(
        pump_until(&mut [&mut eve], Duration::from_secs(10), |b| failed(b[0])
            .is_some()),
        "Eve is sent away"
    );
    assert_eq!(
        failed(&eve).unwrap(),
        "you are banned from this server: cheating at dice"
    );
    drop(eve);
    let (status, refused) = login(&url, Some(&session));
    assert_eq!(status, 403, "{refused}");
    assert_eq!(
        refused["error"],
        "you are banned from this server: cheating at dice"
    );

    // Kept in the database: still there after a restart.
    drop(server);
    let server = start();
    let url = server.http_url();
    let (status, bans) = admin(&url, "GET", "bans", Some(TOKEN), None);
    assert_eq!(status, 200);
    assert_eq!(bans.as_array().unwrap().len(), 1, "{bans}");
    assert_eq!(bans[0]["name"], "Eve");
    assert_eq!(login(&url, Some(&session)).0, 403);
    // Lifted through the command line: Eve may come back.
    let identity = bans[0]["identity"].as_str().unwrap();
    let lifted = Command::new(server_bin())
        .args(["admin", "--url", &url, "unban", identity])
        .env("TAVERN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        lifted.status.success(),
        "{}",
        String::from_utf8_lossy(&lifted.stderr)
    );
    assert_eq!(login(&url, Some(&session)).0, 200);
    let (status, _) = admin(
        &url,
        "POST",
        "ban",
        Some(TOKEN),
        Some(json!({"client_id": 987654})),
    );
    assert_eq!(status, 404);
}
