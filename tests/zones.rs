//! Zones and proximity, enforced by the server, checked on what clients actually
//! receive: a map with a private booth; one player walks into it and the others stop
//! receiving its avatar at all, and players are told who comes near and who leaves.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use crate::common::{join, pump_for, pump_until, sees, temp_dir, walk};
use bevy::prelude::*;
use serde_json::json;
use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;
use tavern_shared::input::InputFrame;

/// A walled 20x8 room of 32 px tiles. Spawns at (2..4, 3); a private booth over cells
/// (12..15, 2..5); a silent corner at (0..2, 6).
fn write_room(dir: &Path) -> std::path::PathBuf {
    crate::common::write_room(
        dir,
        "room.tmj",
        json!([
            {"id": 1, "name": "booth", "type": "area", "x": 384, "y": 64, "width": 128, "height": 128,
             "properties": [{"name": "private", "type": "bool", "value": true}]},
            {"id": 2, "name": "corner", "type": "area", "x": 32, "y": 192, "width": 64, "height": 32,
             "properties": [{"name": "silent", "type": "bool", "value": true}]},
            {"id": 3, "name": "huddle", "type": "area", "x": 224, "y": 64, "width": 64, "height": 128,
             "properties": [{"name": "jitsiRoom", "type": "string", "value": "Stand Up"}]}
        ]),
    )
}

#[test]
fn private_booths_hide_avatars_and_proximity_is_reported_to_both_players() {
    let _turn = crate::common::serial();
    let dir = temp_dir("zones");
    let map = write_room(&dir.join("maps"));
    let mut config = ServerConfig::local(dir.join("data"));
    config.maps = vec![map];
    config.jitsi = tavern_server::meetings::JitsiConfig {
        domain: "meet.example.org".into(),
        app_id: Some("tavern".into()),
        secret: Some("test-secret".into()),
    };
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    // Alice joins first, so she gets the first spawn and her walk ends inside the booth.
    let mut alice = join(&url, "Alice", &mut []);
    let mut bob = join(&url, "Bob", &mut [&mut alice]);
    let (a, b) = (alice.client_id().unwrap(), bob.client_id().unwrap());
    // They spawn a tile apart: each is told the other is near.
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob],
            Duration::from_secs(5),
            |bots| { bots[0].nearby().near.contains(&b) && bots[1].nearby().near.contains(&a) }
        ),
        "spawned side by side, both hear of each other"
    );
    assert!(sees(&mut bob, a));

    // Alice walks into the private booth.
    *alice.brain_mut() = Brain::Script(VecDeque::from([
        walk(Vec2::X, 140),
        (1, InputFrame::default()),
    ]));
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob],
            Duration::from_secs(10),
            |bots| { bots[0].own_zones().is_some_and(|z| z == vec![0]) }
        ),
        "the server puts Alice in the booth (zone 0): {:?}",
        alice.own_server_state()
    );
    // On the way she crossed the huddle (a meeting zone): invited on entering, with a
    // room-scoped token, and hung up on leaving.
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob],
            Duration::from_secs(2),
            |bots| { bots[0].meetings().hangups == 1 }
        ),
        "{:?}",
        alice.meetings()
    );
    let m = alice.meetings();
    assert_eq!(m.invites, 1);
    assert!(m.current.is_none(), "hung up");
    let invite = m.last.clone().unwrap();
    assert_eq!(invite.room, "room-stand-up");
    assert!(
        invite
            .url
            .starts_with("https://meet.example.org/room-stand-up?jwt="),
        "{}",
        invite.url
    );
    assert_eq!(
        bob.meetings().invites,
        0,
        "only the player who entered is invited"
    );
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob],
            Duration::from_secs(5),
            |bots| { !sees(bots[1], a) && !bots[1].nearby().near.contains(&a) }
        ),
        "Bob no longer has Alice's avatar, and she left his proximity"
    );
    assert!(
        !alice.nearby().near.contains(&b),
        "the leave went to Alice too"
    );
    // While she stays inside, Bob never receives her again; she still has herself and Bob.
    let mut leaked = false;
    pump_until(
        &mut [&mut alice, &mut bob],
        Duration::from_secs(1),
        |bots| {
            leaked |= sees(bots[1], a);
            false
        },
    );
    assert!(
        !leaked,
        "a hidden avatar is never sent to a player outside the booth"
    );
    assert!(alice.own_server_state().is_some());
    assert!(sees(&mut alice, b), "from inside, the outside is visible");

    // A third player joining now does not get her either.
    let mut carol = Bot::new(&url, "Carol", Brain::Idle);
    assert!(pump_until(
        &mut [&mut alice, &mut bob, &mut carol],
        Duration::from_secs(15),
        |bots| { bots[2].own_server_state().is_some() && sees(bots[2], b) }
    ));
    pump_for(
        &mut [&mut alice, &mut bob, &mut carol],
        Duration::from_millis(500),
    );
    assert!(
        !sees(&mut carol, a),
        "a newcomer outside the booth never receives her"
    );

    // She walks out and back to the others: seen again, and near again.
    *alice.brain_mut() = Brain::Script(VecDeque::from([
        walk(-Vec2::X, 140),
        (1, InputFrame::default()),
    ]));
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob, &mut carol],
            Duration::from_secs(10),
            |bots| {
                sees(bots[1], a)
                    && sees(bots[2], a)
                    && bots[1].nearby().near.contains(&a)
                    && bots[0].nearby().near.contains(&b)
            }
        ),
        "out of the booth, she is replicated and near again"
    );
    assert_eq!(alice.own_zones(), Some(vec![]));
    assert!(
        bob.nearby().events >= 3,
        "enter, leave, enter: {}",
        bob.nearby().events
    );
    server.stop();
}
