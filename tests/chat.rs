//! Chat end to end: three players on the sample town, lines on every channel reach
//! exactly who they should, every rule tells the sender why, lines are stored before
//! they are delivered (a broken database delivers nothing), history is paged over HTTP
//! for participants only, and a player who comes back gets their conversations again.

use std::collections::VecDeque;
use std::time::Duration;

use crate::common::{api_get, metric_sum, pump_for, pump_until, scrape, temp_dir};
use bevy::prelude::*;
use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;
use tavern_server::store::{ChatStore, SessionInfo};
use tavern_shared::chat::{ChatChannel, ChatLine};
use tavern_shared::input::{Buttons, InputFrame, Stick};

fn texts(bot: &Bot) -> Vec<String> {
    bot.chat().lines.iter().map(|l| l.text.clone()).collect()
}

fn last_rejection(bot: &Bot) -> String {
    bot.chat()
        .rejections
        .last()
        .map(|r| r.reason.clone())
        .unwrap_or_default()
}

#[test]
fn chat_reaches_the_right_people_is_stored_first_and_comes_back() {
    let _turn = crate::common::serial();
    let dir = temp_dir("chat");
    let mut config = ServerConfig::local(dir.join("data"));
    config.chat_filter = vec!["darn".into()];
    let db_url = tavern_server::store::default_url(&config.data_dir);
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let mut ada = Bot::new(&url, "Ada", Brain::Idle);
    let mut bo = Bot::new(&url, "Bo", Brain::Idle);
    let mut cy = Bot::new(&url, "Cy", Brain::Idle);
    assert!(pump_until(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_secs(15),
        |b| { b.iter_mut().all(|b| b.own_server_state().is_some()) }
    ));
    // Cy walks off along the plaza path, out of earshot.
    *cy.brain_mut() = Brain::Script(VecDeque::from([
        (
            150,
            InputFrame {
                stick: Stick::from_vec(Vec2::X),
                buttons: Buttons::NONE,
            },
        ),
        (1, InputFrame::default()),
    ]));
    let (b_id, c_id) = (bo.client_id().unwrap(), cy.client_id().unwrap());
    assert!(pump_until(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_secs(10),
        |b| {
            b[0].nearby().near.contains(&b_id)
                && !b[0].nearby().near.contains(&c_id)
                && b[2].brain_mut().is_done()
        }
    ));

    let all = |ada: &mut Bot,
               bo: &mut Bot,
               cy: &mut Bot,
               wait: Duration,
               done: &dyn Fn(&mut [&mut Bot]) -> bool| {
        pump_until(&mut [ada, bo, cy], wait, |b| done(b))
    };
    let secs = Duration::from_secs(5);

    // Proximity: Ada and Bo, not Cy. The sender gets her own line back once stored.
    ada.say(ChatChannel::Proximity, "hello, neighbour");
    assert!(all(&mut ada, &mut bo, &mut cy, secs, &|b| texts(b[0])
        .len()
        == 1
        && texts(b[1]).len() == 1));
    // Map: everyone. Whisper: only Cy (and Ada's copy).
    ada.say(ChatChannel::Map, "town meeting at noon, darn it");
    ada.say(ChatChannel::Whisper("Cy".into()), "psst, Cy");
    assert!(all(&mut ada, &mut bo, &mut cy, secs, &|b| texts(b[0])
        .len()
        == 3
        && texts(b[1]).len() == 2
        && texts(b[2]).len() == 2));
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(300),
    );
    assert_eq!(
        texts(&bo),
        ["hello, neighbour", "town meeting at noon, **** it"],
        "the filter masked the word"
    );
    assert_eq!(texts(&cy), ["town meeting at noon, **** it", "psst, Cy"]);
    let line: &ChatLine = &ada.chat().lines[0];
    assert!(line.id > 0 && line.from == "Ada" && line.channel == ChatChannel::Proximity);

    // Every rule answers the sender with a reason, and nothing is delivered.
    for (channel, text, reason) in [
        (ChatChannel::Map, "   ".to_string(), "the message is empty"),
        (ChatChannel::Map, "x".repeat(501), "at most 500 are allowed"),
        (
            ChatChannel::Map,
            "aaaaaaaaaaaa".to_string(),
            "looks like spam",
        ),
        (
            ChatChannel::Whisper("Nobody".into()),
            "hi".to_string(),
            "nobody called Nobody is here",
        ),
        (
            ChatChannel::Zone,
            "hi".to_string(),
            "you are not in a meeting zone",
        ),
    ] {
        let before = bo.chat().rejections.len();
        bo.say(channel, &text);
        assert!(
            all(&mut ada, &mut bo, &mut cy, secs, &|b| b[1]
                .chat()
                .rejections
                .len()
                > before),
            "a rejection for {text:?}"
        );
        assert!(
            last_rejection(&bo).contains(reason),
            "{:?} vs {reason}",
            last_rejection(&bo)
        );
    }
    // Rate limit: Bo has used 5 of 5 (rejections count too); the next line is refused.
    bo.say(ChatChannel::Map, "one more");
    assert!(all(&mut ada, &mut bo, &mut cy, secs, &|b| last_rejection(
        b[1]
    )
    .contains("slow down")));
    assert_eq!(texts(&ada).len(), 3, "nothing Bo tried reached Ada");

    // History over HTTP, for participants only, paged.
    let ada_token = ada.api_token().unwrap();
    let (status, body) = api_get(&format!("{url}/api/chat/sessions"), &ada_token);
    assert_eq!(status, 200, "{body}");
    let sessions: Vec<SessionInfo> = serde_json::from_str(&body).unwrap();
    let kinds: Vec<&str> = sessions.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["whisper", "map", "proximity"], "newest first");
    let whisper = sessions[0].id;
    let (status, body) = api_get(
        &format!("{url}/api/chat/sessions/{whisper}/messages?limit=10"),
        &bo.api_token().unwrap(),
    );
    assert_eq!(status, 404, "Bo is not in Ada's whisper to Cy: {body}");
    let (status, body) = api_get(
        &format!("{url}/api/chat/sessions/{whisper}/messages?limit=10"),
        &cy.api_token().unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let lines: Vec<ChatLine> = serde_json::from_str(&body).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "psst, Cy");
    let (status, body) = api_get(&format!("{url}/api/chat/sessions"), "not-a-token");
    assert_eq!(status, 401, "{body}");
    let (status, _) = api_get(
        &format!("{url}/api/chat/sessions/{whisper}/messages?limit=0"),
        &ada_token,
    );
    assert_eq!(status, 400);

    // Ada leaves. Another guest who types her name gets nothing of hers: conversations
    // are kept under the guest's own session, not the name.
    let ada_session = ada.session();
    ada.leave();
    drop(ada);
    let ada_gone = |bots: &mut [&mut Bot]| {
        assert!(
            pump_until(bots, Duration::from_secs(20), |_| {
                !crate::common::server_players(&server)
                    .iter()
                    .any(|p| p.name == "Ada")
            }),
            "Ada leaves"
        );
    };
    ada_gone(&mut [&mut bo, &mut cy]);
    let mut other = Bot::new(&url, "Ada", Brain::Idle);
    assert!(pump_until(
        &mut [&mut other, &mut bo, &mut cy],
        Duration::from_secs(15),
        |b| b[0].own_server_state().is_some()
    ));
    pump_for(
        &mut [&mut other, &mut bo, &mut cy],
        Duration::from_millis(500),
    );
    assert_eq!(
        texts(&other),
        Vec::<String>::new(),
        "no history for a namesake"
    );
    let (status, body) = api_get(
        &format!("{url}/api/chat/sessions"),
        &other.api_token().unwrap(),
    );
    assert_eq!((status, body.as_str()), (200, "[]"), "nor any conversation");
    let (status, _) = api_get(
        &format!("{url}/api/chat/sessions/{whisper}/messages?limit=10"),
        &other.api_token().unwrap(),
    );
    assert_eq!(status, 404, "nor Ada's whisper");
    other.leave();
    drop(other);
    ada_gone(&mut [&mut bo, &mut cy]);
    // Ada comes back with her session: her conversations are sent to her again.
    let mut ada = Bot::with_session(&url, "Ada", Brain::Idle, ada_session);
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(15),
            |b| b[0].chat().lines.len() == 3
        ),
        "history on rejoin: {:?}",
        texts(&ada)
    );
    assert_eq!(
        ada.chat().received,
        0,
        "they came as history, not as new lines"
    );

    // Break the database: a line that cannot be stored reaches nobody, and the sender
    // is told.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = ChatStore::open(&db_url).await.unwrap();
        store.execute_raw("DROP TABLE messages").await.unwrap();
    });
    let before = (texts(&bo).len(), texts(&cy).len());
    ada.say(ChatChannel::Map, "can anyone hear me?");
    assert!(all(&mut ada, &mut bo, &mut cy, secs, &|b| last_rejection(
        b[0]
    )
    .contains("could not be saved")));
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(500),
    );
    assert_eq!(
        (texts(&bo).len(), texts(&cy).len()),
        before,
        "nobody received the unsaved line"
    );
    assert!(ada.is_connected() && bo.is_connected());

    // /metrics counted all of it: three players on the town, three lines accepted
    // (stored and delivered), seven refused (five rules, the rate limit, the database).
    let metrics = scrape(&url);
    assert_eq!(
        metric_sum(&metrics, "tavern_players_connected", &[("map", "town")]),
        3.0
    );
    assert_eq!(metric_sum(&metrics, "tavern_players_connected", &[]), 3.0);
    let lines = |outcome| metric_sum(&metrics, "tavern_chat_lines_total", &[("outcome", outcome)]);
    assert_eq!((lines("accepted"), lines("refused")), (3.0, 7.0));
    assert!(
        metric_sum(
            &metrics,
            "tavern_http_requests_total",
            &[("route", "/api/chat/sessions"), ("status", "200")]
        ) >= 1.0
    );
    assert!(metric_sum(&metrics, "tavern_inputs_total", &[("outcome", "applied")]) >= 150.0);
    assert!(metric_sum(&metrics, "tavern_udp_bytes_total", &[("direction", "sent")]) > 1000.0);
    let histogram_count = |name: &str| {
        metrics
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| match &s.value {
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.last().map_or(0.0, |b| b.count)
                }
                _ => 0.0,
            })
            .sum::<f64>()
    };
    assert!(histogram_count("tavern_tick_duration_seconds") > 60.0);
    assert!(histogram_count("tavern_database_query_duration_seconds") >= 3.0);
    assert!(metric_sum(&metrics, "process_cpu_seconds_total", &[]) > 0.0);
    assert!(metric_sum(&metrics, "process_resident_memory_bytes", &[]) > 1e6);
    server.stop();
}
