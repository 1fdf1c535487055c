//! The voice relay end to end over loopback UDP: a speaker's frames reach the player
//! near it and not the one far away; frames from a player whose microphone is off,
//! oversize frames and floods are dropped and counted without disconnecting anyone; a
//! listener who mutes the speaker, or deafens, hears nothing more; the hearing radius
//! is the server's (or the map's), not the proximity radius; and real speech
//! (`espeak-ng`), encoded with Opus, relayed and decoded, comes out as it went in.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::prelude::*;
use tavern_client::bot::{Bot, Brain};

use crate::common::{metric_sum, pump_for, pump_until, scrape, start_server, walk};

fn from(bot: &Bot, speaker: u32) -> u64 {
    bot.voices().received.get(&speaker).copied().unwrap_or(0)
}

/// A server with Ada and Bo side by side at the town's spawn points and Cy walked far
/// down the street: Bo is near Ada, Cy is not.
fn near_and_far(name: &str) -> (tavern_server::RunningServer, [Bot; 3]) {
    let server = start_server(name, None);
    let url = server.http_url();
    let mut ada = Bot::new(&url, "Ada", Brain::Idle);
    let mut bo = Bot::new(&url, "Bo", Brain::Idle);
    let mut cy = Bot::new(&url, "Cy", Brain::Idle);
    assert!(pump_until(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_secs(15),
        |b| b.iter_mut().all(|b| b.own_server_state().is_some())
    ));
    *cy.brain_mut() = Brain::Script(VecDeque::from([walk(Vec2::NEG_X, 120)]));
    let a = ada.client_id().unwrap();
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
    (server, [ada, bo, cy])
}

#[test]
fn voice_reaches_who_is_near_and_floods_are_dropped() {
    let _turn = crate::common::serial();
    let (server, [mut ada, mut bo, mut cy]) = near_and_far("voice");
    let url = server.http_url();
    let (a, b) = (ada.client_id().unwrap(), bo.client_id().unwrap());
    // Voice names speakers by their avatars' stream ids.
    let (va, vb) = (ada.own_stream_id().unwrap(), bo.own_stream_id().unwrap());
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(300),
    );

    // Without turning her microphone on, Ada is not relayed.
    for i in 0..5u8 {
        ada.speak(vec![i; 60]);
        pump_for(&mut [&mut ada, &mut bo, &mut cy], Duration::from_millis(16));
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(300),
    );
    assert_eq!(bo.voices().total(), 0, "Ada's microphone is off");
    ada.voice_status(true, false);
    bo.voice_status(true, false);
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(100),
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
    assert!(from(&bo, va) >= 20, "Bo heard {} of 25", from(&bo, va));
    assert_eq!(cy.voices().total(), 0, "Cy is out of range");
    assert_eq!(ada.voices().total(), 0, "nobody hears themselves");
    let last = bo.voices().frames.back().unwrap();
    assert_eq!((last.speaker, last.opus.len()), (va, 60));

    // An oversize frame and a flood are dropped and counted; nobody is disconnected.
    let heard = from(&bo, va);
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
    let flood = from(&bo, va) - heard;
    // A full allowance of 60, and what refills while the burst arrives.
    assert!(
        (50..=70).contains(&flood),
        "about 60 frames of a burst are relayed, not {flood}"
    );
    let metrics = scrape(&url);
    let dropped =
        |why: &str| metric_sum(&metrics, "tavern_voice_frames_total", &[("outcome", why)]);
    assert_eq!(dropped("oversize"), 1.0);
    assert_eq!(dropped("no_microphone"), 5.0);
    assert!(dropped("flood") >= 80.0, "{}", dropped("flood"));
    assert!(dropped("relayed") >= 20.0);
    let bytes = |why: &str| metric_sum(&metrics, "tavern_voice_bytes_total", &[("outcome", why)]);
    assert!(bytes("relayed") >= 20.0 * 40.0);
    assert_eq!(bytes("oversize"), 500.0);
    assert_eq!(ada.client_id(), Some(a), "Ada is still connected");

    // Bo mutes Ada: nothing more of hers reaches him.
    bo.mute_voice(va, true);
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(1100),
    );
    let heard = from(&bo, va);
    for i in 0..10u8 {
        ada.speak(vec![i; 30]);
        pump_for(&mut [&mut ada, &mut bo, &mut cy], Duration::from_millis(16));
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(500),
    );
    assert_eq!(from(&bo, va), heard, "muted");
    assert_eq!(bo.client_id(), Some(b));

    // A first burst meets the limit too: Bo has never spoken, and floods at once.
    for _ in 0..150 {
        bo.speak(vec![2; 40]);
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(600),
    );
    let burst = from(&ada, vb);
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
    let (b, c) = (bob.client_id().unwrap(), cy.client_id().unwrap());
    let (va, vb, vc) = (
        alice.own_stream_id().unwrap(),
        bob.own_stream_id().unwrap(),
        cy.own_stream_id().unwrap(),
    );
    for bot in [&mut alice, &mut bob, &mut cy] {
        bot.voice_status(true, false);
    }
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
    assert!(from(&alice, vb) >= 8, "Alice, beside Bob, hears him");
    assert_eq!(from(&cy, vb), 0, "Cy, in the silent corner, does not");
    speak(&mut cy, &mut [&mut alice, &mut bob]);
    assert_eq!(from(&bob, vc), 0, "nor is Cy heard outside it");

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
    let (heard_a, heard_c) = (from(&bob, va), from(&cy, va));
    speak(&mut alice, &mut [&mut bob, &mut cy]);
    assert!(from(&bob, va) >= heard_a + 8, "the meeting hears Alice");
    assert_eq!(from(&cy, va), heard_c, "Cy is not in the meeting");
}

/// With `--hearing-radius 200`, a voice carries past the 100 px proximity radius, and
/// no farther than 200 px; a deafened player hears nobody.
#[test]
fn the_hearing_radius_is_the_servers_and_the_deafened_hear_nothing() {
    use crate::common::{join, temp_dir, walk_near, write_room};
    let _turn = crate::common::serial();
    let dir = temp_dir("voice-hearing");
    // Spawns at (80, 112), (112, 112), (144, 112).
    let map = write_room(&dir.join("maps"), "hall.tmj", serde_json::json!([]));
    let mut config = tavern_server::ServerConfig::local(dir.join("data"));
    config.maps = vec![map];
    config.hearing_radius = Some(200.0);
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let mut alice = join(&url, "Alice", &mut []);
    let mut bob = join(&url, "Bob", &mut [&mut alice]);
    let (a, va) = (alice.client_id().unwrap(), alice.own_stream_id().unwrap());
    alice.voice_status(true, false);
    assert_eq!(bob.voices().hearing_radius, 200.0, "as the server said");
    let speak_and_listen = |alice: &mut Bot, bob: &mut Bot| {
        let before = from(bob, va);
        for i in 0..10u8 {
            alice.speak(vec![i; 50]);
            pump_for(&mut [&mut *alice, &mut *bob], Duration::from_millis(16));
        }
        pump_for(&mut [&mut *alice, &mut *bob], Duration::from_millis(400));
        from(bob, va) - before
    };
    let go = |to: f32, alice: &mut Bot, bob: &mut Bot| {
        let at = bob.own_server_state().unwrap().motion.pos;
        *bob.brain_mut() = Brain::Script(walk_near(at, Vec2::new(to, at.y), 0.0));
        pump_for(&mut [&mut *alice, &mut *bob], Duration::from_millis(1500));
        bob.own_server_state().unwrap().motion.pos.x
    };
    // 170 px from Alice: not near (no proximity chat), but within hearing.
    let x = go(250.0, &mut alice, &mut bob);
    let apart = x - alice.own_server_state().unwrap().motion.pos.x;
    assert!((140.0..=195.0).contains(&apart), "{apart} px apart");
    assert!(!bob.nearby().near.contains(&a));
    assert!(
        speak_and_listen(&mut alice, &mut bob) >= 8,
        "heard at {apart} px"
    );
    // Deafened: nothing.
    bob.voice_status(false, true);
    pump_for(&mut [&mut alice, &mut bob], Duration::from_millis(100));
    assert_eq!(speak_and_listen(&mut alice, &mut bob), 0, "deafened");
    bob.voice_status(false, false);
    // 240 px away: beyond hearing.
    let x = go(320.0, &mut alice, &mut bob);
    let apart = x - alice.own_server_state().unwrap().motion.pos.x;
    assert!(apart > 205.0, "{apart} px apart");
    assert_eq!(
        speak_and_listen(&mut alice, &mut bob),
        0,
        "out of hearing at {apart} px"
    );
}

/// Speech from `espeak-ng`, encoded with Opus frame by frame as a microphone gives it,
/// relayed by a real server over UDP and decoded through a jitter buffer on the near
/// player, matches what was said (normalised cross-correlation at least 0.8 after
/// aligning); the far player gets none of it.
#[test]
fn spoken_words_reach_the_near_player_intact_and_nobody_far() {
    use tavern_client::voice::codec::{VoiceDecoder, VoiceEncoder};
    use tavern_client::voice::jitter::{JitterBuffer, Next};
    use tavern_client::voice::speech::espeak;
    use tavern_client::voice::{FRAME_SAMPLES, SAMPLE_RATE};
    let speech = match espeak("Welcome to the tavern, traveller. Mind the dragon.") {
        Ok(s) => s,
        Err(e) => return crate::common::unavailable("the spoken voice test", &format!("{e:#}")),
    };
    let _turn = crate::common::serial();
    let (_server, [mut ada, mut bo, mut cy]) = near_and_far("voice-speech");
    let va = ada.own_stream_id().unwrap();
    ada.voice_status(true, false);
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(200),
    );

    // A frame every 20 ms, as the microphone fills them; silent ones left out.
    let mut source = speech;
    source.resize(source.len().div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES, 0.0);
    let mut encoder = VoiceEncoder::new().unwrap();
    let start = std::time::Instant::now();
    let mut sent = 0;
    for (i, frame) in source.chunks(FRAME_SAMPLES).enumerate() {
        let opus = encoder.encode(frame).unwrap();
        sent += usize::from(opus.is_some());
        ada.speak(opus);
        let due = Duration::from_millis(20 * (i as u64 + 1));
        while start.elapsed() < due {
            for bot in [&mut ada, &mut bo, &mut cy] {
                bot.update();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(500),
    );
    assert_eq!(cy.voices().total(), 0, "Cy, far away, hears nothing");
    let frames: Vec<_> = bo
        .voices()
        .frames
        .iter()
        .filter(|f| f.speaker == va)
        .collect();
    assert!(
        frames.len() * 10 >= sent * 9,
        "Bo got {} of {sent} frames over loopback",
        frames.len()
    );

    // Bo's playback: a jitter buffer fed as the frames arrived, one pop every 20 ms.
    let mut buffer = JitterBuffer::default();
    let mut decoder = VoiceDecoder::new().unwrap();
    let t0 = frames[0].at;
    let mut heard = Vec::new();
    let (mut next, mut tick) = (0, 0u64);
    while next < frames.len() || buffer.playing() || !buffer.is_empty() {
        let now = Duration::from_millis(20 * tick);
        while next < frames.len() && frames[next].at - t0 <= now {
            let f = frames[next];
            buffer.push(f.seq, (f.at - t0).as_secs_f64() * 1000.0, f.opus.clone());
            next += 1;
        }
        match buffer.pop() {
            Next::Frame(opus) => heard.extend(decoder.decode(Some(&opus))),
            Next::Lost => heard.extend(decoder.decode(None)),
            Next::Silent if heard.is_empty() => {}
            Next::Silent => heard.extend(std::iter::repeat_n(0.0, FRAME_SAMPLES)),
        }
        tick += 1;
        assert!(tick < 100_000, "playback ends");
    }
    // Compare at 8 kHz (speech lives below 4 kHz), aligning within half a second.
    let down = |s: &[f32]| -> Vec<f32> {
        s.chunks(6)
            .map(|c| c.iter().sum::<f32>() / c.len() as f32)
            .collect()
    };
    let (said, got) = (down(&source), down(&heard));
    let max_lag = (SAMPLE_RATE / 6 / 2) as usize;
    let (best, lag) = best_correlation(&said, &got, max_lag);
    eprintln!(
        "speech: {} frames sent, {} received, {:.2} s heard; correlation {best:.3} at a lag of {:.1} ms",
        sent,
        frames.len(),
        heard.len() as f64 / f64::from(SAMPLE_RATE),
        lag as f64 / 8.0
    );
    assert!(
        best >= 0.8,
        "the decoded speech matches the source: {best:.3}"
    );
}

/// The highest normalised cross-correlation of `b` delayed by 0 to `max_lag` samples
/// against `a`, and that lag.
fn best_correlation(a: &[f32], b: &[f32], max_lag: usize) -> (f64, usize) {
    (0..=max_lag.min(b.len()))
        .map(|lag| {
            let pairs = a.iter().zip(&b[lag..]);
            let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
            for (x, y) in pairs {
                let (x, y) = (f64::from(*x), f64::from(*y));
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            (ab / (aa * bb).sqrt().max(1e-12), lag)
        })
        .fold((f64::MIN, 0), |best, c| if c.0 > best.0 { c } else { best })
}
