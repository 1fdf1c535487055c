//! Browsers' transport end to end: a client over the server's WebSocket (`--ws`, the
//! native socket that connects exactly as a browser does) and a client over UDP play
//! together on one real server, each seeing the other walk, and a lost WebSocket comes
//! back to its avatar; a server without `--ws` refuses a WebSocket login with the
//! reason; WebTransport (`--webtransport`) is offered with its certificate's hash, and
//! a login that falls back gets the WebSocket where it is off.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::math::Vec2;
use tavern_client::bot::{Bot, Brain};
use tavern_client::connection::ServerTarget;
use tavern_server::ServerConfig;
use tavern_shared::api::Transport;

use crate::common::{call, pump_until, seen_at, server_player, start_server, temp_dir, walk};

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
    // A lost WebSocket comes back as a lost UDP link does: to the same avatar.
    let avatar = server
        .avatar_of(web_id)
        .expect("the web player has an avatar");
    web.drop_connection();
    assert!(
        pump_until(&mut [&mut web, &mut native], Duration::from_secs(15), |b| {
            b[0].client_id().is_some_and(|id| id != web_id)
                && b[0].is_connected()
                && b[0].own_server_state().is_some()
        }),
        "the WebSocket player reconnects: {:?}",
        web.status()
    );
    let again = web.client_id().unwrap();
    assert_eq!(
        server.avatar_of(again),
        Some(avatar),
        "back in its own avatar"
    );
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

#[test]
fn webtransport_is_offered_with_its_certificate_hash_and_logins_fall_back() {
    let _turn = crate::common::serial();
    let mut config = ServerConfig::local(temp_dir("wt"));
    config.ws = Some("127.0.0.1:0".parse().unwrap());
    config.webtransport = Some(tavern_server::net::webtransport::WebTransportConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        certificate: None,
        url: None,
    });
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let wt_url = server.webtransport_url.clone().expect("WebTransport is on");
    assert!(wt_url.starts_with("https://127.0.0.1:"), "{wt_url}");

    // A browser that has WebTransport asks for it, with the WebSocket to fall back on.
    let ask = serde_json::json!({"name": "Probe", "transport": "webtransport",
                                 "fallbacks": ["websocket"]});
    let (status, login) = call(&url, "/api/login", None, Some(ask.clone()));
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["transport"], "webtransport", "{login}");
    assert_eq!(login["address"], wt_url.as_str(), "{login}");
    let hash = login["cert_hash"]
        .as_str()
        .expect("a self-signed certificate's hash");
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash}"
    );
    let offers = login["transports"].as_array().unwrap();
    let offered: Vec<&str> = offers
        .iter()
        .map(|o| o["transport"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["udp", "websocket", "webtransport"], "{login}");
    assert_eq!(offers[2]["cert_hash"], hash, "{login}");
    assert!(
        offers[0].get("cert_hash").is_none(),
        "UDP has no certificate: {login}"
    );
    // The hash is the certificate's, and the same for every login.
    let (_, again) = call(&url, "/api/login", None, Some(ask.clone()));
    assert_eq!(again["cert_hash"], hash);
    drop(server);

    // A server without WebTransport gives the WebSocket instead...
    let mut config = ServerConfig::local(temp_dir("wt-off"));
    config.ws = Some("127.0.0.1:0".parse().unwrap());
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let (status, login) = call(&url, "/api/login", None, Some(ask));
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["transport"], "websocket", "{login}");
    assert!(login.get("cert_hash").is_none(), "{login}");
    // ...and refuses, naming the flag, a client that can use nothing else.
    let (status, refused) = call(
        &url,
        "/api/login",
        None,
        Some(serde_json::json!({"name": "Probe", "transport": "webtransport"})),
    );
    assert_eq!(status, 400, "{refused}");
    let reason = refused["error"].as_str().unwrap();
    assert!(
        reason.contains("does not accept webtransport") && reason.contains("--webtransport"),
        "{reason}"
    );
}

#[test]
fn the_web_client_is_served_at_the_root_compressed_next_to_the_api() {
    let _turn = crate::common::serial();
    let dir = temp_dir("web-root");
    let root = dir.join("dist");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("index.html"),
        "<!doctype html><title>Tavern</title>",
    )
    .unwrap();
    let wasm: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
    std::fs::write(root.join("tavern_bg.wasm"), &wasm).unwrap();
    std::fs::write(dir.join("secret.txt"), "not for the web").unwrap();
    let mut config = ServerConfig::local(dir.join("data"));
    config.web_root = Some(root);
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();

    let mut page = agent.get(&format!("{url}/")).call().unwrap();
    assert_eq!(page.status(), 200);
    let kind = page
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(
        page.body_mut()
            .read_to_string()
            .unwrap()
            .contains("<title>Tavern</title>")
    );

    // The big file goes compressed to a browser that takes gzip.
    let mut file = agent
        .get(&format!("{url}/tavern_bg.wasm"))
        .header("Accept-Encoding", "gzip")
        .call()
        .unwrap();
    assert_eq!(file.status(), 200);
    let header = |r: &ureq::http::Response<ureq::Body>, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        header(&file, "content-type").as_deref(),
        Some("application/wasm")
    );
    assert_eq!(header(&file, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header(&file, "cache-control").as_deref(), Some("no-cache"));
    let packed = file
        .body_mut()
        .with_config()
        .limit(1 << 24)
        .read_to_vec()
        .unwrap();
    assert!(packed.len() < wasm.len() / 10, "{} bytes", packed.len());
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&packed[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, wasm);

    // The API keeps its paths; nothing outside the folder is reachable.
    let (status, health) = call(&url, "/healthz", None, None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    for path in ["/missing.js", "/..%2Fsecret.txt", "/%2e%2e/secret.txt"] {
        let (status, body) = call(&url, path, None, None);
        assert_eq!(status, 404, "{path}: {body}");
    }
}

#[test]
fn a_server_without_a_web_root_says_so_at_the_root() {
    let _turn = crate::common::serial();
    let server = start_server("web-none", None);
    let (status, body) = call(&server.http_url(), "/", None, None);
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("--web-root"),
        "{body}"
    );
}
