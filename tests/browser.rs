//! The web client in a real browser: the server serves the Trunk build (`dist/`) and its
//! WebSocket, headless Chromium opens the page at a phone's size and at a desktop's,
//! logs in from the address, the test holds a key (and, on the phone, drags the touch
//! joystick), and the server sees the web player walk; a UDP bot and the web player
//! see each other. The desktop's server also offers WebTransport, which the page takes
//! (checked on the server's connection count); the phone's does not, so the page falls
//! back to the WebSocket. A screenshot of each is kept in the target folder.
//!
//! Needs `dist/` (`trunk build --release`) and Chromium; without them the test says why
//! and passes, unless `TAVERN_REQUIRE_SERVICES=1` (CI), where it fails.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use bevy::math::Vec2;
use serde_json::{Value, json};
use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;
use tavern_shared::api::Transport;
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

use crate::common::{pump_for, server_players, temp_dir};

/// Skips (with the reason) where the browser or the build is missing, unless CI
/// requires them.
fn unavailable(why: &str) {
    crate::common::unavailable("the browser test", why);
}

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist")
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(move |dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .find(|p| p.is_file())
}

/// A headless Chromium and a DevTools connection to its page.
struct Browser {
    child: Child,
    page: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// What the page printed to its console, for a failing test to show.
    console: Vec<String>,
    _profile: TempProfile,
}

/// A fresh profile folder, removed afterwards.
struct TempProfile(PathBuf);

impl Drop for TempProfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium offline-quiet (no calls home), with a software WebGL and the
    /// given further flags.
    fn start(binary: &Path, name: &str, flags: &[&str]) -> Browser {
        let profile = TempProfile(temp_dir(&format!("chromium-{name}")));
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                "--remote-debugging-port=0",
                "--window-size=1280,720",
            ])
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("chromium printed its DevTools address")
                .unwrap();
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                break rest.split('/').next().unwrap().to_string();
            }
        };
        // Chromium keeps writing to stderr: keep reading so it never blocks.
        std::thread::spawn(move || for _ in lines {});
        let list: Value = ureq::get(&format!("http://127.0.0.1:{port}/json/list"))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        let page_url = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("chromium has a page")
            .to_string();
        let (page, _) = tungstenite::connect(page_url).expect("DevTools connects");
        let mut browser = Browser {
            child,
            page,
            next_id: 0,
            console: Vec::new(),
            _profile: profile,
        };
        browser.call("Runtime.enable", json!({}));
        browser.call("Page.enable", json!({}));
        browser
    }

    /// Sends a DevTools command and waits for its answer (keeping console lines).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.page.send(Message::text(text)).unwrap();
        loop {
            let Message::Text(text) = self.page.read().expect("DevTools answers") else {
                continue;
            };
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["id"] == id {
                assert!(
                    message.get("error").is_none(),
                    "{method}: {message}\nconsole:\n{}",
                    self.console.join("\n")
                );
                return message["result"].clone();
            }
            if message["method"] == "Runtime.consoleAPICalled" {
                let args = message["params"]["args"].as_array().cloned();
                let line: Vec<String> = args
                    .unwrap_or_default()
                    .iter()
                    .map(|a| a["value"].as_str().map_or(a.to_string(), str::to_string))
                    .collect();
                self.console.push(line.join(" "));
            }
        }
    }

    /// Runs `script` in the page; its value.
    fn eval(&mut self, script: &str) -> Value {
        let answer = self.call(
            "Runtime.evaluate",
            json!({"expression": script, "returnByValue": true, "awaitPromise": true}),
        );
        answer["result"]["value"].clone()
    }

    fn key(&mut self, kind: &str, key: &str, code: &str, key_code: u32) {
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": key_code}),
        );
    }

    fn touch(&mut self, kind: &str, at: Option<(f64, f64)>) {
        let points = at.map_or(json!([]), |(x, y)| json!([{"x": x, "y": y}]));
        self.call(
            "Input.dispatchTouchEvent",
            json!({"type": kind, "touchPoints": points}),
        );
    }

    /// Saves a PNG of the page in the target folder; its path.
    fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let path = dir.join(format!("browser-{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// Where the server has the player called `name`, once it is there.
fn web_player_at(server: &tavern_server::RunningServer, name: &str) -> Option<Vec2> {
    server_players(server)
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| Vec2::new(p.x, p.y))
}

/// Waits up to `timeout` for `done`, pumping `bot` meanwhile.
fn wait_for(bot: &mut Bot, timeout: Duration, mut done: impl FnMut(&mut Bot) -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done(bot) {
            return true;
        }
        pump_for(&mut [bot], Duration::from_millis(100));
    }
    false
}

/// A server offering the web build, Chromium on its page, and a UDP bot beside the
/// web player, once the page has joined.
struct Page {
    _turn: std::sync::MutexGuard<'static, ()>,
    server: tavern_server::RunningServer,
    browser: Browser,
    bot: Bot,
}

/// Opens the page as `name` at `size` (width, height, a phone's touch) in a Chromium
/// started with `flags`, over `transport` (the server offers WebTransport only when
/// that is asked for); `None` (said why) where the browser or the build is missing.
fn open_page(
    size: (u32, u32, bool),
    name: &str,
    transport: Transport,
    flags: &[&str],
) -> Option<Page> {
    let Some(binary) = chromium() else {
        unavailable("Chromium is not installed (apt install chromium)");
        return None;
    };
    if !dist().join("index.html").is_file() {
        unavailable("dist/ has no web build (trunk build --release)");
        return None;
    }
    let _turn = crate::common::serial();
    let mut config = ServerConfig::local(temp_dir(&format!("browser-{name}")));
    config.ws = Some("127.0.0.1:0".parse().unwrap());
    if transport == Transport::WebTransport {
        config.webtransport = Some(tavern_server::net::webtransport::WebTransportConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            certificate: None,
            url: None,
        });
    }
    config.web_root = Some(dist());
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();

    let mut browser = Browser::start(&binary, name, flags);
    let (width, height, mobile) = size;
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
    );
    if mobile {
        browser.call(
            "Emulation.setTouchEmulationEnabled",
            json!({"enabled": true, "maxTouchPoints": 5}),
        );
    }
    browser.call(
        "Page.navigate",
        json!({"url": format!("{url}/?name={name}")}),
    );
    let mut bot = Bot::new(&url, &format!("{name}-bot"), Brain::Idle);
    let joined = wait_for(&mut bot, Duration::from_secs(60), |_| {
        web_player_at(&server, name).is_some()
    });
    if !joined {
        // Asking the page for its status line also takes in what it printed meanwhile.
        let status = browser.eval("document.getElementById('status').textContent");
        panic!(
            "the web player never joined; the page says {status}; console:\n{}",
            browser.console.join("\n")
        );
    }
    Some(Page {
        _turn,
        server,
        browser,
        bot,
    })
}

/// Opens the page as `name` at the given size and checks that it plays over `transport`:
/// it joins, a bot and it see each other, and it walks on `walk` (the browser's input).
fn plays_in_the_browser(
    size: (u32, u32, bool),
    name: &str,
    transport: Transport,
    walk: impl FnOnce(&mut Browser, &mut Bot),
) {
    let Some(Page {
        _turn,
        server,
        mut browser,
        mut bot,
    }) = open_page(size, name, transport, &[])
    else {
        return;
    };
    let (width, height, _) = size;
    let url = server.http_url();
    // Let the page draw the world before acting.
    pump_for(&mut [&mut bot], Duration::from_secs(2));
    let before = web_player_at(&server, name).unwrap();
    walk(&mut browser, &mut bot);
    let moved = wait_for(&mut bot, Duration::from_secs(10), |_| {
        web_player_at(&server, name).is_some_and(|at| at.distance(before) > 24.0)
    });
    let shot = browser.screenshot(name);
    println!(
        "screenshot of the web client ({width}x{height}): {}",
        shot.display()
    );
    let after = web_player_at(&server, name).unwrap();
    assert!(
        moved,
        "the web player did not walk: {before} -> {after}; console:\n{}",
        browser.console.join("\n")
    );
    // The bot sees the web player where the server has it.
    let web_id = server_players(&server)
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
        .client_id;
    let mut last_seen = None;
    let seen = wait_for(&mut bot, Duration::from_secs(5), |bot| {
        let now = web_player_at(&server, name);
        last_seen = bot
            .others()
            .iter()
            .find(|(id, _, _)| *id == web_id)
            .map(|(_, state, _)| state.motion.pos);
        now.zip(last_seen).is_some_and(|(a, b)| a.distance(b) < 8.0)
    });
    assert!(
        seen,
        "the UDP bot sees the web player at {last_seen:?}, the server has it at {:?}",
        web_player_at(&server, name)
    );
    // And the page draws the bot: its avatar count includes it.
    let seen_by_page = browser.eval("document.getElementById('tavern').dataset.avatars");
    assert!(
        seen_by_page.as_str().and_then(|n| n.parse::<u32>().ok()) >= Some(2),
        "the page shows {seen_by_page} avatars, not the web player and the bot"
    );
    // The page connected over the transport meant for it, and only once.
    let metrics = ureq::get(&format!("{url}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let connections = |t: Transport| {
        let key = format!("tavern_connections_total{{transport=\"{}\"}} ", t.name());
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&key))
            .map_or(0, |n| n.trim().parse::<u64>().unwrap())
    };
    assert_eq!(
        connections(transport),
        1,
        "the page connected over {}: {metrics}",
        transport.name()
    );
    let other = [Transport::WebSocket, Transport::WebTransport]
        .into_iter()
        .find(|t| *t != transport)
        .unwrap();
    assert_eq!(connections(other), 0, "{metrics}");
}

#[test]
fn a_desktop_sized_browser_plays_with_the_keyboard() {
    plays_in_the_browser(
        (1280, 720, false),
        "WebDesk",
        Transport::WebTransport,
        |browser, bot| {
            browser.key("keyDown", "d", "KeyD", 68);
            pump_for(&mut [bot], Duration::from_millis(1500));
            browser.key("keyUp", "d", "KeyD", 68);
        },
    );
}

#[test]
fn a_phone_sized_browser_plays_with_the_touch_joystick() {
    plays_in_the_browser(
        (390, 844, true),
        "WebPhone",
        Transport::WebSocket,
        |browser, bot| {
            // Touch the left half and drag right: the stick follows the finger.
            browser.touch("touchStart", Some((100.0, 600.0)));
            for step in 1..=6 {
                browser.touch("touchMove", Some((100.0 + 12.0 * f64::from(step), 600.0)));
            }
            pump_for(&mut [bot], Duration::from_millis(1500));
            browser.touch("touchEnd", None);
        },
    );
}

impl Browser {
    /// Types `text` as key presses (letters, digits, space and `/`), then Enter.
    fn type_line(&mut self, text: &str) {
        for c in text.chars() {
            let key = c.to_string();
            let (code, key_code) = match c {
                ' ' => ("Space".to_string(), 32),
                '/' => ("Slash".to_string(), 191),
                c if c.is_ascii_digit() => (format!("Digit{c}"), c as u32),
                c => (
                    format!("Key{}", c.to_ascii_uppercase()),
                    c.to_ascii_uppercase() as u32,
                ),
            };
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": "keyDown", "key": key, "code": code, "text": key, "windowsVirtualKeyCode": key_code}),
            );
            self.key("keyUp", &key, &code, key_code);
        }
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyDown", "key": "Enter", "code": "Enter", "text": "\r", "windowsVirtualKeyCode": 13}),
        );
        self.key("keyUp", "Enter", "Enter", 13);
    }

    /// A number the page shows on its canvas (`data-NAME`), 0 until it does.
    fn page_number(&mut self, name: &str) -> u64 {
        self.eval(&format!("document.getElementById('tavern').dataset.{name}"))
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// Voice in the browser, with Chromium's fake microphone (a beep) and the permission
/// granted as a player would: the page plays what a UDP bot beside it says, asks for
/// the microphone on `/voice on`, and while V is held the bot hears the page's beep
/// (decoded with libopus, loud enough to be it).
#[test]
fn the_browser_hears_and_talks_with_a_fake_microphone() {
    use tavern_client::voice::FRAME_SAMPLES;
    use tavern_client::voice::codec::{VoiceDecoder, VoiceEncoder};
    let Some(Page {
        _turn,
        server: _server,
        mut browser,
        mut bot,
    }) = open_page(
        (1280, 720, false),
        "WebVoice",
        Transport::WebSocket,
        &[
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )
    else {
        return;
    };
    pump_for(&mut [&mut bot], Duration::from_secs(2));

    // The bot speaks (a 300 Hz tone) for 3 s; the page plays it.
    bot.voice_status(true, false);
    let mut encoder = VoiceEncoder::new().unwrap();
    let tone: Vec<f32> = (0..FRAME_SAMPLES * 150)
        .map(|i| 0.3 * (i as f32 * 300.0 / 48_000.0 * std::f32::consts::TAU).sin())
        .collect();
    let start = Instant::now();
    for (n, frame) in tone.chunks(FRAME_SAMPLES).enumerate() {
        let opus = encoder.encode(frame).unwrap();
        bot.speak(opus);
        let due = start + Duration::from_millis(20 * (n as u64 + 1));
        pump_for(
            &mut [&mut bot],
            due.saturating_duration_since(Instant::now()),
        );
    }
    let played = wait_for(&mut bot, Duration::from_secs(5), |_| {
        browser.page_number("voicePlayed") >= 100
    });
    let fps = browser.eval(
        "new Promise(done => { let n = 0; const t = performance.now(); \
         const f = () => { n++; if (performance.now() - t < 1000) requestAnimationFrame(f); \
         else done(n); }; requestAnimationFrame(f); })",
    );
    println!(
        "the page drew {fps} frames a second, heard {} frames and played {} ({} dropped, {} concealed)",
        browser.page_number("voiceHeard"),
        browser.page_number("voicePlayed"),
        browser.page_number("voiceDropped"),
        browser.page_number("voiceConcealed"),
    );
    assert!(
        played,
        "the page played {} of the bot's 150 frames (it heard {}); console:\n{}",
        browser.page_number("voicePlayed"),
        browser.page_number("voiceHeard"),
        browser.console.join("\n")
    );

    // The page asks for the microphone, and talks while V is held.
    browser.call("Page.bringToFront", json!({}));
    browser.type_line("/voice on");
    let open = wait_for(&mut bot, Duration::from_secs(10), |_| {
        browser.eval("document.getElementById('tavern').dataset.voiceMicrophone") == json!("open")
    });
    assert!(
        open,
        "the microphone is {}; console:\n{}",
        browser.eval("document.getElementById('tavern').dataset.voiceMicrophone"),
        browser.console.join("\n")
    );
    bot.take_voice();
    browser.key("keyDown", "v", "KeyV", 86);
    pump_for(&mut [&mut bot], Duration::from_secs(4));
    let shot = browser.screenshot("WebVoice");
    println!("screenshot of the web client talking: {}", shot.display());
    browser.key("keyUp", "v", "KeyV", 86);
    pump_for(&mut [&mut bot], Duration::from_millis(500));
    let heard = bot.take_voice();
    let sent = browser.page_number("voiceSent");
    assert!(
        heard.len() >= 25,
        "the bot heard {} frames of the page's voice (it sent {sent}); console:\n{}",
        heard.len(),
        browser.console.join("\n")
    );
    let mut decoder = VoiceDecoder::new().unwrap();
    let peak = heard
        .iter()
        .flat_map(|f| decoder.decode(Some(&f.opus)))
        .fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak > 0.05, "the page's voice is silent (peak {peak})");
    println!(
        "the page sent {sent} frames, the bot heard {} (peak {peak:.2})",
        heard.len()
    );
}
