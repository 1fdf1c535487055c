//! Browsers' transport end to end: a client over the server's WebSocket (`--ws`, the
//! native socket that connects exactly as a browser does) and a client over UDP play
//! together on one real server, each seeing the other walk; a server without `--ws`
//! refuses a WebSocket login with the reason.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::math::Vec2;
use tavern_client::bot::{Bot, Brain};
use tavern_client::connection::ServerTarget;
use tavern_server::ServerConfig;
use tavern_shared::api::Transport;

use crate::common::{call, pump_until, server_player, start_server, temp_dir, walk};

/// Where `bot` sees the avatar of player `id`, if it does.
fn seen_at(bot: &mut Bot, id: u64) -> Option<Vec2> {
    bot.others()
        .into_iter()
        .find(|(other, ..)| *other == id)
        .map(|(_, state, _)| state.motion.pos)
}

#[test]
fn a_websocket_player_and_a_udp_player_see_each_other_walk() {
    let _turn = crate::common::serial();
    let mut config = ServerConfig::local(temp_dir("web"));
    config.ws = Some("127.0.0.1:0".parse().unwrap());
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let ws_addr = server.ws_addr.expect("the WebSocket is on");

    // The login answer names the transport, where to connect, and every offer.
    let (status, login) = call(
        &url,
        "/api/login",
        None,
        Some(serde_json::json!({"name": "Probe", "transport": "websocket"})),
    );
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["transport"], "websocket", "{login}");
    assert_eq!(login["address"], format!("ws://{ws_addr}"), "{login}");
    let offered: Vec<&str> = login["transports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["transport"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["udp", "websocket"], "{login}");

    let mut web = Bot::with_target(
        ServerTarget {
            transport: Transport::WebSocket,
            ..ServerTarget::guest(&url, "Webby")
        },
        Brain::Idle,
    );
    let mut native = Bot::new(&url, "Native", Brain::Idle);
    assert!(
        pump_until(&mut [&mut web, &mut native], Duration::from_secs(15), |b| {
            let (w, n) = (b[0].client_id(), b[1].client_id());
            w.zip(n)
                .is_some_and(|(w, n)| seen_at(b[0], n).is_some() && seen_at(b[1], w).is_some())
        }),
        "each sees the other: {:?} / {:?}",
        web.status(),
        native.status()
    );
    let (web_id, native_id) = (web.client_id().unwrap(), native.client_id().unwrap());

    // Each walks in turn; the other sees it arrive where the server has it.
    for (walker, watcher) in [(0usize, 1usize), (1, 0)] {
        let ids = [web_id, native_id];
        let bots = [&mut web, &mut native];
        let [w, n] = bots;
        let (walking, watching) = if walker == 0 { (w, n) } else { (n, w) };
        let start = server_player(&server, ids[walker]);
        *walking.brain_mut() = Brain::Script(VecDeque::from([
            walk(Vec2::new(1.0, 0.0), 45),
            walk(Vec2::ZERO, 1),
        ]));
        let moved = |b: &mut [&mut Bot]| {
            let there = server_player(&server, ids[walker]);
            let at = Vec2::new(there.x, there.y);
            (at - Vec2::new(start.x, start.y)).length() > 40.0
                && seen_at(b[1], ids[walker]).is_some_and(|seen| (seen - at).length() < 1.0)
                && b[0].brain_mut().is_done()
        };
        assert!(
            pump_until(&mut [walking, watching], Duration::from_secs(10), moved),
            "the {} player walked and the {} player saw it: {:?}",
            ["WebSocket", "UDP"][walker],
            ["WebSocket", "UDP"][watcher],
            server_player(&server, ids[walker])
        );
    }
    assert!(web.is_connected() && native.is_connected());
}

#[test]
fn a_websocket_login_on_a_server_without_one_is_refused_with_the_reason() {
    let _turn = crate::common::serial();
    let server = start_server("web-off", None);
    let url = server.http_url();
    let (status, refused) = call(
        &url,
        "/api/login",
        None,
        Some(serde_json::json!({"name": "Probe", "transport": "websocket"})),
    );
    assert_eq!(status, 400, "{refused}");
    let reason = refused["error"].as_str().unwrap();
    assert!(
        reason.contains("does not accept websocket") && reason.contains("--ws"),
        "{reason}"
    );
    let (status, unknown) = call(
        &url,
        "/api/login",
        None,
        Some(serde_json::json!({"name": "Probe", "transport": "carrier-pigeon"})),
    );
    assert_eq!(status, 400, "{unknown}");
    // A UDP login still works, and names only UDP.
    let (status, login) = call(
        &url,
        "/api/login",
        None,
        Some(serde_json::json!({"name": "Probe"})),
    );
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["transport"], "udp");
    assert_eq!(login["transports"].as_array().unwrap().len(), 1, "{login}");
}
