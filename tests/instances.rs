//! Rooms as copies of the maps, end to end over HTTP and UDP: making, listing and
//! joining rooms (passwords, private rooms, full rooms, bans), two rooms on one map
//! seeing nothing of each other on the wire, an exit that keeps a room's players
//! together, and empty rooms closing after the idle time.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::prelude::*;
use serde_json::{Value, json};
use tavern_client::bot::{Bot, Brain};
use tavern_client::prediction::CurrentMap;
use tavern_server::ServerConfig;

use crate::common::{
    call, pump_until, sees, server_players, start_server, temp_dir, walk, write_room,
};

/// Logs `name` in as a guest (default room) and answers its API token.
fn api_token(url: &str, name: &str) -> String {
    let (status, login) = call(url, "/api/login", None, Some(json!({ "name": name })));
    assert_eq!(status, 200, "{login}");
    login["api_token"].as_str().unwrap().to_string()
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}

fn in_game(bot: &mut Bot) -> bool {
    bot.own_server_state().is_some()
}

#[test]
fn rooms_are_made_listed_joined_and_kept_apart() {
    let _turn = crate::common::serial();
    let server = start_server("instances", None);
    let url = server.http_url();
    let owner = api_token(&url, "Owner");

    // The server's own room is there from the start.
    let (status, list) = call(&url, "/api/rooms", None, None);
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], "town", "{list}");
    assert_eq!(list[0]["persistent"], true);

    // Making rooms: only logged in, only on a map the server has, within the limits.
    let table =
        json!({"name": "Ada's table", "map": "town", "max_players": 2, "password": "sesame"});
    let (status, body) = call(&url, "/api/rooms", None, Some(table.clone()));
    assert_eq!(status, 401, "{body}");
    for (bad, status, needle) in [
        (
            json!({"name": "Moon", "map": "moon", "max_players": 2}),
            422,
            "map `moon` is not one of this server's maps",
        ),
        (
            json!({"name": "Big", "map": "town", "max_players": 500}),
            422,
            "max_players must be 1 to 100, not 500",
        ),
        (
            json!({"name": " ", "map": "town", "max_players": 2}),
            422,
            "the room name must have 1 to 40 characters",
        ),
        (
            json!({"name": "X", "map": "town", "max_players": 2, "seats": 3}),
            400,
            "unknown field `seats`",
        ),
    ] {
        let (got, body) = call(&url, "/api/rooms", Some(&owner), Some(bad));
        assert_eq!(got, status, "{body}");
        assert!(error_of(&body).contains(needle), "{needle}: {body}");
    }
    let (status, room) = call(&url, "/api/rooms", Some(&owner), Some(table));
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 12, "a random id: {id}");
    assert_eq!(
        (room["has_password"].clone(), room["players"].clone()),
        (json!(true), json!(0))
    );
    let (status, hidden) = call(
        &url,
        "/api/rooms",
        Some(&owner),
        Some(json!({"name": "Secret", "map": "town", "max_players": 5, "private": true})),
    );
    assert_eq!(status, 201, "{hidden}");
    let (_, list) = call(&url, "/api/rooms", None, None);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.as_str()), "{list}");
    assert!(
        !ids.contains(&hidden["id"].as_str().unwrap()),
        "a private room is not listed: {list}"
    );

    // Joining checks the password (and changes nothing when it is wrong).
    let join = format!("/api/rooms/{id}/join");
    let (status, body) = call(&url, &join, Some(&owner), Some(json!({})));
    assert_eq!(status, 401, "{body}");
    assert!(error_of(&body).contains("has a password"), "{body}");
    let (status, body) = call(&url, &join, Some(&owner), Some(json!({"password": "nope"})));
    assert_eq!((status, error_of(&body)), (401, "wrong room password"));
    let (status, body) = call(
        &url,
        "/api/rooms/nosuchroom/join",
        Some(&owner),
        Some(json!({})),
    );
    assert_eq!(status, 404, "{body}");

    // Two players in the room, one in the town: the town player receives nothing of
    // them, and they nothing of it, though all stand on the town map.
    let mut ada = Bot::in_room(&url, "Ada", Brain::Idle, &id, Some("sesame"));
    let mut bo = Bot::in_room(&url, "Bo", Brain::Idle, &id, Some("sesame"));
    let mut cy = Bot::new(&url, "Cy", Brain::Idle);
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(20),
            |b| {
                let (a, o) = (b[0].client_id(), b[1].client_id());
                in_game(b[2])
                    && a.zip(o)
                        .is_some_and(|(a, o)| sees(b[1], a) && sees(b[0], o))
            }
        ),
        "Ada and Bo meet in their room"
    );
    let (a, o, c) = (
        ada.client_id().unwrap(),
        bo.client_id().unwrap(),
        cy.client_id().unwrap(),
    );
    let crossed = pump_until(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_secs(3),
        |b| sees(b[2], a) || sees(b[2], o) || sees(b[0], c) || sees(b[1], c),
    );
    assert!(!crossed, "nothing of one room reaches a client in another");
    let spawned = |bot: &mut Bot| bot.own_server_state().unwrap().motion.pos;
    let first = spawned(&mut cy);
    assert!(
        [spawned(&mut ada), spawned(&mut bo)].contains(&first),
        "each room's copy of the town hands out its own spawns, from the first"
    );

    // Full: two of two.
    let (status, body) = call(
        &url,
        &join,
        Some(&owner),
        Some(json!({"password": "sesame"})),
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        error_of(&body).contains("the room is full (2 players)"),
        "{body}"
    );
    let (_, list) = call(&url, "/api/rooms", None, None);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        (listed["players"].clone(), listed["status"].clone()),
        (json!(2), json!("full"))
    );

    // Who is inside: shown to members, not to others when the room has a password.
    let (status, details) = call(&url, &format!("/api/rooms/{id}"), Some(&owner), None);
    assert_eq!(status, 200, "{details}");
    assert_eq!(details["players"], Value::Null, "{details}");
    let ada_token = ada.api_token().unwrap();
    let (_, details) = call(&url, &format!("/api/rooms/{id}"), Some(&ada_token), None);
    let mut names: Vec<&str> = details["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Ada", "Bo"], "{details}");
    // The player list of the API is the room's too.
    let (_, players) = call(&url, "/api/players", Some(&cy.api_token().unwrap()), None);
    let seen: Vec<u64> = players
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["client_id"].as_u64().unwrap())
        .collect();
    assert_eq!(seen, vec![c], "{players}");
    // Chat: a whisper does not cross rooms.
    cy.say(
        tavern_shared::chat::ChatChannel::Whisper("Ada".into()),
        "psst",
    );
    assert!(pump_until(
        &mut [&mut ada, &mut cy],
        Duration::from_secs(5),
        |b| {
            b[1].chat()
                .rejections
                .iter()
                .any(|r| r.reason.contains("nobody called Ada is here"))
        }
    ));

    // Only the owner bans; a banned player is sent away and cannot come back.
    let ban = format!("/api/rooms/{id}/ban");
    let (status, body) = call(&url, &ban, Some(&ada_token), Some(json!({"client_id": o})));
    assert_eq!(status, 403, "{body}");
    let (status, body) = call(&url, &ban, Some(&owner), Some(json!({"client_id": o})));
    assert_eq!(status, 204, "{body}");
    let bo_token = bo.api_token().unwrap();
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(10), |b| {
            !sees(b[0], o)
        }),
        "Bo is sent out of the room"
    );
    let (status, body) = call(
        &url,
        &join,
        Some(&bo_token),
        Some(json!({"password": "sesame"})),
    );
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("banned"), "{body}");
    assert!(server_players(&server).iter().all(|p| p.client_id != o));
}

/// The sample layout with an exit east of the spawns into `cellar`.
fn two_maps(dir: &std::path::Path) {
    write_room(
        dir,
        "hall.tmj",
        json!([{"id": 1, "name": "Stairs", "type": "area", "x": 224, "y": 64, "width": 64, "height": 96,
            "properties": [{"name": "exitUrl", "type": "string", "value": "cellar.tmj"}]}]),
    );
    write_room(dir, "cellar.tmj", json!([]));
}

fn map_of(bot: &Bot) -> Option<String> {
    bot.app
        .world()
        .get_resource::<CurrentMap>()
        .map(|m| m.data.name.clone())
}

#[test]
fn an_exit_keeps_a_room_together_and_empty_rooms_close() {
    let _turn = crate::common::serial();
    let dir = temp_dir("instances-exit");
    two_maps(&dir.join("maps"));
    let mut config = ServerConfig::local(dir.join("data"));
    config.maps = vec![dir.join("maps").join("hall.tmj")];
    config.rooms.idle = Duration::from_secs(1);
    config.reconnect_grace = Duration::from_secs(1);
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let owner = api_token(&url, "Owner");
    let (status, room) = call(
        &url,
        "/api/rooms",
        Some(&owner),
        Some(json!({"name": "Party", "map": "hall", "max_players": 4})),
    );
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let (status, never) = call(
        &url,
        "/api/rooms",
        Some(&owner),
        Some(json!({"name": "Nobody comes", "map": "hall", "max_players": 4})),
    );
    assert_eq!(status, 201, "{never}");

    let mut ada = Bot::in_room(&url, "Ada", Brain::Idle, &id, None);
    let mut bo = Bot::in_room(&url, "Bo", Brain::Idle, &id, None);
    let mut cy = Bot::new(&url, "Cy", Brain::Idle);
    assert!(pump_until(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_secs(20),
        |b| b.iter_mut().all(|b| in_game(b))
    ));
    // Everyone walks east through the stairs.
    for bot in [&mut ada, &mut bo, &mut cy] {
        *bot.brain_mut() = Brain::Script(VecDeque::from([walk(Vec2::X, 120)]));
    }
    let (a, o, c) = (
        ada.client_id().unwrap(),
        bo.client_id().unwrap(),
        cy.client_id().unwrap(),
    );
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(20),
            |b| {
                b.iter().all(|b| map_of(b).as_deref() == Some("cellar"))
                    && sees(b[0], o)
                    && sees(b[1], a)
            }
        ),
        "the room's players arrive in the room's cellar together: {:?}",
        server_players(&server)
    );
    let crossed = pump_until(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_secs(2),
        |b| sees(b[2], a) || sees(b[2], o) || sees(b[0], c),
    );
    assert!(!crossed, "the town's player is in the town's own cellar");
    assert!(server_players(&server).iter().all(|p| p.map == "cellar"));

    // The room that nobody joined has closed already; the party's room closes once
    // they leave (and stays while they are in it).
    let details = |id: &str| call(&url, &format!("/api/rooms/{id}"), Some(&owner), None).0;
    assert_eq!(details(&id), 200);
    assert_eq!(details(never["id"].as_str().unwrap()), 404);
    for bot in [&mut ada, &mut bo] {
        bot.disconnect(true);
        bot.update();
    }
    assert!(
        pump_until(&mut [&mut cy], Duration::from_secs(20), |_| details(&id)
            == 404),
        "the empty room closes after --room-idle-secs"
    );
    let (_, list) = call(&url, "/api/rooms", None, None);
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the server's own room stays: {list}"
    );
}
