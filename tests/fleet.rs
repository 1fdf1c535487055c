//! Several nodes sharing a real Redis (started on loopback by the test): each registers
//! itself, the admin API of any lists them all with their players, a node that stops
//! leaves the list at once, one killed with `kill -9` after the registry's TTL, and a
//! node whose Redis does not answer refuses to start.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;

use crate::common::{Redis, free_addr, pump_for, temp_dir, unavailable};

const TOKEN: &str = "fleet-admin-token-0123";

fn node(name: &str, redis: &Redis) -> tavern_server::RunningServer {
    let mut config = ServerConfig::local(temp_dir(name));
    config.redis_url = Some(redis.url());
    config.node_id = Some(name.into());
    config.admin_token = Some(TOKEN.into());
    tavern_server::start(config).expect("the node starts")
}

/// The nodes `url`'s admin API lists: id and players.
fn nodes(url: &str) -> Vec<(String, u64)> {
    let answer: Value = ureq::get(&format!("{url}/api/admin/nodes"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["players"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Waits up to `timeout` (pumping `bots`) until `url` lists `want`.
fn lists(
    url: &str,
    want: &[(&str, u64)],
    timeout: Duration,
    bots: &mut [&mut Bot],
) -> Vec<(String, u64)> {
    let start = Instant::now();
    loop {
        let now = nodes(url);
        let same = now.len() == want.len()
            && now
                .iter()
                .zip(want)
                .all(|((id, n), (wid, wn))| id == wid && n == wn);
        if same || start.elapsed() > timeout {
            return now;
        }
        pump_for(bots, Duration::from_millis(200));
    }
}

#[test]
fn nodes_find_each_other_in_redis_and_leave_when_they_stop() {
    let redis = match Redis::start() {
        Ok(r) => r,
        Err(why) => return unavailable("the fleet test", &why),
    };
    let _turn = crate::common::serial();
    let a = node("node-a", &redis);
    let b = node("node-b", &redis);
    let url_a = a.http_url();
    let got = lists(
        &url_a,
        &[("node-a", 0), ("node-b", 0)],
        Duration::from_secs(6),
        &mut [],
    );
    assert_eq!(got, [("node-a".to_string(), 0), ("node-b".to_string(), 0)]);
    // A player on B shows on A's list.
    let mut ada = Bot::new(&b.http_url(), "Ada", Brain::Idle);
    let got = lists(
        &url_a,
        &[("node-a", 0), ("node-b", 1)],
        Duration::from_secs(10),
        &mut [&mut ada],
    );
    assert_eq!(got, [("node-a".to_string(), 0), ("node-b".to_string(), 1)]);
    drop(ada);
    // B stops cleanly: gone at once (not after the TTL).
    drop(b);
    assert_eq!(nodes(&url_a), [("node-a".to_string(), 0)]);

    // A node killed with kill -9 drops out once its entry expires.
    let addr = free_addr();
    let mut c = crate::common::server_command(&temp_dir("node-c"), addr)
        .args(["--redis-url", &redis.url(), "--node-id", "node-c"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let got = lists(
        &url_a,
        &[("node-a", 0), ("node-c", 0)],
        Duration::from_secs(30),
        &mut [],
    );
    assert_eq!(got, [("node-a".to_string(), 0), ("node-c".to_string(), 0)]);
    c.kill().unwrap();
    let _ = c.wait();
    let killed = Instant::now();
    let got = lists(&url_a, &[("node-a", 0)], Duration::from_secs(12), &mut []);
    assert_eq!(got, [("node-a".to_string(), 0)]);
    println!(
        "a killed node left the list after {:.1} s",
        killed.elapsed().as_secs_f32()
    );

    // Redis gone: the node plays on, and its admin API says why it cannot list nodes.
    drop(redis);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut answer = agent
        .get(&format!("{url_a}/api/admin/nodes"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    let text = answer.body_mut().read_to_string().unwrap();
    assert!(text.contains("Redis does not answer"), "{text}");
    let mut bo = Bot::new(&url_a, "Bo", Brain::Idle);
    assert!(
        crate::common::pump_until(&mut [&mut bo], Duration::from_secs(15), |b| b[0]
            .own_server_state()
            .is_some()),
        "a player still joins the node without Redis"
    );
}

#[test]
fn a_node_whose_redis_does_not_answer_does_not_start() {
    let dead = free_addr();
    let out = crate::common::server_command(&temp_dir("node-no-redis"), free_addr())
        .args([
            "--redis-url",
            &format!("redis://:hunter2@127.0.0.1:{}", dead.port()),
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("cannot reach Redis at redis://:<redacted>@127.0.0.1"),
        "{said}"
    );
    assert!(!said.contains("hunter2"), "{said}");
}
