//! Game content: served read-only over HTTP with an ETag, checked at start (a broken
//! file or a map naming content that does not exist stops the server with the file,
//! line and entry), and checked by `validate-map`.

use tavern_server::ServerConfig;

use crate::common::{copy_content, start_server, temp_dir, write_room};

/// GET without a token: status, ETag and body; `if_none_match` sent when given.
fn get(url: &str, if_none_match: Option<&str>) -> (u16, Option<String>, String) {
    let got = crate::common::get(url, if_none_match);
    (got.status, got.header("etag"), got.text())
}

#[test]
fn content_is_served_read_only_with_an_etag_and_404_names_what_exists() {
    let _turn = crate::common::serial();
    let server = start_server("content", None);
    let url = server.http_url();

    let (status, etag, body) = get(&format!("{url}/api/content"), None);
    assert_eq!(status, 200, "{body}");
    let all: serde_json::Value = serde_json::from_str(&body).unwrap();
    for kind in [
        "combat_stats",
        "enemy_types",
        "abilities",
        "loot_tables",
        "items",
    ] {
        assert!(
            all[kind].as_object().is_some_and(|m| !m.is_empty()),
            "{kind}"
        );
    }
    assert_eq!(all["enemy_types"]["slime"]["attack"], "bite");
    let etag = etag.expect("an ETag");
    let (status, again, body) = get(&format!("{url}/api/content"), Some(&etag));
    assert_eq!((status, body.as_str()), (304, ""));
    assert_eq!(again.as_deref(), Some(etag.as_str()));

    let (status, _, body) = get(&format!("{url}/api/content/abilities/fireball"), None);
    assert_eq!(status, 200, "{body}");
    let fireball: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(fireball["name"], "Fireball");
    assert_eq!(fireball["delivery"], "projectile");

    let (status, _, body) = get(&format!("{url}/api/content/items/excalibur"), None);
    assert_eq!(status, 404);
    assert!(
        body.contains("no item `excalibur`") && body.contains("health-potion"),
        "{body}"
    );
    let (status, _, body) = get(&format!("{url}/api/content/weapons/sword"), None);
    assert_eq!(status, 404);
    assert!(
        body.contains("no content kind `weapons`") && body.contains("loot-tables"),
        "{body}"
    );
    server.stop();
}

#[test]
fn broken_content_or_a_map_naming_unknown_content_stops_the_server_at_start() {
    let dir = temp_dir("content-broken");
    let content = copy_content(&dir);
    let items = std::fs::read_to_string(content.join("items.toml")).unwrap();
    std::fs::write(
        content.join("items.toml"),
        items.replace(
            "[iron-key]\nname = \"Iron key\"\nkind = \"key\"",
            "[iron-key]\nname = \"Iron key\"\nkind = \"lock\"",
        ),
    )
    .unwrap();
    let mut config = ServerConfig::local(dir.join("data"));
    config.content_dir = content.clone();
    let Err(error) = tavern_server::start(config) else {
        panic!("the server started")
    };
    let error = format!("{error:#}");
    assert!(
        error.contains("items.toml:") && error.contains("lock"),
        "{error}"
    );

    // The content is fine, but the map spawns a dragon.
    std::fs::write(content.join("items.toml"), items).unwrap();
    let map = write_room(
        &dir.join("maps"),
        "lair.tmj",
        serde_json::json!([{"id": 1, "name": "Lair", "x": 200, "y": 100, "point": true,
            "properties": [{"name": "enemySpawn", "type": "string", "value": "dragon"}]}]),
    );
    let mut config = ServerConfig::local(dir.join("data"));
    config.content_dir = content;
    config.maps = vec![map];
    let Err(error) = tavern_server::start(config) else {
        panic!("the server started")
    };
    let error = format!("{error:#}");
    assert!(
        error.contains("lair.tmj")
            && error.contains("`enemySpawn` names `dragon`, which is not an enemy type"),
        "{error}"
    );
    let reports = tavern_server::validate::validate(&[dir.join("maps")]);
    assert!(!reports[0].ok);
    assert!(
        reports[0]
            .errors
            .iter()
            .any(|e| e.contains("object `Lair`") && e.contains("`dragon`")),
        "{:?}",
        reports[0].errors
    );
}

/// Content is watched with the maps: an edit that loads is served at once; a broken
/// edit is logged and the old content kept.
#[test]
fn edited_content_reloads_and_a_broken_edit_keeps_the_old() {
    let _turn = crate::common::serial();
    let dir = temp_dir("content-reload");
    let content = copy_content(&dir);
    let mut config = ServerConfig::local(dir.join("data"));
    config.content_dir = content.clone();
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let elixir = format!("{url}/api/content/items/elixir");
    assert_eq!(get(&elixir, None).0, 404);

    let items = content.join("items.toml");
    let mut text = std::fs::read_to_string(&items).unwrap();
    text.push_str("\n[elixir]\nname = \"Elixir\"\nkind = \"consumable\"\nheal = 100\n");
    std::fs::write(&items, &text).unwrap();
    let reloaded = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        get(&elixir, None).0 == 200
    });
    assert!(reloaded, "the new item is served within 10 s");
    let (_, etag, _) = get(&format!("{url}/api/content"), None);

    // A consumable that does nothing: refused, the elixir stays.
    std::fs::write(&items, text.replace("heal = 100", "heal = 0")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (status, _, body) = get(&elixir, None);
    assert_eq!(status, 200);
    assert!(body.contains("\"heal\":100"), "{body}");
    assert_eq!(get(&format!("{url}/api/content"), None).1, etag);
    server.stop();
}
