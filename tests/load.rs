//! The load driver against a real server: light bots connect, walk with real inputs and
//! receive the avatars around them; a predicting sample counts no corrections; the
//! report carries the server's own figures from `/metrics`.

use std::time::Duration;

use crate::common::{metric_sum, scrape, server_players, start_server, temp_dir};
use tavern_client::load::{BotOptions, run_bots};
use tavern_server::ServerConfig;

#[test]
fn light_bots_walk_see_each_other_and_the_report_has_the_server_figures() {
    let _turn = crate::common::serial();
    let server = start_server("load", None);
    let before = server_players(&server);
    assert!(before.is_empty());
    let report = run_bots(&BotOptions {
        server: server.http_url(),
        count: 6,
        duration: Duration::from_secs(3),
        seed: 7,
        light: true,
        predict_sample: 2,
        ..Default::default()
    });
    eprintln!("{report:?}");
    assert_eq!(
        (report.connected, report.failed),
        (6, 0),
        "{:?}",
        report.failures
    );
    assert_eq!((report.light_bots, report.predicting_bots), (4, 2));
    // The town is small: everyone is within the view radius of everyone.
    assert_eq!(report.min_seen_avatars, 5, "{report:?}");
    assert_eq!(report.corrections_total, 0);
    // Light bots send real inputs: about one per 60 Hz tick each, applied by the server.
    assert!(report.up_bytes_per_s_per_bot > 100.0, "{report:?}");
    assert!(report.down_bytes_per_s_per_bot > 100.0, "{report:?}");
    let p50 = report.server_tick_p50_ms.expect("tick p50 from /metrics");
    let p99 = report.server_tick_p99_ms.expect("tick p99 from /metrics");
    assert!(p50 > 0.0 && p99 >= p50, "{p50} {p99}");
    assert!(report.server_cpu_s_per_player_min.is_some());
    assert!(report.server_rss_bytes.unwrap_or(0.0) > 1e6);
    // The server applied the light bots' inputs like anyone's: six players for three
    // seconds at 60 a second, less the first moments.
    let applied = metric_sum(
        &scrape(&server.http_url()),
        "tavern_inputs_total",
        &[("outcome", "applied")],
    );
    assert!(applied > 6.0 * 60.0 * 2.0, "{applied} inputs applied");
    server.stop();
}

/// Light bots speak replicon's wire format without replicon: what a replicon server
/// sends decodes to the same messages, and what a light bot sends reaches a replicon
/// server as the same messages (its protocol hash lets it in).
#[test]
fn light_bots_read_and_write_exactly_what_replicon_does() {
    use bevy::prelude::*;
    use bevy::state::app::StatesPlugin;
    use bevy_replicon::prelude::*;
    use tavern_client::light::{Incoming, LightProtocol};
    use tavern_shared::avatar::AvatarState;
    use tavern_shared::input::{InputBatch, InputFrame, Stick};
    use tavern_shared::map::MapData;
    use tavern_shared::movement::MoveState;
    use tavern_shared::protocol::EnterMap;
    use tavern_shared::stream::{
        Actor, AvatarIntro, AvatarRoster, AvatarStates, OwnState, StatesAck,
    };

    let mut server = App::new();
    server
        .add_plugins((
            MinimalPlugins,
            StatesPlugin,
            RepliconPlugins.set(ServerPlugin::new(PostUpdate)),
        ))
        .add_plugins(tavern_shared::protocol_plugin);
    server.finish();
    server
        .world_mut()
        .resource_mut::<NextState<ServerState>>()
        .set(ServerState::Running);
    server.update();
    let client = server
        .world_mut()
        .spawn(ConnectedClient { max_size: 1200 })
        .id();
    server.update();
    let protocol = LightProtocol::new();

    // Bot to server: the hello first, then inputs and an acknowledgement.
    let batch = InputBatch {
        first_seq: 41,
        frames: vec![InputFrame {
            stick: Stick::from_vec(Vec2::X),
            ..default()
        }],
    };
    let ack = StatesAck {
        newest: 5,
        earlier: 0b101,
    };
    use tavern_shared::voice::{VoiceFrame, VoiceStatus};
    let status = VoiceStatus {
        microphone: true,
        deafened: false,
    };
    let frame = VoiceFrame {
        seq: 300,
        opus: vec![1, 2, 3],
    };
    for (channel, bytes) in [
        protocol.hello(),
        protocol.input(&batch),
        protocol.ack(&ack),
        protocol.voice_status(&status),
        protocol.voice_frame(&frame),
    ] {
        server
            .world_mut()
            .resource_mut::<ServerMessages>()
            .insert_received(client, channel, bytes);
    }
    server.update();
    assert!(
        server.world().get::<AuthorizedClient>(client).is_some(),
        "the protocol hash let it in"
    );
    let inputs: Vec<InputBatch> = received(&server);
    assert_eq!(inputs, vec![batch]);
    let acks: Vec<StatesAck> = received(&server);
    assert_eq!(acks, vec![ack]);
    let statuses: Vec<VoiceStatus> = received(&server);
    assert_eq!(statuses, vec![status]);
    let frames: Vec<VoiceFrame> = received(&server);
    assert_eq!(frames, vec![frame]);

    // Server to bot (replication-bound messages go to authorized players only).
    let state = AvatarState {
        motion: MoveState::at(Vec2::new(100.25, -3.5)),
        health: 200,
    };
    let roster = AvatarRoster {
        seq: 4,
        entered: vec![AvatarIntro {
            id: 9,
            actor: Actor::Player(12345),
            name: "Zoë".into(),
            state,
            look: 2,
        }],
        left: vec![2, 300],
    };
    let states = AvatarStates {
        seq: 5,
        own: Some(OwnState {
            state,
            last_input: 77,
            vitals: Default::default(),
            warps: 0,
            held: false,
        }),
        others: vec![(9, state)],
    };
    let enter = EnterMap {
        map: MapData::from_ascii("t", 32, &["####", "#S.#", "####"]),
        arrival: Some(Vec2::new(48.0, 48.0)),
        send_hz: 20,
        resumed: true,
        hearing_radius: 100.0,
    };
    let voice = tavern_shared::voice::VoiceRelay {
        speaker: 1 << 30,
        seq: 65535,
        opus: vec![7; 61],
    };
    use tavern_server::net::to_client;
    let world = server.world_mut();
    world.write_message(to_client(client, voice.clone()));
    world.write_message(to_client(client, roster.clone()));
    world.write_message(to_client(client, states.clone()));
    world.write_message(to_client(client, enter.clone()));
    server.update();
    let sent: Vec<Incoming> = server
        .world_mut()
        .resource_mut::<ServerMessages>()
        .drain_sent()
        .map(|(_, channel, bytes)| protocol.decode(channel as u8, &bytes))
        .collect();
    assert!(sent.contains(&Incoming::Roster(roster)), "{sent:?}");
    assert!(sent.contains(&Incoming::States(states)), "{sent:?}");
    assert!(
        sent.contains(&Incoming::EnterMap(Box::new(enter))),
        "{sent:?}"
    );
    assert!(sent.contains(&Incoming::Voice(voice)), "{sent:?}");
}

/// What the server took in from clients this update, of one kind.
fn received<T: bevy::prelude::Message + Clone>(server: &bevy::prelude::App) -> Vec<T> {
    use bevy_replicon::prelude::FromClient;
    server
        .world()
        .resource::<bevy::prelude::Messages<FromClient<T>>>()
        .iter_current_update_messages()
        .map(|m| m.message.clone())
        .collect()
}

#[test]
fn bots_spread_over_rooms_see_only_their_room() {
    let _turn = crate::common::serial();
    let server = start_server("load-rooms", None);
    let url = server.http_url();
    let rooms = tavern_client::login::make_rooms(&url, 2).expect("rooms are made");
    assert_eq!(rooms.len(), 2);
    let report = run_bots(&BotOptions {
        server: url,
        count: 4,
        duration: Duration::from_secs(2),
        seed: 3,
        light: true,
        still: true,
        rooms: rooms.into_iter().map(|id| (id, None)).collect(),
        ..Default::default()
    });
    assert_eq!(
        (report.connected, report.failed),
        (4, 0),
        "{:?}",
        report.failures
    );
    // Two bots a room, standing on their plaza: each sees the other and nobody else.
    assert_eq!(report.min_seen_avatars, 1, "{report:?}");
    assert_eq!(report.mean_seen_avatars, 1.0, "{report:?}");
}

#[test]
fn bots_that_drop_their_connection_come_back_to_their_avatars() {
    let _turn = crate::common::serial();
    // The reconnect storm: 50 bots for 60 s, each dropping its connection every 10 s
    // (without a goodbye) and coming back, while they chat (standing on the plaza, near
    // each other).
    let mut config = ServerConfig::local(temp_dir("load-drops"));
    // A dropped connection holds its slot until it times out (10 s): up to two each.
    config.max_clients = 128;
    let server = tavern_server::start(config).expect("the server starts");
    let report = run_bots(&BotOptions {
        server: server.http_url(),
        count: 50,
        duration: Duration::from_secs(60),
        seed: 5,
        chat_lines: 10,
        still: true,
        drop_every: Some(Duration::from_secs(10)),
        ..Default::default()
    });
    let drops = report.drops.clone().expect("a drop report");
    eprintln!(
        "reconnect storm: {drops:?}; chat: {} said, delivery p50 {:?} / p99 {:?} ms",
        report.chat_sent, report.chat_delivery_ms_p50, report.chat_delivery_ms_p99
    );
    assert!(drops.drops >= 250, "{drops:?}");
    assert_eq!(drops.resumed, drops.drops, "{report:?}");
    assert_eq!((drops.avatars_lost, drops.resume_failures), (0, 0));
    assert_eq!(drops.events_missed_after_resume, 0, "{drops:?}");
    assert!(drops.events_received > 0, "{drops:?}");
    // Every line said was stored and reached the room: none refused, and (the lines
    // being in each bot's event chain) none missing from anyone's chain.
    assert!(report.chat_sent >= 400, "{report:?}");
    assert_eq!(report.chat_rejected, 0, "{report:?}");
    assert!(report.chat_delivery_samples > 0, "{report:?}");
    assert_eq!(
        (report.connected, report.failed),
        (50, 0),
        "{:?}",
        report.failures
    );
    assert!(
        server_players(&server).is_empty(),
        "the bots said goodbye at the end: their avatars left at once"
    );
}

/// `--voice`: light and full bots wander the town, speak 30 % of the time and listen;
/// frames reach listeners, none from a speaker out of their range, and the delay and
/// bytes are reported; the server counts the frames it relayed.
#[test]
fn bots_speak_and_nobody_hears_a_speaker_out_of_range() {
    let _turn = crate::common::serial();
    let server = start_server("load-voice", None);
    let report = run_bots(&BotOptions {
        server: server.http_url(),
        count: 8,
        duration: Duration::from_secs(8),
        seed: 3,
        light: true,
        predict_sample: 3,
        voice: true,
        ..Default::default()
    });
    let voice = report.voice.clone().expect("a voice report");
    eprintln!("{voice:?}");
    assert_eq!(
        (report.connected, report.failed),
        (8, 0),
        "{:?}",
        report.failures
    );
    assert_eq!(
        voice.voice_source, "espeak-ng",
        "setup.sh installs espeak-ng"
    );
    // 8 bots, 30 % of 8 s, 50 frames a second, less what Opus left out as silence.
    assert!(voice.voice_frames_sent > 500, "{voice:?}");
    assert!(voice.voice_frames_received > 200, "{voice:?}");
    assert_eq!(voice.voice_frames_from_out_of_range, 0, "{voice:?}");
    let delay = voice.voice_delay_ms_mean.expect("delays measured");
    assert!(delay > 0.0, "{voice:?}");
    assert!(voice.voice_bytes_per_s_per_bot > 0.0);
    let relayed = metric_sum(
        &scrape(&server.http_url()),
        "tavern_voice_frames_total",
        &[("outcome", "relayed")],
    );
    assert!(
        relayed >= voice.voice_frames_received as f64,
        "{relayed} relayed, {} received",
        voice.voice_frames_received
    );
}
