//! The security review's attacks, replayed against a real server on loopback: a flood
//! of handshakes from one address while a player from another joins, random UDP,
//! slow and oversized HTTP requests, login floods, and the files a fresh server
//! leaves on disk.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bevy_replicon_renet2::netcode::{
    ClientAuthentication, ConnectToken, NativeSocket, NetcodeClientTransport,
};
use bevy_replicon_renet2::renet2::{ConnectionConfig, RenetClient};
use rand::{Rng, SeedableRng};
use tavern_server::ServerConfig;
use tavern_server::http::limits::HttpLimits;
use tavern_shared::protocol::PROTOCOL_ID;

use crate::common::{post, temp_dir};

const KEY: [u8; 32] = [42; 32];

fn config(name: &str) -> ServerConfig {
    let mut config = ServerConfig::local(temp_dir(name));
    config.netcode_key = Some(base64::engine::general_purpose::STANDARD.encode(KEY));
    config.watch_maps = false;
    config
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// A netcode client on a socket bound to `local`, with `token`.
fn netcode_client(local: &str, token: ConnectToken) -> (RenetClient, NetcodeClientTransport) {
    // Netcode's channels do not matter here: only the handshake is looked at.
    let socket = UdpSocket::bind(local).expect("bind a client socket");
    let transport = NetcodeClientTransport::new(
        now(),
        ClientAuthentication::Secure {
            connect_token: token,
        },
        NativeSocket::new(socket).unwrap(),
    )
    .unwrap();
    (RenetClient::new(ConnectionConfig::test(), false), transport)
}

fn token(server: SocketAddr, client_id: u64, expire_secs: u64) -> ConnectToken {
    ConnectToken::generate(
        now(),
        PROTOCOL_ID,
        expire_secs,
        client_id,
        10,
        0,
        vec![server],
        None,
        &KEY,
    )
    .unwrap()
}

fn metric(url: &str, name: &str) -> u64 {
    let mut r = ureq::get(&format!("{url}/metrics")).call().unwrap();
    let text = r.body_mut().read_to_string().unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// The review's flood: 5,000 valid connect tokens (more than the 4,096 netcode holds
/// pending), each sent as a connection request from its own UDP port of one address.
/// Without a limit per address they fill netcode's 4,096 pending places until they
/// expire and nobody else is even challenged (checked with the gate taken out: 4,513
/// challenges, the player not connected in 5 s). The condition is that the
/// server reads every request (hence the pauses) and the requests come from more than
/// 4,096 distinct ports (hence sockets kept open while their answers are read, so
/// ports are not reused at once). With the gate, a player from another address
/// connects at once.
#[test]
fn a_handshake_flood_from_one_address_does_not_keep_others_out() {
    let _turn = crate::common::serial();
    // 127.0.0.2 is loopback too on Linux; without it the second address is missing.
    if UdpSocket::bind("127.0.0.2:0").is_err() {
        eprintln!("skipped: 127.0.0.2 cannot be bound on this machine");
        return;
    }
    let server = tavern_server::start(config("flood")).expect("the server starts");
    let target = server.public_addr;
    let mut sent = 0;
    // Addresses the server answered with a challenge: each holds a pending place (a
    // port reused by a later socket is the same place).
    let mut challenged = std::collections::HashSet::new();
    let mut buf = [0u8; 1500];
    for batch in 0..100u64 {
        let mut clients = Vec::new();
        for i in 0..50u64 {
            // Tokens that live as long as the old default (120 s): the flood must not
            // be beaten merely by expiry.
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let probe = socket.try_clone().unwrap();
            let mut client = RenetClient::new(ConnectionConfig::test(), false);
            let mut transport = NetcodeClientTransport::new(
                now(),
                ClientAuthentication::Secure {
                    connect_token: token(target, 1_000_000 + batch * 50 + i, 120),
                },
                NativeSocket::new(socket).unwrap(),
            )
            .unwrap();
            transport.update(Duration::ZERO, &mut client).unwrap();
            clients.push((client, transport, probe));
            sent += 1;
        }
        // Let the server read and answer them before its socket buffer overflows (a
        // request the kernel drops would leave a pending place free).
        std::thread::sleep(Duration::from_millis(20));
        for (_, _, probe) in &clients {
            probe.set_nonblocking(true).unwrap();
            if probe.recv(&mut buf).is_ok() {
                challenged.insert(probe.local_addr().unwrap());
            }
        }
    }
    assert_eq!(sent, 5000);
    assert!(
        challenged.len() <= tavern_server::config::DEFAULT_HANDSHAKES_PER_IP as usize,
        "one address holds at most its share of handshakes: {} were challenged",
        challenged.len()
    );
    // A player from another address logs in and connects.
    let url = server.http_url();
    let creds = tavern_client::login::login(&url, "Patient", None).expect("login");
    let (mut client, mut transport) = netcode_client("127.0.0.2:0", creds.token);
    let started = Instant::now();
    while !client.is_connected() && started.elapsed() < Duration::from_secs(5) {
        transport
            .update(Duration::from_millis(16), &mut client)
            .unwrap();
        client.update(Duration::from_millis(16));
        transport.send_packets(&mut client).unwrap();
        std::thread::sleep(Duration::from_millis(16));
    }
    assert!(
        client.is_connected(),
        "a player from another address connects during the flood"
    );
    let refused = metric(
        &url,
        "tavern_udp_dropped_packets_total{reason=\"handshake_limit\"}",
    );
    assert!(
        refused >= 4500,
        "the flood's requests beyond the per-address limit were dropped: {refused}"
    );
    server.stop();
}

#[test]
fn random_udp_is_dropped_and_counted_and_players_are_unaffected() {
    let _turn = crate::common::serial();
    let server = tavern_server::start(config("udp-noise")).expect("the server starts");
    let url = server.http_url();
    let mut player = crate::common::join(&url, "Steady", &mut []);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
    let sockets: Vec<UdpSocket> = (0..8)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut sent = 0u64;
    for round in 0..100 {
        for socket in &sockets {
            for _ in 0..6 {
                let len = rng.random_range(0..1300);
                let mut packet: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                if round % 5 == 0 && !packet.is_empty() {
                    // Some claim to be keep-alives and payloads of a connection.
                    packet[0] = rng.random_range(4..=5);
                }
                socket.send_to(&packet, server.udp_addr).unwrap();
                sent += 1;
            }
        }
        player.update();
        std::thread::sleep(Duration::from_millis(16));
    }
    crate::common::pump_for(&mut [&mut player], Duration::from_millis(300));
    let dropped = metric(&url, "tavern_udp_dropped_packets_total");
    // The kernel may drop a few itself if the machine stalls; none reach netcode.
    assert!(
        dropped <= sent && dropped >= sent * 98 / 100,
        "the random datagrams were dropped before netcode: {dropped} of {sent}"
    );
    assert!(player.is_connected(), "the player never noticed");
    assert!(!server.has_stopped());
    server.stop();
}

/// Sends raw bytes over a fresh TCP connection and returns status line and body.
fn raw_http(addr: SocketAddr, request: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn http_limits_refuse_with_json_and_slow_clients_are_cut_off() {
    let _turn = crate::common::serial();
    let mut config = config("http-limits");
    config.http_limits = HttpLimits {
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        max_connections: 40,
        ..HttpLimits::default()
    };
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let addr = server.http_addr;

    // Axum's own rejections are JSON too.
    let (status, json, _) = post(&url, "/api/login", "text/plain", "{\"name\": \"Ada\"}");
    assert_eq!(status, 415, "{json}");
    assert!(json["error"].as_str().unwrap().contains("JSON"), "{json}");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .get(&format!("{url}/api/chat/sessions/abc/messages"))
        .header("Authorization", "Bearer x")
        .call()
        .unwrap();
    let text = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status().as_u16(), 400, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(json["error"].is_string(), "{json}");

    // A large body is refused from its declared length, before it is sent.
    let (status, body) = raw_http(
        addr,
        b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{\"name\":",
    );
    assert!(status.contains("413"), "{status}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json["error"].as_str().unwrap().contains("4096"), "{json}");

    // Headers sent too slowly: the connection is closed after the header timeout.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed by the server, not by our read timeout"
    );

    // A body that never finishes: the request times out with JSON.
    let (status, body) = {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na")
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        (
            text.lines().next().unwrap_or("").to_string(),
            text.split_once("\r\n\r\n")
                .map_or("", |(_, b)| b)
                .to_string(),
        )
    };
    assert!(status.contains("408"), "{status}");
    assert!(body.contains("\"error\""), "{body}");

    // More open connections than allowed: the extra ones get 503 and are closed.
    let held: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = raw_http(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(status.contains("503"), "{status}");
    assert!(body.contains("too many open connections"), "{body}");
    drop(held);

    // Logins: a burst, then the per-address rate, answered 429 with Retry-After.
    std::thread::sleep(Duration::from_millis(1500));
    let limits = HttpLimits::default();
    let mut statuses = Vec::new();
    let mut last = None;
    for i in 0..limits.login_burst + 5 {
        let (status, json, retry) = post(
            &url,
            "/api/login",
            "application/json",
            &format!("{{\"name\": \"P{i}\"}}"),
        );
        statuses.push(status);
        if status == 429 {
            last = Some((json, retry));
        }
    }
    assert!(
        statuses.iter().filter(|s| **s == 200).count() >= 3,
        "{statuses:?}"
    );
    let (json, retry) = last.expect("the flood is refused");
    assert!(
        json["error"].as_str().unwrap().contains("too many"),
        "{json}"
    );
    assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
    assert!(!server.has_stopped());
    server.stop();
}

#[test]
fn logins_leave_bounded_state_and_tokens_per_name_are_capped() {
    let _turn = crate::common::serial();
    let server = tavern_server::start(config("login-flood")).expect("the server starts");
    let url = server.http_url();
    // The load-test limits allow 20 live connect tokens per name: the 21st is refused.
    let mut refused = None;
    for _ in 0..21 {
        let (status, json, retry) = post(
            &url,
            "/api/login",
            "application/json",
            "{\"name\": \"Ada\"}",
        );
        if status != 200 {
            refused = Some((status, json, retry));
        }
    }
    let (status, json, retry) = refused.expect("too many tokens for one name");
    assert_eq!(status, 429);
    assert!(
        json["error"].as_str().unwrap().contains("as `Ada`"),
        "{json}"
    );
    assert!(retry.is_some());
    // 2,000 more logins under other names: API tokens stay capped per name and the
    // ones of these names are all there, no more.
    for i in 0..2000 {
        let (status, _, _) = post(
            &url,
            "/api/login",
            "application/json",
            &format!("{{\"name\": \"N{}\"}}", i % 50),
        );
        // 409: the town is full of places held for tokens nobody used yet.
        assert!(matches!(status, 200 | 409 | 429), "{status}");
    }
    let tokens = metric(&url, "tavern_api_tokens");
    assert!(tokens <= 51 * 4, "at most 4 API tokens per name: {tokens}");
    server.stop();
}

#[test]
fn a_fresh_data_directory_is_private() {
    let _turn = crate::common::serial();
    let mut config = config("modes");
    config.netcode_key = None;
    let dir = config.data_dir.clone();
    let server = tavern_server::start(config).expect("the server starts");
    server.stop();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("netcode.key")), 0o600);
        assert_eq!(mode(&dir.join("tavern.db")), 0o600);
        for extra in ["tavern.db-wal", "tavern.db-shm"] {
            let p = dir.join(extra);
            if p.exists() {
                assert_eq!(mode(&p) & 0o077, 0, "{extra}");
            }
        }
    }
}
