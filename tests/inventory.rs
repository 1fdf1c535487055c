//! Stored inventories: a pickup is answered only once it is in the database, so it
//! survives the server being killed (`kill -9`) right after, and comes back to the same
//! player (its guest session, not its name) when it joins the restarted server.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tavern_client::bot::{Bot, Brain};

use crate::common::{free_addr, pump_until, server_bin, temp_dir};

/// A server process; killed (SIGKILL) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, map: &Path, content: &Path, addr: SocketAddr) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let child = Command::new(server_bin())
        .args(["--map".as_ref(), map.as_os_str()])
        .args(["--content".as_ref(), content.as_os_str()])
        .args(["--data-dir".as_ref(), dir.join("data").as_os_str()])
        .args(["--http", &addr.to_string(), "--udp", &addr.to_string()])
        .args(["--no-watch", "--combat-seed", "1"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the server binary starts");
    let server = Server(child);
    let url = format!("http://{addr}/healthz");
    let start = Instant::now();
    while ureq::get(&url).call().is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server answers"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[test]
fn a_pickup_survives_kill_9_and_comes_back_to_the_same_guest() {
    let _turn = crate::common::serial();
    let dir = temp_dir("inventory-kill");
    let (map, content) = crate::common::weak_slime_room(&dir);
    let addr = free_addr();
    let url = format!("http://{addr}");
    let mut server = start(&dir, &map, &content, addr);

    let mut ada = Bot::new(&url, "Ada", Brain::Idle);
    let (kind, answer) = crate::common::pick_up_dropped_loot(&mut ada);
    assert_eq!(answer.refused, None, "{answer:?}");
    // Acknowledged: it is stored. Kill the server at once, no goodbye.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let session = ada.session().expect("a guest session");
    drop(ada);

    let _server = start(&dir, &map, &content, addr);
    let holds = |bot: &Bot| -> u64 {
        let inv = bot.inventory();
        match &kind.item {
            None => inv.gold,
            Some(item) => inv
                .items
                .iter()
                .find(|(i, _)| i == item)
                .map_or(0, |(_, n)| u64::from(*n)),
        }
    };
    let mut back = Bot::with_session(&url, "Ada", Brain::Idle, Some(session));
    assert!(
        pump_until(&mut [&mut back], Duration::from_secs(15), |b| holds(b[0])
            == u64::from(kind.count)),
        "Ada holds {} {:?} again: {:?}",
        kind.count,
        kind.item,
        back.inventory()
    );
    // While Ada plays, nobody else may call themselves Ada; once she has left, another
    // guest may, and holds nothing: identity is not the name.
    let refused = crate::common::post(&url, "/api/login", "application/json", r#"{"name": "ada"}"#);
    assert_eq!(refused.0, 409, "{:?}", refused.1);
    let back_session = back.session();
    back.leave();
    drop(back);
    let start = Instant::now();
    while !ureq::get(&format!("{url}/healthz"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("\"players\":0")
    {
        assert!(start.elapsed() < Duration::from_secs(20), "Ada leaves");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut other = Bot::new(&url, "Ada", Brain::Idle);
    assert!(pump_until(
        &mut [&mut other],
        Duration::from_secs(10),
        |b| { b[0].own_server_state().is_some() }
    ));
    crate::common::pump_for(&mut [&mut other], Duration::from_millis(500));
    assert_eq!(holds(&other), 0, "{:?}", other.inventory());
    assert_ne!(other.session(), back_session);
}
