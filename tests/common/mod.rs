//! Helpers for the end-to-end tests: a real server on ephemeral loopback ports, bots
//! pumped in the test thread, and a UDP relay that delays and drops packets.

#![allow(dead_code)]

pub mod relay;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::math::Vec2;
use tavern_client::bot::Bot;
use tavern_server::{RunningServer, ServerConfig};
use tavern_shared::api::PlayerInfo;
use tavern_shared::input::{Buttons, InputFrame, Stick};

/// Networked tests share one binary; they take turns, so each has the machine's two
/// cores to itself as it did when every test file was its own binary.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Says why `what` cannot run here and skips it, or fails where CI requires every
/// service (`TAVERN_REQUIRE_SERVICES=1`).
pub fn unavailable(what: &str, why: &str) {
    if std::env::var("TAVERN_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("{what} is required (TAVERN_REQUIRE_SERVICES=1) but {why}");
    }
    eprintln!("skipping {what}: {why}");
}

/// A fresh data directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tavern-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts a server with the sample map on loopback; `public_addr` redirects clients
/// (to a relay, say).
pub fn start_server(name: &str, public_addr: Option<SocketAddr>) -> RunningServer {
    let mut config = ServerConfig::local(temp_dir(name));
    config.public_addr = public_addr;
    tavern_server::start(config).expect("the server starts")
}

/// Updates every bot about 60 times a second until `done` or the timeout; returns
/// whether `done` became true.
pub fn pump_until(
    bots: &mut [&mut Bot],
    timeout: Duration,
    mut done: impl FnMut(&mut [&mut Bot]) -> bool,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        let frame = Instant::now();
        for bot in bots.iter_mut() {
            bot.update();
        }
        if done(bots) {
            return true;
        }
        if let Some(rest) = Duration::from_millis(16).checked_sub(frame.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    false
}

/// Updates every bot for `time`.
pub fn pump_for(bots: &mut [&mut Bot], time: Duration) {
    pump_until(bots, time, |_| false);
}

/// The server's own word on every player (its in-process view: the HTTP API shows
/// each player only whom it could see).
pub fn server_players(server: &RunningServer) -> Vec<PlayerInfo> {
    server.players()
}

/// The server's state of one player.
pub fn server_player(server: &RunningServer, client_id: u64) -> PlayerInfo {
    server_players(server)
        .into_iter()
        .find(|p| p.client_id == client_id)
        .expect("the player is on the server")
}

/// A brain script step: `ticks` of walking towards `dir`.
pub fn walk(dir: Vec2, ticks: u32) -> (u32, InputFrame) {
    (
        ticks,
        InputFrame {
            stick: Stick::from_vec(dir),
            buttons: Buttons::NONE,
        },
    )
}

/// A brain script step: hold the action key (E) for a few ticks.
pub fn press_action() -> (u32, InputFrame) {
    (
        3,
        InputFrame {
            stick: Stick::from_vec(Vec2::ZERO),
            buttons: Buttons::INTERACT,
        },
    )
}

/// Whether `bot` has received the avatar of player `id`.
pub fn sees(bot: &mut Bot, id: u64) -> bool {
    bot.others().iter().any(|(other, ..)| *other == id)
}

/// Where `bot` sees the avatar of player `id`, if it does.
pub fn seen_at(bot: &mut Bot, id: u64) -> Option<Vec2> {
    bot.others()
        .into_iter()
        .find(|(other, ..)| *other == id)
        .map(|(_, state, _)| state.motion.pos)
}

/// Two idle players, `first` and `second`, logged in at `url`, once the second sees
/// the first.
pub fn two_players(url: &str, first: &str, second: &str) -> (Bot, Bot) {
    let mut a = Bot::new(url, first, tavern_client::bot::Brain::Idle);
    let mut b = Bot::new(url, second, tavern_client::bot::Brain::Idle);
    assert!(
        pump_until(&mut [&mut a, &mut b], Duration::from_secs(15), |b| {
            b[0].client_id().is_some_and(|id| sees(b[1], id))
        }),
        "{second} sees {first}"
    );
    (a, b)
}

/// GET with a bearer token: status and body.
/// What a GET answered: status, headers and body.
pub struct Got {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// GET without a token; `if_none_match` sent when given.
pub fn get(url: &str, if_none_match: Option<&str>) -> Got {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut request = agent.get(url);
    if let Some(tag) = if_none_match {
        request = request.header("If-None-Match", tag);
    }
    let mut r = request.call().unwrap();
    Got {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r
            .body_mut()
            .with_config()
            .limit(1 << 26)
            .read_to_vec()
            .unwrap(),
    }
}

pub fn api_get(url: &str, token: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// `GET /metrics`, parsed as Prometheus text (a parse error fails the test).
pub fn scrape(url: &str) -> prometheus_parse::Scrape {
    let mut r = ureq::get(&format!("{url}/metrics")).call().unwrap();
    let content_type = r.headers().get("content-type").unwrap().to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.body_mut().read_to_string().unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("/metrics is not Prometheus text: {e}\n{text}"))
}

/// The sum of a counter's or gauge's samples named `name` whose labels include `labels`.
pub fn metric_sum(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    use prometheus_parse::Value;
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a counter or gauge"),
        })
        .sum()
}

/// Writes `dir/file`: a walled 20x8 room of 32 px tiles (Tiled JSON) with spawn points at
/// cells (2..4, 3) and `objects` (Tiled objects, as JSON) in an object layer. Returns the
/// file's path.
pub fn write_room(dir: &std::path::Path, file: &str, objects: serde_json::Value) -> PathBuf {
    const W: usize = 20;
    const H: usize = 8;
    let mut ground = vec![1u32; W * H];
    for x in 0..W {
        ground[x] = 2;
        ground[(H - 1) * W + x] = 2;
    }
    for y in 0..H {
        ground[y * W] = 2;
        ground[y * W + W - 1] = 2;
    }
    let mut start = vec![0u32; W * H];
    for x in 2..5 {
        start[3 * W + x] = 1;
    }
    let map = serde_json::json!({
        "type": "map", "orientation": "orthogonal", "width": W, "height": H,
        "tilewidth": 32, "tileheight": 32, "infinite": false,
        "tilesets": [{"firstgid": 1, "name": "plain", "tilewidth": 32, "tileheight": 32,
            "tilecount": 2, "columns": 2,
            "tiles": [{"id": 1, "properties": [{"name": "collides", "type": "bool", "value": true}]}]}],
        "layers": [
            {"type": "tilelayer", "id": 1, "name": "ground", "width": W, "height": H, "data": ground},
            {"type": "tilelayer", "id": 2, "name": "start", "width": W, "height": H, "visible": false, "data": start},
            {"type": "objectgroup", "id": 3, "name": "zones", "objects": objects}
        ]
    });
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_vec_pretty(&map).unwrap()).unwrap();
    path
}

/// Joins `name` (pumping `others` meanwhile) and waits until its avatar is placed, so
/// players who join one after another get the spawn points in that order.
pub fn join(url: &str, name: &str, others: &mut [&mut Bot]) -> Bot {
    let mut bot = Bot::new(url, name, tavern_client::bot::Brain::Idle);
    let mut all: Vec<&mut Bot> = others.iter_mut().map(|b| &mut **b).collect();
    all.push(&mut bot);
    assert!(
        pump_until(&mut all, Duration::from_secs(15), |b| {
            b.last_mut().unwrap().own_server_state().is_some()
        }),
        "{name} joins"
    );
    bot
}

/// A copy of the game's content files in `dir/content`, to edit for one test.
pub fn copy_content(dir: &std::path::Path) -> PathBuf {
    let content = dir.join("content");
    std::fs::create_dir_all(&content).unwrap();
    for kind in tavern_shared::content::KINDS {
        let sample = tavern_server::content::default_dir().join(kind.file());
        std::fs::copy(sample, content.join(kind.file())).unwrap();
    }
    content
}

/// Replaces `from` with `to` in `dir/file`, which must contain it.
pub fn edit_file(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Script steps that walk from `from` to `stop` px short of `to`.
pub fn walk_near(from: Vec2, to: Vec2, stop: f32) -> std::collections::VecDeque<(u32, InputFrame)> {
    let d = from.distance(to) - stop;
    if d <= 0.0 {
        return Default::default();
    }
    let ticks = (d / (160.0 / 60.0)).floor() as u32;
    [walk(to - from, ticks.max(1))].into()
}

/// The first of `bots` throws a fireball at the first monster it sees, while it is
/// still away from everyone (so its loot lies where nobody stands), and waits until
/// it dies.
pub fn fireball_first_monster(bots: &mut [&mut Bot]) {
    let mut thrown = false;
    let died = pump_until(bots, Duration::from_secs(20), |b| {
        if !thrown && let Some((_, _, s, _)) = b[0].monsters().first() {
            thrown = true;
            let at = s.motion.pos;
            b[0].use_ability("fireball", Some(at));
        }
        b[0].combat()
            .events
            .iter()
            .any(|e| matches!(e, tavern_shared::combat::messages::CombatEvent::Died { .. }))
    });
    assert!(died, "the monster dies: {:?}", bots[0].combat());
}

/// A `write_room` map with one slime (12 health, back after 10 minutes) east of the
/// spawns, and the content copy that makes it that weak, in `dir`: (map, content).
pub fn weak_slime_room(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let content = copy_content(dir);
    edit_file(
        &content,
        "combat_stats.toml",
        "[slime]\nhealth = 30",
        "[slime]\nhealth = 12",
    );
    let map = write_room(
        &dir.join("maps"),
        "arena.tmj",
        serde_json::json!([{"id": 1, "name": "Slime", "x": 220.0, "y": 112.0, "point": true,
        "properties": [
            {"name": "enemySpawn", "type": "string", "value": "slime"},
            {"name": "respawnSecs", "type": "float", "value": 600.0}
        ]}]),
    );
    (map, content)
}

/// Kills the first monster in sight, walks up to the westmost pile it dropped and asks
/// for it: what the pile is and the server's answer.
pub fn pick_up_dropped_loot(
    bot: &mut Bot,
) -> (
    tavern_client::stream::LootKind,
    tavern_shared::combat::messages::PickupResult,
) {
    fireball_first_monster(&mut [&mut *bot]);
    let mut piles = Vec::new();
    assert!(pump_until(&mut [&mut *bot], Duration::from_secs(5), |b| {
        piles = b[0].loot();
        !piles.is_empty()
    }));
    piles.sort_by(|a, b| a.2.x.total_cmp(&b.2.x));
    let (loot, kind, at) = piles[0].clone();
    let from = bot.own_server_state().unwrap().motion.pos;
    *bot.brain_mut() = tavern_client::bot::Brain::Script(walk_near(from, at, 28.0));
    assert!(pump_until(&mut [&mut *bot], Duration::from_secs(5), |b| {
        b[0].brain_mut().is_done() && b[0].own_server_state().is_some_and(|s| !s.motion.moving)
    }));
    bot.pick_up(loot);
    assert!(pump_until(&mut [&mut *bot], Duration::from_secs(5), |b| {
        !b[0].combat().pickups.is_empty()
    }));
    let answer = bot.combat().pickups.back().unwrap().clone();
    (kind, answer)
}

/// POSTs `body` to `url` + `route` as `content_type`: the status, the JSON answer
/// (`null` for an empty one) and its `Retry-After`.
/// One API call: `body` as JSON (POST) or none (GET), with a bearer token if given.
pub fn call(
    url: &str,
    route: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let method = if body.is_some() { "POST" } else { "GET" };
    call_with(method, url, route, token, body)
}

/// A request with any method (`PUT`, `DELETE`, ...), a bearer token and a JSON body:
/// status and body (`null` when empty).
pub fn call_with(
    method: &str,
    url: &str,
    route: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{url}{route}"));
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    let mut response = match body {
        Some(body) => agent
            .run(
                request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .unwrap(),
            )
            .unwrap(),
        None => agent.run(request.body(()).unwrap()).unwrap(),
    };
    let text = response.body_mut().read_to_string().unwrap();
    let value = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (response.status().as_u16(), value)
}

pub fn post(
    url: &str,
    route: &str,
    content_type: &str,
    body: &str,
) -> (u16, serde_json::Value, Option<String>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .post(&format!("{url}{route}"))
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.body_mut().read_to_string().unwrap();
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (r.status().as_u16(), json, retry)
}

/// The `tavern-server` binary next to this test binary (`cargo test --workspace` builds
/// it).
pub fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("tavern-server");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace --all-targets`",
        bin.display()
    );
    bin
}

pub fn free_addr() -> SocketAddr {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    // The same port must be free for UDP too.
    UdpSocket::bind(("127.0.0.1", port)).map_or_else(|_| free_addr(), |_| tcp.local_addr().unwrap())
}

/// A throwaway `redis-server` on a free loopback port, stopped when dropped.
pub struct Redis {
    child: std::process::Child,
    pub port: u16,
}

impl Redis {
    /// Starts one, or says why it cannot (not installed, or not answering).
    pub fn start() -> Result<Redis, String> {
        let port = free_addr().port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server does not start ({e}); apt install redis-server"))?;
        let redis = Redis { child, port };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if redis.ping() {
                return Ok(redis);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "redis-server on port {port} did not answer in 10 s"
        ))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        tcp.write_all(b"PING\r\n").is_ok()
            && tcp.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tavern-server` on the sample town, its data in `dir`, HTTP and UDP on `addr`, maps
/// not watched; more flags and the environment are the caller's.
pub fn server_command(dir: &Path, addr: SocketAddr) -> std::process::Command {
    let mut command = std::process::Command::new(server_bin());
    command
        .args([
            "--map",
            concat!(env!("CARGO_MANIFEST_DIR"), "/maps/town.tmx"),
        ])
        .args(["--data-dir".as_ref(), dir.join("data").as_os_str()])
        .args(["--http", &addr.to_string(), "--udp", &addr.to_string()])
        .arg("--no-watch");
    command
}
