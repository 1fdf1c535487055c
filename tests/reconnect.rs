//! Reconnection end to end: a player whose connection drops keeps its avatar (same
//! server entity, same place, shown as reconnecting and seen by the others meanwhile)
//! and takes it back by logging in again with its session, whether the server noticed
//! the drop (a goodbye) or not (the newer connection wins over the silent one); after
//! the grace, an avatar nobody came back for leaves.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::prelude::*;
use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;
use tavern_shared::api::PlayerStatus;
use tavern_shared::chat::ChatChannel;

use crate::common::{pump_until, sees, server_player, server_players, temp_dir, two_players, walk};

/// `bot` says `text` and gets its own line back: the server stored and delivered it.
fn say_and_hear_back(bot: &mut Bot, channel: ChatChannel, text: &str) {
    bot.say(channel, text);
    assert!(
        pump_until(&mut [bot], Duration::from_secs(5), |b| b[0]
            .chat()
            .lines
            .iter()
            .any(|l| l.text == text)),
        "{text}"
    );
}

#[test]
fn a_dropped_player_comes_back_to_its_avatar_and_one_who_does_not_leaves() {
    let _turn = crate::common::serial();
    let mut config = ServerConfig::local(temp_dir("reconnect"));
    config.reconnect_grace = Duration::from_secs(3);
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let (mut ada, mut bo) = two_players(&url, "Ada", "Bo");
    // Ada walks off her spawn point, so coming back to a spawn would show. Not far:
    // either of the two may have joined first and taken the spawn point 32 px to the
    // left of the other's, and she must stay within Bo's proximity radius (100 px).
    *ada.brain_mut() = Brain::Script(VecDeque::from([walk(Vec2::new(1.0, 0.3), 20)]));
    pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |_| false);
    let first = ada.client_id().unwrap();
    let avatar = server.avatar_of(first).expect("Ada has an avatar");
    let at = server_player(&server, first);

    for (how, polite) in [("with a goodbye", true), ("silently", false)] {
        let before = ada.client_id().unwrap();
        let ups = ada.events().catch_ups;
        if polite {
            ada.disconnect(false);
            ada.update(); // the goodbye goes out
        } else {
            ada.drop_connection();
        }
        if polite {
            // The server knows at once: the avatar waits, shown as reconnecting, and
            // Bo still sees it where it stood.
            assert!(
                pump_until(&mut [&mut bo], Duration::from_secs(5), |_| {
                    server_players(&server)
                        .iter()
                        .any(|p| p.client_id == before && p.status == PlayerStatus::Reconnecting)
                }),
                "{:?}",
                server_players(&server)
            );
            assert!(sees(&mut bo, before));
            // Bo's player list says so.
            assert!(
                pump_until(&mut [&mut bo], Duration::from_secs(5), |b| {
                    b[0].roster()
                        .players
                        .iter()
                        .any(|p| p.client_id == before && p.status == PlayerStatus::Reconnecting)
                }),
                "{:?}",
                bo.roster()
            );
            // Bo says something on the map while she is away, and whispers to her.
            say_and_hear_back(&mut bo, ChatChannel::Map, "the door is open");
            // Her avatar still stands near Bo: what he says near it reaches her too.
            // (Bo's list of who is near him follows the server's proximity ticks.)
            assert!(
                pump_until(&mut [&mut bo], Duration::from_secs(5), |b| {
                    b[0].nearby().near.contains(&before)
                }),
                "{:?}",
                bo.nearby()
            );
            say_and_hear_back(&mut bo, ChatChannel::Proximity, "over here");
            say_and_hear_back(&mut bo, ChatChannel::Whisper("Ada".into()), "psst");
        }
        assert!(
            pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(15), |b| {
                b[0].client_id().is_some_and(|id| id != before) && b[0].own_server_state().is_some()
            }),
            "Ada reconnects ({how}): {:?}",
            ada.status()
        );
        let now = ada.client_id().unwrap();
        // What she missed comes back: exactly the line said while she was away (and
        // the others' news), with nothing missing from her event chain.
        assert!(
            pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| b[0]
                .events()
                .catch_ups
                > ups),
            "a catch-up ({how})"
        );
        let catch_up = ada.events().catch_up.clone().unwrap();
        assert!(catch_up.complete, "{catch_up:?}");
        let missed_lines: Vec<&str> = catch_up
            .events
            .iter()
            .filter_map(|e| e.line.as_ref())
            .map(|l| l.text.as_str())
            .collect();
        if polite {
            assert_eq!(
                missed_lines,
                ["the door is open", "over here", "psst"],
                "{catch_up:?}"
            );
            assert!(
                catch_up.summary.starts_with("While you were away (")
                    && catch_up.summary.contains("3 chat lines"),
                "{}",
                catch_up.summary
            );
            assert!(
                ada.chat()
                    .lines
                    .iter()
                    .any(|l| l.text == "the door is open")
            );
        } else {
            assert!(missed_lines.is_empty(), "{catch_up:?}");
        }
        assert_eq!(ada.events().missed, 0, "{:?}", ada.events());
        // Back, she is told again who stands near her.
        let bo_id = bo.client_id().unwrap();
        assert!(
            pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| b[0]
                .nearby()
                .near
                .contains(&bo_id)),
            "{:?}",
            ada.nearby()
        );
        assert_eq!(
            server.avatar_of(now),
            Some(avatar),
            "the same avatar comes back ({how})"
        );
        let back = server_player(&server, now);
        assert_eq!(
            (back.x, back.y, back.status),
            (at.x, at.y, PlayerStatus::Online)
        );
        assert_eq!(
            ada.own_server_state().unwrap().motion.pos,
            Vec2::new(at.x, at.y),
            "the client predicts from where it stood"
        );
        assert!(
            pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| sees(
                b[1], now
            )
                && !sees(b[1], before)),
            "Bo sees Ada under her new connection ({how})"
        );
        assert_eq!(server_players(&server).len(), 2, "one avatar each");
        assert!(
            pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
                let list = &b[1].roster().players;
                list.len() == 2
                    && list
                        .iter()
                        .any(|p| p.client_id == now && p.status == PlayerStatus::Online)
            }),
            "{:?}",
            bo.roster()
        );
    }
    // She walks on from there: inputs of the new connection move the avatar.
    *ada.brain_mut() = Brain::Script(VecDeque::from([walk(Vec2::X, 20)]));
    let here = ada.client_id().unwrap();
    assert!(pump_until(
        &mut [&mut ada, &mut bo],
        Duration::from_secs(5),
        |_| { server_player(&server, here).x > at.x + 20.0 }
    ));
    assert_eq!(
        ada.prediction().corrections,
        0,
        "no correction after coming back"
    );

    // Gone for good: after the grace the avatar leaves, and Bo is told by its going.
    ada.disconnect(true);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(10), |b| {
            !sees(b[1], here) && server.avatar_of(here).is_none()
        }),
        "Ada's avatar leaves after the grace"
    );
    assert_eq!(server_players(&server).len(), 1);
    assert!(
        pump_until(&mut [&mut bo], Duration::from_secs(5), |b| b[0]
            .roster()
            .players
            .len()
            == 1),
        "the list drops her: {:?}",
        bo.roster()
    );
    assert_eq!(bo.roster().room, "town");
}

#[test]
fn a_second_login_of_a_connected_player_takes_its_avatar_and_the_first_is_told_why() {
    let _turn = crate::common::serial();
    let server = crate::common::start_server("reconnect-twice", None);
    let url = server.http_url();
    let mut first = Bot::new(&url, "Ada", Brain::Idle);
    assert!(pump_until(
        &mut [&mut first],
        Duration::from_secs(15),
        |b| b[0].own_server_state().is_some()
    ));
    let avatar = server.avatar_of(first.client_id().unwrap()).unwrap();
    // The same guest session on another client, while the first is still connected.
    let mut second = Bot::with_session(&url, "Ada", Brain::Idle, first.session());
    assert!(
        pump_until(
            &mut [&mut first, &mut second],
            Duration::from_secs(15),
            |b| {
                b[1].own_server_state().is_some()
                    && matches!(
                        b[0].status(),
                        tavern_client::connection::ConnectionStatus::Failed(_)
                    )
            }
        ),
        "the newer wins: {:?} / {:?}",
        first.status(),
        second.status()
    );
    let told = first
        .chat()
        .lines
        .iter()
        .any(|l| l.text == tavern_shared::protocol::REPLACED_NOTICE);
    assert!(told, "the first is told why: {:?}", first.chat().lines);
    assert_eq!(server.avatar_of(second.client_id().unwrap()), Some(avatar));
    // The first does not come back to take it again.
    pump_until(
        &mut [&mut first, &mut second],
        Duration::from_secs(3),
        |_| false,
    );
    assert!(second.is_connected());
    assert_eq!(server_players(&server).len(), 1);
}

#[test]
fn what_a_player_holds_comes_back_with_its_avatar() {
    let _turn = crate::common::serial();
    let dir = temp_dir("reconnect-inventory");
    let (map, content) = crate::common::weak_slime_room(&dir);
    let mut config = ServerConfig::local(dir.join("data"));
    config.maps = vec![map];
    config.content_dir = content;
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let mut ada = Bot::new(&url, "Ada", Brain::Idle);
    let (_, answer) = crate::common::pick_up_dropped_loot(&mut ada);
    assert_eq!(answer.refused, None, "{answer:?}");
    let held = ada.inventory().clone();
    assert!(
        held.gold > 0 || !held.items.is_empty(),
        "Ada holds something: {held:?}"
    );
    let before = ada.client_id().unwrap();
    let avatar = server.avatar_of(before).unwrap();
    ada.drop_connection();
    // Forget what the client knew, so only the server's word can fill the bag again.
    ada.app
        .world_mut()
        .resource_mut::<tavern_client::combat::Inventory>()
        .0 = Default::default();
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(15), |b| {
            b[0].client_id().is_some_and(|id| id != before) && b[0].arrivals().resumed > 0
        }),
        "Ada comes back: {:?}",
        ada.status()
    );
    assert_eq!(server.avatar_of(ada.client_id().unwrap()), Some(avatar));
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
            let now = b[0].inventory();
            now.gold == held.gold && now.items == held.items
        }),
        "the same things in her bag: {:?} then {:?}",
        held,
        ada.inventory()
    );
}
