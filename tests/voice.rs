//! The voice relay end to end over loopback UDP: a speaker's frames reach the player
//! near it and not the one far away; oversize frames and floods are dropped and
//! counted without disconnecting anyone; a listener who mutes the speaker hears
//! nothing more.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::prelude::*;
use tavern_client::bot::{Bot, Brain};

use crate::common::{metric_sum, pump_for, pump_until, scrape, start_server, walk};

fn from(bot: &Bot, speaker: u64) -> u64 {
    bot.voices().received.get(&speaker).copied().unwrap_or(0)
}

#[test]
fn voice_reaches_who_is_near_and_floods_are_dropped() {
    let _turn = crate::common::serial();
    let server = start_server("voice", None);
    let url = server.http_url();
    let mut ada = Bot::new(&url, "Ada", Brain::Idle);
    let mut bo = Bot::new(&url, "Bo", Brain::Idle);
    let mut cy = Bot::new(&url, "Cy", Brain::Idle);
    assert!(pump_until(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_secs(15),
        |b| b.iter_mut().all(|b| b.own_server_state().is_some())
    ));
    // Cy walks far down the street; Ada and Bo stay at the spawn points.
    *cy.brain_mut() = Brain::Script(VecDeque::from([walk(Vec2::NEG_X, 120)]));
    let (a, b) = (ada.client_id().unwrap(), bo.client_id().unwrap());
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(10),
            |bots| { bots[1].nearby().near.contains(&a) && !bots[2].nearby().near.contains(&a) }
        ),
        "Bo is near Ada, Cy is not: {:?} {:?}",
        bo.nearby(),
        cy.nearby()
    );
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(300),
    );

    // Ada speaks a second's worth of frames, one per frame as a microphone would.
    for i in 0..25u8 {
        ada.speak(vec![i; 60]);
        pump_for(&mut [&mut ada, &mut bo, &mut cy], Duration::from_millis(16));
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(500),
    );
    assert!(from(&bo, a) >= 20, "Bo heard {} of 25", from(&bo, a));
    assert_eq!(cy.voices().total(), 0, "Cy is out of range");
    assert_eq!(ada.voices().total(), 0, "nobody hears themselves");
    let last = bo.voices().frames.back().unwrap();
    assert_eq!((last.speaker, last.opus.len()), (a, 60));

    // An oversize frame and a flood are dropped and counted; nobody is disconnected.
    let heard = from(&bo, a);
    ada.speak(vec![0; 500]);
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(1100),
    );
    for _ in 0..150 {
        ada.speak(vec![1; 40]);
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(600),
    );
    let flood = from(&bo, a) - heard;
    // A full allowance of 60, and what refills while the burst arrives.
    assert!(
        (50..=70).contains(&flood),
        "about 60 frames of a burst are relayed, not {flood}"
    );
    let metrics = scrape(&url);
    let dropped =
        |why: &str| metric_sum(&metrics, "tavern_voice_frames_total", &[("outcome", why)]);
    assert_eq!(dropped("oversize"), 1.0);
    assert!(dropped("flood") >= 80.0, "{}", dropped("flood"));
    assert!(dropped("relayed") >= 20.0);
    assert!(metric_sum(&metrics, "tavern_voice_bytes_total", &[]) >= 20.0 * 40.0);
    assert_eq!(ada.client_id(), Some(a), "Ada is still connected");

    // Bo mutes Ada: nothing more of hers reaches him.
    bo.mute_voice(a, true);
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(1100),
    );
    let heard = from(&bo, a);
    for i in 0..10u8 {
        ada.speak(vec![i; 30]);
        pump_for(&mut [&mut ada, &mut bo, &mut cy], Duration::from_millis(16));
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(500),
    );
    assert_eq!(from(&bo, a), heard, "muted");
    assert_eq!(bo.client_id(), Some(b));

    // A first burst meets the limit too: Bo has never spoken, and floods at once.
    for _ in 0..150 {
        bo.speak(vec![2; 40]);
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(600),
    );
    let burst = from(&ada, b);
    assert!(
        (50..=70).contains(&burst),
        "about 60 frames of a first burst are relayed, not {burst}"
    );
}

/// A voice does not cross a silent zone's edge, and a meeting hears its own members
/// wherever they stand in it, and nobody outside it.
#[test]
fn silent_zones_and_meetings_bound_who_hears() {
    use crate::common::{join, temp_dir, walk_near, write_room};
    use serde_json::json;
    let _turn = crate::common::serial();
    let dir = temp_dir("voice-zones");
    // Spawns at (80, 112), (112, 112), (144, 112); a silent corner from x 160 to 288;
    // a meeting from x 384 to 608.
    let map = write_room(
        &dir.join("maps"),
        "hall.tmj",
        json!([
            {"id": 1, "name": "quiet", "type": "area", "x": 160, "y": 32, "width": 128, "height": 192,
             "properties": [{"name": "silent", "type": "bool", "value": true}]},
            {"id": 2, "name": "huddle", "type": "area", "x": 384, "y": 32, "width": 224, "height": 192,
             "properties": [{"name": "jitsiRoom", "type": "string", "value": "Huddle"}]}
        ]),
    );
    let mut config = tavern_server::ServerConfig::local(dir.join("data"));
    config.maps = vec![map];
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let mut alice = join(&url, "Alice", &mut []);
    let mut bob = join(&url, "Bob", &mut [&mut alice]);
    let mut cy = join(&url, "Cy", &mut [&mut alice, &mut bob]);
    let (a, b, c) = (
        alice.client_id().unwrap(),
        bob.client_id().unwrap(),
        cy.client_id().unwrap(),
    );
    let speak = |speaker: &mut Bot, others: &mut [&mut Bot]| {
        for i in 0..10u8 {
            speaker.speak(vec![i; 50]);
            speaker.update();
            pump_for(others, Duration::from_millis(16));
        }
        let mut all: Vec<&mut Bot> = others.iter_mut().map(|b| &mut **b).collect();
        all.push(speaker);
        pump_for(&mut all, Duration::from_millis(400));
    };

    // Cy steps into the silent corner, a tile from Bob: near, but not heard either way.
    *cy.brain_mut() = Brain::Script(walk_near(
        Vec2::new(144.0, 112.0),
        Vec2::new(200.0, 112.0),
        0.0,
    ));
    assert!(pump_until(
        &mut [&mut alice, &mut bob, &mut cy],
        Duration::from_secs(5),
        |bots| bots[2].own_zones().is_some_and(|z| z == vec![0])
            && bots[1].nearby().near.contains(&c)
    ));
    speak(&mut bob, &mut [&mut alice, &mut cy]);
    assert!(from(&alice, b) >= 8, "Alice, beside Bob, hears him");
    assert_eq!(from(&cy, b), 0, "Cy, in the silent corner, does not");
    speak(&mut cy, &mut [&mut alice, &mut bob]);
    assert_eq!(from(&bob, c), 0, "nor is Cy heard outside it");

    // Alice and Bob walk into the meeting, 160 px apart (beyond the 100 px proximity
    // radius): the meeting hears them both; Cy outside it hears neither.
    *alice.brain_mut() = Brain::Script(walk_near(
        Vec2::new(80.0, 112.0),
        Vec2::new(400.0, 112.0),
        0.0,
    ));
    *bob.brain_mut() = Brain::Script(walk_near(
        Vec2::new(112.0, 112.0),
        Vec2::new(560.0, 112.0),
        0.0,
    ));
    assert!(
        pump_until(
            &mut [&mut alice, &mut bob, &mut cy],
            Duration::from_secs(8),
            |bots| {
                bots[0].own_zones().is_some_and(|z| z == vec![1])
                    && bots[1].own_zones().is_some_and(|z| z == vec![1])
                    && !bots[0].nearby().near.contains(&b)
            }
        ),
        "both in the meeting, apart: {:?} {:?}",
        alice.own_server_state(),
        bob.own_server_state()
    );
    let (heard_a, heard_c) = (from(&bob, a), from(&cy, a));
    speak(&mut alice, &mut [&mut bob, &mut cy]);
    assert!(from(&bob, a) >= heard_a + 8, "the meeting hears Alice");
    assert_eq!(from(&cy, a), heard_c, "Cy is not in the meeting");
}
