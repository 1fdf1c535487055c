//! Accounts end to end over HTTP on a real server: registering, a name kept in every
//! case and form, password logins (hashed with argon2id: no password in the database,
//! checked by reading its files), session logins, logging out, limited wrong
//! passwords, and a game client playing as the account.

use std::time::Duration;

use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;

use crate::common::{call, post, pump_until, server_players, temp_dir};

const PASSWORD: &str = "correct horse battery";

fn json(
    url: &str,
    route: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value, Option<String>) {
    post(url, route, "application/json", &body.to_string())
}

#[test]
fn accounts_register_log_in_play_and_log_out() {
    let _turn = crate::common::serial();
    let dir = temp_dir("accounts");
    let data = dir.join("data");
    let server = tavern_server::start(ServerConfig::local(&data)).expect("the server starts");
    let url = server.http_url();

    let (status, created, _) = json(
        &url,
        "/api/accounts",
        serde_json::json!({"name": "Zoë", "password": PASSWORD}),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "Zoë");
    let id = created["id"].as_i64().unwrap();
    // The name is kept in every case and Unicode form.
    let (status, taken, _) = json(
        &url,
        "/api/accounts",
        serde_json::json!({"name": "ZOE\u{308}", "password": PASSWORD}),
    );
    assert_eq!(status, 409, "{taken}");
    assert!(
        taken["error"]
            .as_str()
            .unwrap()
            .contains("registered already"),
        "{taken}"
    );
    let (status, short, _) = json(
        &url,
        "/api/accounts",
        serde_json::json!({"name": "Bo", "password": "short"}),
    );
    assert_eq!(status, 422, "{short}");
    assert!(
        short["error"]
            .as_str()
            .unwrap()
            .contains("8 to 128 characters, not 5"),
        "{short}"
    );
    let (status, guest, _) = json(&url, "/api/login", serde_json::json!({"name": "zoë"}));
    assert_eq!(status, 409, "a guest cannot take it: {guest}");
    assert!(
        guest["error"].as_str().unwrap().contains("registered name"),
        "{guest}"
    );

    // The password logs in as the account, under its registered name.
    let (status, login, _) = json(
        &url,
        "/api/login",
        serde_json::json!({"name": "zoë", "password": PASSWORD}),
    );
    assert_eq!(status, 200, "{login}");
    assert_eq!(
        (login["name"].as_str(), login["account"].as_i64()),
        (Some("Zoë"), Some(id))
    );
    let session = login["session"].as_str().unwrap().to_string();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let week = 7 * 24 * 3600 * 1000;
    let expires = login["expires_at_ms"].as_i64().unwrap();
    assert!(
        (expires - now_ms - week).abs() < 60_000,
        "a week: {expires}"
    );

    // The session logs in again without the password, and a game client plays on it.
    let (status, again, _) = json(
        &url,
        "/api/login",
        serde_json::json!({"name": "Zoë", "session": session}),
    );
    assert_eq!(
        (status, again["account"].as_i64()),
        (200, Some(id)),
        "{again}"
    );
    let mut bot = Bot::with_session(&url, "Zoë", Brain::Idle, Some(session.clone()));
    assert!(
        pump_until(&mut [&mut bot], Duration::from_secs(15), |b| b[0]
            .own_server_state()
            .is_some()),
        "the account plays"
    );
    assert_eq!(bot.session().as_deref(), Some(session.as_str()));
    assert!(server_players(&server).iter().any(|p| p.name == "Zoë"));
    // A guest may not take the name of someone playing now either.
    let mut bo = Bot::new(&url, "Bo", Brain::Idle);
    assert!(pump_until(
        &mut [&mut bot, &mut bo],
        Duration::from_secs(15),
        |b| b[1].own_server_state().is_some()
    ));
    let (status, in_use, _) = json(&url, "/api/login", serde_json::json!({"name": "BO"}));
    assert_eq!(status, 409, "{in_use}");
    assert!(
        in_use["error"]
            .as_str()
            .unwrap()
            .contains("is playing in this room right now"),
        "{in_use}"
    );
    // In another room the name is free: nothing of one room reaches the other.
    let (status, made) = call(
        &url,
        "/api/rooms",
        again["api_token"].as_str(),
        Some(serde_json::json!({"name": "Attic", "map": "town", "max_players": 4})),
    );
    assert_eq!(status, 201, "{made}");
    let (status, elsewhere, _) = json(
        &url,
        "/api/login",
        serde_json::json!({"name": "BO", "room": made["id"]}),
    );
    assert_eq!(status, 200, "{elsewhere}");
    // Bo himself, coming back with his session while still connected, may.
    let (status, again, _) = json(
        &url,
        "/api/login",
        serde_json::json!({"name": "Bo", "session": bo.session()}),
    );
    assert_eq!(status, 200, "{again}");

    // Logged out, the session is worth nothing.
    let (status, _, _) = json(&url, "/api/logout", serde_json::json!({"session": session}));
    assert_eq!(status, 204);
    let (status, gone, _) = json(&url, "/api/logout", serde_json::json!({"session": session}));
    assert_eq!(status, 401, "{gone}");
    let (status, _, _) = json(
        &url,
        "/api/login",
        serde_json::json!({"name": "Zoë", "session": session}),
    );
    assert_eq!(
        status, 409,
        "no longer the account: a guest may not use the name"
    );

    // No password is in the database, only its argon2id hash.
    let mut stored = Vec::new();
    for file in ["tavern.db", "tavern.db-wal"] {
        stored.extend(std::fs::read(data.join(file)).unwrap_or_default());
    }
    let has = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"$argon2id$"), "the hash is stored");
    assert!(!has(PASSWORD.as_bytes()), "the password is not");

    // Wrong passwords: refused alike for a wrong name; five a minute, then a wait,
    // even for the right one.
    let (status, wrong, _) = json(
        &url,
        "/api/login",
        serde_json::json!({"name": "Nobody", "password": PASSWORD}),
    );
    assert_eq!(status, 401, "{wrong}");
    assert_eq!(wrong["error"], "wrong name or password");
    for _ in 0..4 {
        let (status, _, _) = json(
            &url,
            "/api/login",
            serde_json::json!({"name": "Zoë", "password": "not the password"}),
        );
        assert_eq!(status, 401);
    }
    let (status, held, retry) = json(
        &url,
        "/api/login",
        serde_json::json!({"name": "Zoë", "password": PASSWORD}),
    );
    assert_eq!(status, 429, "{held}");
    assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() <= 60));
    // Malformed bodies are told what was wrong.
    let (status, bad, _) = post(
        &url,
        "/api/accounts",
        "application/json",
        "{\"name\": \"Cy\"}",
    );
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("missing field `password`"),
        "{bad}"
    );
    server.stop();
}
