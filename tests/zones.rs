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

/// A server on loopback running the room map, its data in a fresh folder for `name`.
fn room_config(name: &str) -> ServerConfig {
    let dir = temp_dir(name);
    let map = write_room(&dir.join("maps"));
    let mut config = ServerConfig::local(dir.join("data"));
    config.maps = vec![map];
    config
}

/// Starts `config`'s server and joins Alice, then Bob (so Alice gets the first spawn).
fn alice_and_bob(config: ServerConfig) -> (tavern_server::RunningServer, Bot, Bot) {
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let mut alice = join(&url, "Alice", &mut []);
    let bob = join(&url, "Bob", &mut [&mut alice]);
    (server, alice, bob)
}

#[test]
fn private_booths_hide_avatars_and_proximity_is_reported_to_both_players() {
    let _turn = crate::common::serial();
    let mut config = room_config("zones");
    config.jitsi = tavern_server::meetings::JitsiConfig {
        domain: "meet.example.org".into(),
        app_id: Some("tavern".into()),
        secret: Some("test-secret".into()),
    };
    // Alice joins first, so she gets the first spawn and her walk ends inside the booth.
    let (server, mut alice, mut bob) = alice_and_bob(config);
    let url = server.http_url();
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
    // The call is the room's own: ROOM-MAP-ZONE (the server's room is named after its
    // start map, `room`).
    assert_eq!(invite.room, "room-room-stand-up");
    assert!(
        invite
            .url
            .starts_with("https://meet.example.org/room-room-stand-up?jwt="),
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
    let leaked = bob_ever_sees(&mut alice, &mut bob, a, Duration::from_secs(1));
    assert!(
        !leaked,
        "a hidden avatar is never sent to a player outside the booth"
    );
    assert!(alice.own_server_state().is_some());
    assert!(sees(&mut alice, b), "from inside, the outside is visible");
    // The HTTP API follows the same rule: Bob is not told where she is, she sees both.
    let listed = |bot: &Bot| -> Vec<u64> {
        let (status, body) = crate::common::api_get(
            &format!("{url}/api/players"),
            &bot.api_token().expect("a token"),
        );
        assert_eq!(status, 200, "{body}");
        let players: Vec<tavern_shared::api::PlayerInfo> = serde_json::from_str(&body).unwrap();
        players.iter().map(|p| p.client_id).collect()
    };
    assert_eq!(listed(&bob), [b], "Bob's list leaves out the booth");
    let mut both = [a, b];
    both.sort_unstable();
    assert_eq!(listed(&alice), both);
    let (status, _) = crate::common::api_get(&format!("{url}/api/players"), "not-a-token");
    assert_eq!(status, 401, "the list needs a token");

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

/// The review's leak: an outsider standing right next to a private booth must learn
/// nothing of the people inside on any channel (avatars, proximity, chat), while the
/// people inside still see and hear each other, and hear the map.
#[test]
fn an_outsider_beside_a_private_booth_receives_nothing_of_those_inside() {
    use tavern_shared::chat::ChatChannel;
    use tavern_shared::movement::WALK_SPEED;
    let _turn = crate::common::serial();
    let server = tavern_server::start(room_config("booth-outsider")).expect("the server starts");
    let url = server.http_url();
    // Spawns at x = 80, 112, 144 in joining order; the booth spans x 384..512.
    let mut alice = join(&url, "Alice", &mut []);
    let mut dan = join(&url, "Dan", &mut [&mut alice]);
    let mut bob = join(&url, "Bob", &mut [&mut alice, &mut dan]);
    let (a, d, b) = (
        alice.client_id().unwrap(),
        dan.client_id().unwrap(),
        bob.client_id().unwrap(),
    );
    let per_tick = WALK_SPEED / 60.0;
    let ticks = |from: f32, to: f32| ((to - from) / per_tick).round() as u32;
    // Alice and Dan walk into the booth; Bob stops just outside its edge, within the
    // proximity radius (100 px) of both.
    for (bot, from, to) in [
        (&mut alice, 80.0, 440.0),
        (&mut dan, 112.0, 470.0),
        (&mut bob, 144.0, 364.0),
    ] {
        *bot.brain_mut() = Brain::Script(VecDeque::from([
            walk(Vec2::X, ticks(from, to)),
            (1, InputFrame::default()),
        ]));
    }
    let mut bob_saw_inside = false;
    let mut bob_heard_of_inside = false;
    let mut watch = |bots: &mut [&mut Bot]| {
        bob_saw_inside |= sees(bots[2], a) || sees(bots[2], d);
        bob_heard_of_inside |=
            bots[2].nearby().near.contains(&a) || bots[2].nearby().near.contains(&d);
    };
    assert!(
        pump_until(
            &mut [&mut alice, &mut dan, &mut bob],
            Duration::from_secs(10),
            |bots| {
                bots.iter_mut().all(|b| b.brain_mut().is_done())
                    && bots[0].own_zones().is_some_and(|z| z.contains(&0))
                    && bots[1].own_zones().is_some_and(|z| z.contains(&0))
            }
        ),
        "Alice and Dan stand in the booth: {:?} {:?}",
        alice.own_server_state(),
        dan.own_server_state()
    );
    pump_until(
        &mut [&mut alice, &mut dan, &mut bob],
        Duration::from_millis(500),
        |bots| {
            watch(bots);
            false
        },
    );
    let bob_x = bob.own_server_state().unwrap().motion.pos.x;
    let alice_x = alice.own_server_state().unwrap().motion.pos.x;
    assert!(
        bob_x < 384.0 && alice_x - bob_x < 100.0,
        "Bob stands beside the booth: {bob_x} vs {alice_x}"
    );
    assert_eq!(bob.own_zones(), Some(vec![]), "Bob is outside");
    // Those inside still see each other, near, and see Bob (inside looking out).
    assert!(alice.nearby().near.contains(&d) && dan.nearby().near.contains(&a));
    assert!(sees(&mut alice, b));

    // Inside, they talk: near, in the map's chat. Bob talks too.
    alice.say(ChatChannel::Proximity, "only for the booth");
    dan.say(ChatChannel::Map, "booth to the map");
    bob.say(ChatChannel::Proximity, "anyone there?");
    bob.say(ChatChannel::Map, "map from outside");
    pump_until(
        &mut [&mut alice, &mut dan, &mut bob],
        Duration::from_secs(3),
        |bots| {
            watch(bots);
            bots[0]
                .chat()
                .lines
                .iter()
                .any(|l| l.text == "map from outside")
                && bots[1]
                    .chat()
                    .lines
                    .iter()
                    .any(|l| l.text == "only for the booth")
        },
    );
    pump_until(
        &mut [&mut alice, &mut dan, &mut bob],
        Duration::from_millis(500),
        |bots| {
            watch(bots);
            false
        },
    );
    assert!(
        dan.chat()
            .lines
            .iter()
            .any(|l| l.text == "only for the booth"),
        "Dan hears Alice"
    );
    assert!(
        alice
            .chat()
            .lines
            .iter()
            .any(|l| l.text == "map from outside"),
        "the booth hears the map"
    );
    let bob_got: Vec<(&str, &str)> = bob
        .chat()
        .lines
        .iter()
        .map(|l| (l.from.as_str(), l.text.as_str()))
        .collect();
    assert!(
        bob_got.iter().all(|(from, _)| *from == "Bob"),
        "Bob receives no line from inside: {bob_got:?}"
    );
    assert!(
        bob.chat()
            .rejections
            .iter()
            .any(|r| r.reason == "nobody is near enough to hear you"),
        "and for Bob, nobody is near: {:?}",
        bob.chat().rejections
    );
    assert!(!bob_saw_inside, "Bob never received an avatar from inside");
    assert!(
        !bob_heard_of_inside,
        "Bob was never told someone inside is near"
    );

    // Over HTTP, Bob's conversations name nobody from inside.
    let token = bob.api_token().unwrap();
    let (status, body) = crate::common::api_get(&format!("{url}/api/chat/sessions"), &token);
    assert_eq!(status, 200);
    assert!(!body.contains("Alice") && !body.contains("Dan"), "{body}");
    server.stop();
}

/// Pumps Alice and Bob for `time`: whether Bob held player `id`'s avatar at any moment.
fn bob_ever_sees(alice: &mut Bot, bob: &mut Bot, id: u64, time: Duration) -> bool {
    let mut seen = false;
    pump_until(&mut [alice, bob], time, |bots| {
        seen |= sees(bots[1], id);
        false
    });
    seen
}

/// Interest management: with a 100 px view radius, a player does not receive an avatar
/// far away; walking towards it, it appears where the server has it, and walking
/// brings no correction.
#[test]
fn only_avatars_in_view_are_sent_and_appear_when_approached() {
    use tavern_shared::movement::WALK_SPEED;
    let _turn = crate::common::serial();
    let mut config = room_config("interest");
    config.view_radius = 100.0;
    // Alice spawns at x = 80, Bob at x = 112 (the booth, x 384..512, stays out of it).
    let (server, mut alice, mut bob) = alice_and_bob(config);
    let (a, b) = (alice.client_id().unwrap(), bob.client_id().unwrap());
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob],
            Duration::from_secs(5),
            |bots| { sees(bots[0], b) && sees(bots[1], a) }
        ),
        "side by side, both in view"
    );
    let per_tick = WALK_SPEED / 60.0;
    // Alice walks to x = 350; Bob walks left to the wall: 300 px apart, three radii.
    *alice.brain_mut() = Brain::Script(VecDeque::from([
        walk(Vec2::X, ((350.0 - 80.0) / per_tick) as u32),
        (1, InputFrame::default()),
    ]));
    *bob.brain_mut() = Brain::Script(VecDeque::from([
        walk(-Vec2::X, 30),
        (1, InputFrame::default()),
    ]));
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob],
            Duration::from_secs(10),
            |bots| {
                bots.iter_mut().all(|b| b.brain_mut().is_done())
                    && !sees(bots[1], a)
                    && !sees(bots[0], b)
            }
        ),
        "out of view, neither holds the other: {:?} {:?}",
        alice.own_server_state(),
        bob.own_server_state()
    );
    let leaked = bob_ever_sees(&mut alice, &mut bob, a, Duration::from_millis(500));
    assert!(!leaked, "an avatar out of view is never sent");
    // The server still knows both (proximity and chat work from its full state).
    assert_eq!(crate::common::server_players(&server).len(), 2);

    // Bob walks towards Alice, to about 60 px from her: she appears, where the server
    // has her.
    *bob.brain_mut() = Brain::Script(VecDeque::from([
        walk(Vec2::X, (240.0 / per_tick) as u32),
        (1, InputFrame::default()),
    ]));
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob],
            Duration::from_secs(10),
            |bots| { bots[1].brain_mut().is_done() && sees(bots[1], a) && sees(bots[0], b) }
        ),
        "in view again"
    );
    pump_for(&mut [&mut alice, &mut bob], Duration::from_millis(300));
    let truth = crate::common::server_player(&server, a);
    let (_, seen, _) = bob
        .others()
        .into_iter()
        .find(|(id, ..)| *id == a)
        .expect("Bob has Alice");
    assert_eq!(seen.motion.pos, Vec2::new(truth.x, truth.y));
    assert_eq!(bob.prediction().corrections, 0);
    assert_eq!(alice.prediction().corrections, 0);
    // Bob holds his own acknowledgement and zones, and neither of Alice's.
    let world = bob.app.world_mut();
    let mut owner_only = world.query::<(
        &tavern_shared::avatar::PlayerId,
        Option<&tavern_shared::avatar::InputAck>,
        Option<&tavern_shared::avatar::InZones>,
    )>();
    let held: Vec<(u64, bool, bool)> = owner_only
        .iter(world)
        .map(|(id, ack, zones)| (id.0, ack.is_some(), zones.is_some()))
        .collect();
    assert!(held.contains(&(b, true, true)), "{held:?}");
    assert!(held.contains(&(a, false, false)), "{held:?}");
    server.stop();
}
