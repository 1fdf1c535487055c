//! Dungeon rooms end to end: a real server and bots over UDP. Killing a room's monster
//! clears it for both players: its door opens (both are told, and the server lets them
//! through) and its chest drops its loot; a keyed door opens only for the player who
//! carries the key, which it uses up.

use std::time::Duration;

use bevy::math::Vec2;
use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;

use crate::common::{
    api_get, copy_content, edit_file, fireball_first_monster, join, pump_for, pump_until, temp_dir,
    walk_near, write_room,
};

/// A wall across column `x` (collider objects above and below row 3) with a door in
/// row 3 carrying `props`.
fn wall_with_door(id: u32, x: f32, name: &str, props: serde_json::Value) -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"id": id, "name": "wall", "type": "collider", "x": x, "y": 32, "width": 32, "height": 64}),
        serde_json::json!({"id": id + 1, "name": "wall", "type": "collider", "x": x, "y": 128, "width": 32, "height": 96}),
        serde_json::json!({"id": id + 2, "name": name, "type": "area", "x": x, "y": 96, "width": 32, "height": 32, "properties": props}),
    ]
}

/// West room (a slime, a chest holding the iron key) | Gap door (opens when the west is
/// cleared) | east | Vault door (the iron key, used up) | vault.
fn dungeon() -> serde_json::Value {
    let mut objects = vec![
        serde_json::json!({"id": 1, "name": "West", "type": "area", "x": 32, "y": 32, "width": 288, "height": 192,
            "properties": [{"name": "room", "type": "string", "value": "west"}]}),
        serde_json::json!({"id": 2, "name": "Slime", "x": 260, "y": 190, "point": true, "properties": [
            {"name": "enemySpawn", "type": "string", "value": "slime"},
            {"name": "respawnSecs", "type": "float", "value": 600.0}]}),
        serde_json::json!({"id": 3, "name": "Iron chest", "x": 200, "y": 56, "point": true, "properties": [
            {"name": "lootChest", "type": "string", "value": "store-chest"}]}),
    ];
    objects.extend(wall_with_door(
        10,
        320.0,
        "Gap door",
        serde_json::json!([{"name": "door", "type": "string", "value": "west"}]),
    ));
    objects.extend(wall_with_door(
        20,
        480.0,
        "Vault door",
        serde_json::json!([
            {"name": "door", "type": "bool", "value": true},
            {"name": "key", "type": "string", "value": "iron-key"},
            {"name": "consumeKey", "type": "bool", "value": true}]),
    ));
    serde_json::Value::Array(objects)
}

fn pos(bot: &mut Bot) -> Vec2 {
    bot.own_server_state().expect("placed").motion.pos
}

/// Walks `bot` (the first of `bots`) to within `stop` px of `to` and waits until it stands.
fn go(bots: &mut [&mut Bot], to: Vec2, stop: f32) {
    let from = pos(bots[0]);
    *bots[0].brain_mut() = Brain::Script(walk_near(from, to, stop));
    pump_until(bots, Duration::from_secs(15), |b| {
        b[0].brain_mut().is_done()
    });
    pump_for(bots, Duration::from_millis(300));
}

fn has_notice(bot: &Bot, door: u16, text: &str) -> bool {
    bot.dungeon()
        .notices
        .iter()
        .any(|(_, n)| n.door == door && n.text.contains(text))
}

#[test]
fn clearing_a_room_opens_its_door_and_chest_for_both_and_a_key_opens_the_vault() {
    let _turn = crate::common::serial();
    let dir = temp_dir("rooms");
    let content = copy_content(&dir);
    // A slime one fireball kills.
    edit_file(
        &content,
        "combat_stats.toml",
        "[slime]\nhealth = 30",
        "[slime]\nhealth = 10",
    );
    let map = write_room(&dir.join("maps"), "crypt.tmj", dungeon());
    let mut config = ServerConfig::local(dir.join("data"));
    config.content_dir = content;
    config.maps = vec![map];
    config.combat_seed = Some(11);
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let mut ada = join(&url, "Ada", &mut []);
    let mut bo = join(&url, "Bo", &mut [&mut ada]);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b.iter()
                .all(|b| b.dungeon().state.doors_open == [false, false])
        }),
        "both are told the doors are shut: {:?}",
        ada.dungeon().state
    );
    assert_eq!(ada.dungeon().state.chests_open, [false]);

    // Bo walks into the shut Gap door: it holds, and he is told why.
    go(&mut [&mut bo, &mut ada], Vec2::new(400.0, 112.0), 0.0);
    let at = pos(&mut bo);
    assert!(at.x < 320.0, "the shut door stops Bo at {at}");
    assert!(
        has_notice(&bo, 0, "The Gap door opens when the west is cleared"),
        "{:?}",
        bo.dungeon().notices
    );

    // Ada kills the slime: the west is cleared for both, the door and chest open.
    fireball_first_monster(&mut [&mut ada, &mut bo]);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b.iter().all(|b| {
                let s = &b.dungeon().state;
                s.doors_open == [true, false]
                    && s.chests_open == [true]
                    && s.rooms_cleared == [true]
            })
        }),
        "the door and chest open for both: Ada {:?}, Bo {:?}",
        ada.dungeon().state,
        bo.dungeon().state
    );
    assert!(ada.dungeon().cleared.iter().any(|(_, r)| r == "west"));

    // Bo now walks through the Gap door, to the Vault door, which needs the key.
    let corrections_before = bo.prediction().corrections;
    go(&mut [&mut bo, &mut ada], Vec2::new(560.0, 112.0), 0.0);
    let at = pos(&mut bo);
    assert!(
        at.x > 352.0 && at.x < 480.0,
        "Bo went through the open door, up to the vault's: {at}"
    );
    assert_eq!(
        bo.prediction().corrections,
        corrections_before,
        "prediction knew the door was open"
    );
    assert!(
        has_notice(&bo, 1, "The Vault door needs an Iron key"),
        "{:?}",
        bo.dungeon().notices
    );

    // Ada takes the iron key from the chest's drop and opens the vault with it.
    let key = ada
        .loot()
        .into_iter()
        .find(|(_, kind, _)| kind.item.as_deref() == Some("iron-key"))
        .expect("the chest dropped the iron key");
    go(&mut [&mut ada, &mut bo], key.2, 12.0);
    ada.pick_up(key.0);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b[0].inventory().items.iter().any(|(i, _)| i == "iron-key")
        }),
        "Ada holds the key: {:?}",
        ada.combat().pickups
    );
    go(&mut [&mut ada, &mut bo], Vec2::new(260.0, 112.0), 0.0);
    go(&mut [&mut ada, &mut bo], Vec2::new(600.0, 112.0), 0.0);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b.iter()
                .all(|b| b.dungeon().state.doors_open == [true, true])
        }),
        "the vault opens for both: {:?}; Ada at {}, {:?}",
        bo.dungeon().state,
        pos(&mut ada),
        ada.dungeon().notices
    );
    assert!(
        has_notice(&ada, 1, "it is used up"),
        "{:?}",
        ada.dungeon().notices
    );
    assert!(
        !ada.inventory().items.iter().any(|(i, _)| i == "iron-key"),
        "the key is used up: {:?}",
        ada.inventory()
    );
    // Ada walks on into the vault.
    go(&mut [&mut ada, &mut bo], Vec2::new(580.0, 112.0), 0.0);
    assert!(
        pos(&mut ada).x > 512.0,
        "Ada is in the vault: {}",
        pos(&mut ada)
    );

    // The log tells it: cleared, the door, the chest, the key's door.
    let token = ada.api_token().expect("a token");
    let (status, body) = api_get(&format!("{url}/api/events/crypt?limit=500"), &token);
    assert_eq!(status, 200, "{body}");
    let events: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| matches!(e["kind"].as_str(), Some("cleared" | "door" | "chest")))
        .map(|e| (e["kind"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("cleared", "west"),
            ("door", "Gap door"),
            ("chest", "Iron chest"),
            ("door", "Vault door")
        ]
    );
    server.stop();
}
