//! NPC agents end to end: two players, one innkeeper. One talks to it (scripted lines,
//! then a webhook on a local HTTP server, including one that is too slow); the other
//! finds it busy until the first walks away. Checked on what the clients receive.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{api_get, join, press_action, pump_for, pump_until, temp_dir, walk};
use bevy::prelude::*;
use serde_json::json;
use tavern_client::bot::{Bot, Brain};
use tavern_server::ServerConfig;
use tavern_server::agents::stub::{StubAnswer, serve};
use tavern_server::agents::{AgentConfig, Scripts};
use tavern_server::store::SessionInfo;
use tavern_shared::chat::{ChatChannel, ChatLine};
use tavern_shared::input::InputFrame;

/// A walled 20x8 room of 32 px tiles. Spawns at (2..4, 3); the innkeeper's corner over
/// cells (7..8, 2..5) (zone 0, action to talk); the guard's post over cells (16..17,
/// 2..5) (zone 1, talks on entering). Without the innkeeper when `innkeeper` is false.
fn write_room(dir: &Path, innkeeper: bool) -> std::path::PathBuf {
    let mut objects = vec![json!(
        {"id": 2, "name": "Guard", "type": "area", "x": 512, "y": 64, "width": 64, "height": 128,
         "properties": [{"name": "agentId", "type": "string", "value": "guard"},
                        {"name": "agentTrigger", "type": "string", "value": "onenter"}]}
    )];
    if innkeeper {
        objects.insert(
            0,
            json!({"id": 1, "name": "Innkeeper", "type": "area", "x": 224, "y": 64, "width": 64, "height": 128,
                   "properties": [{"name": "agentId", "type": "string", "value": "innkeeper"}]}),
        );
    }
    crate::common::write_room(dir, "inn.tmj", json!(objects))
}

const SCRIPTS: &str = r#"
[innkeeper]
name = "Marta"
greeting = "Welcome!"
fallback = ["Hm?"]

[[innkeeper.reply]]
keywords = ["room"]
text = "Five silver a night."
"#;

/// A server running the inn; also returns the folder of its map.
fn server(
    name: &str,
    webhook: Option<String>,
    idle: Duration,
) -> (tavern_server::RunningServer, PathBuf) {
    let dir = temp_dir(name);
    let mut config = ServerConfig::local(dir.join("data"));
    config.maps = vec![write_room(&dir.join("maps"), true)];
    config.agents = AgentConfig {
        webhook,
        timeout: Duration::from_millis(500),
        idle,
        scripts: Scripts::parse(SCRIPTS, Path::new("test.toml")).unwrap(),
        scripts_file: Some("test.toml".into()),
    };
    let server = tavern_server::start(config).expect("the server starts");
    (server, dir.join("maps"))
}

/// Walks `bots[0]` along `dir` until the server puts it in `zone` (or out of every zone
/// when `None`), then stops it.
fn walk_until(bots: &mut [&mut Bot], dir: Vec2, zone: Option<u16>) {
    *bots[0].brain_mut() = Brain::Script(VecDeque::from([walk(dir, 600)]));
    assert!(
        pump_until(bots, Duration::from_secs(10), |b| {
            b[0].own_zones().is_some_and(|z| match zone {
                Some(zone) => z.contains(&zone),
                None => z.is_empty(),
            })
        }),
        "walked into {zone:?}: {:?}",
        bots[0].own_server_state()
    );
    *bots[0].brain_mut() = Brain::Script(VecDeque::from([(1, InputFrame::default())]));
}

fn press_e(bot: &mut Bot) {
    *bot.brain_mut() = Brain::Script(VecDeque::from([press_action(), (1, InputFrame::default())]));
}

fn agent_lines(bot: &Bot) -> Vec<(String, String)> {
    bot.chat()
        .lines
        .iter()
        .filter(|l| matches!(l.channel, ChatChannel::Agent(_)))
        .map(|l| (l.from.clone(), l.text.clone()))
        .collect()
}

fn busy_with(bot: &mut Bot) -> Option<Option<String>> {
    bot.npcs()
        .into_iter()
        .find(|n| n.agent == "innkeeper")
        .map(|n| n.busy_with)
}

fn pair(ada: &str, marta: &str) -> Vec<(String, String)> {
    vec![
        ("Marta".to_string(), "Welcome!".to_string()),
        ("Ada".to_string(), ada.to_string()),
        ("Marta".to_string(), marta.to_string()),
    ]
}

#[test]
fn an_npc_talks_to_one_player_at_a_time_from_its_script() {
    let _turn = crate::common::serial();
    let (server, _) = server("agents", None, Duration::from_secs(120));
    let url = server.http_url();
    let mut ada = join(&url, "Ada", &mut []);
    let mut bo = join(&url, "Bo", &mut [&mut ada]);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            busy_with(b[1]) == Some(None)
        }),
        "the innkeeper is replicated, free"
    );
    let npc = bo
        .npcs()
        .into_iter()
        .find(|n| n.agent == "innkeeper")
        .unwrap();
    assert_eq!(npc.name, "Marta", "named by the script");
    assert_eq!(
        npc.pos,
        Vec2::new(256.0, 128.0),
        "at the centre of its zone"
    );

    // Ada walks up and presses E: the conversation opens with the greeting.
    walk_until(&mut [&mut ada, &mut bo], Vec2::X, Some(0));
    press_e(&mut ada);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b[0].conversation().open.is_some() && !agent_lines(b[0]).is_empty()
        }),
        "{:?}",
        ada.conversation()
    );
    assert_eq!(ada.conversation().open.as_ref().unwrap().name, "Marta");
    assert_eq!(agent_lines(&ada), vec![("Marta".into(), "Welcome!".into())]);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            busy_with(b[1]) == Some(Some("Ada".into()))
        }),
        "Bo sees her busy with Ada"
    );

    // Bo tries too and is told she is busy.
    walk_until(&mut [&mut bo, &mut ada], Vec2::X, Some(0));
    press_e(&mut bo);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            !b[1].conversation().notices.is_empty()
        }),
        "Bo gets a notice"
    );
    assert_eq!(
        bo.conversation().notices[0].0.text,
        "Marta is talking to Ada right now; try again in a moment"
    );
    assert!(bo.conversation().open.is_none());

    // Ada asks; the keyword picks the reply. Bo hears none of it.
    ada.say(ChatChannel::Agent("innkeeper".into()), "Any room free?");
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            agent_lines(b[0]).len() == 3
        }),
        "{:?}",
        agent_lines(&ada)
    );
    assert_eq!(
        agent_lines(&ada),
        pair("Any room free?", "Five silver a night.")
    );
    assert!(agent_lines(&bo).is_empty());
    // Talking to an NPC she has not opened is refused with a reason.
    ada.say(ChatChannel::Agent("guard".into()), "halt?");
    assert!(pump_until(
        &mut [&mut ada, &mut bo],
        Duration::from_secs(5),
        |b| { !b[0].chat().rejections.is_empty() }
    ));
    assert!(
        ada.chat().rejections[0]
            .reason
            .contains("you are not talking to `guard`"),
        "{:?}",
        ada.chat().rejections
    );

    // Ada walks away: her conversation ends and the innkeeper is free for Bo.
    walk_until(&mut [&mut ada, &mut bo], -Vec2::X, None);
    *ada.brain_mut() = Brain::Script(VecDeque::from([walk(-Vec2::X, 40)]));
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b[0].conversation().open.is_none() && busy_with(b[1]) == Some(None)
        }),
        "{:?}",
        ada.conversation()
    );
    assert_eq!(
        ada.conversation().last_closed.as_ref().unwrap().reason,
        "you walked away from Marta"
    );
    press_e(&mut bo);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b[1].conversation().open.is_some()
        }),
        "Bo can talk now"
    );
    bo.leave_conversation();
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b[1].conversation().open.is_none() && busy_with(b[0]) == Some(None)
        }),
        "goodbye frees her"
    );
    assert_eq!(
        bo.conversation().last_closed.as_ref().unwrap().reason,
        "you said goodbye"
    );

    // The guard talks on entering, but has no lines and no webhook: Bo is told why.
    walk_until(&mut [&mut bo, &mut ada], Vec2::X, Some(1));
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            b[1].conversation().notices.len() == 2
        }),
        "{:?}",
        bo.conversation().notices
    );
    let mute = &bo.conversation().notices[1].0.text;
    assert!(
        mute.starts_with("Guard has nothing to say: the server has no --agent-webhook")
            && mute.contains("test.toml has no lines for `guard`"),
        "{mute}"
    );

    // The conversation is an `agent` chat session in Ada's history.
    let (status, body) = api_get(
        &format!("{url}/api/chat/sessions"),
        &ada.api_token().unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let sessions: Vec<SessionInfo> = serde_json::from_str(&body).unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(
        (sessions[0].kind.as_str(), sessions[0].title.as_str()),
        ("agent", "Marta")
    );
    let (_, body) = api_get(
        &format!("{url}/api/chat/sessions/{}/messages", sessions[0].id),
        &ada.api_token().unwrap(),
    );
    let lines: Vec<ChatLine> = serde_json::from_str(&body).unwrap();
    assert_eq!(lines.len(), 3);
    pump_for(&mut [&mut ada, &mut bo], Duration::from_millis(100));
}

#[test]
fn webhook_replies_carry_the_history_and_a_slow_webhook_is_reported() {
    let _turn = crate::common::serial();
    let webhook = serve(|request| {
        let message = request["message"].as_str().unwrap_or("").to_string();
        let history = request["history"].as_array().map_or(0, Vec::len);
        StubAnswer {
            status: 200,
            body: json!({"reply": format!("{} said {message} after {history} lines", request["user"].as_str().unwrap_or("?"))}).to_string(),
            delay: if message == "slow" {
                Duration::from_secs(2)
            } else {
                Duration::ZERO
            },
        }
    })
    .unwrap();
    let (server, maps) = server("agents-webhook", Some(webhook), Duration::from_secs(120));
    let url = server.http_url();
    let mut ada = join(&url, "Ada", &mut []);
    walk_until(&mut [&mut ada], Vec2::X, Some(0));
    press_e(&mut ada);
    assert!(pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
        agent_lines(b[0]).len() == 1
    }));
    ada.say(ChatChannel::Agent("innkeeper".into()), "hello");
    assert!(pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
        agent_lines(b[0]).len() == 3
    }));
    assert_eq!(
        agent_lines(&ada),
        pair("hello", "Ada said hello after 1 lines")
    );

    // Too slow: Ada is told, her own line stays, and the next turn works.
    ada.say(ChatChannel::Agent("innkeeper".into()), "slow");
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
            !b[0].conversation().notices.is_empty()
        }),
        "a notice about the timeout"
    );
    assert_eq!(
        ada.conversation().notices[0].0.text,
        "Marta could not answer: the agent service did not answer within 0.5 s"
    );
    assert_eq!(
        agent_lines(&ada).len(),
        4,
        "her line was stored and delivered"
    );
    ada.say(ChatChannel::Agent("innkeeper".into()), "again");
    assert!(pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
        agent_lines(b[0]).len() == 6
    }));
    assert_eq!(
        agent_lines(&ada)[5].1,
        "Ada said again after 4 lines",
        "greeting, hello, its reply, slow"
    );

    // A map edit takes the innkeeper away mid-conversation: Ada is told, the NPC goes.
    std::thread::sleep(Duration::from_millis(1100)); // a newer modification time
    write_room(&maps, false);
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(10), |b| {
            b[0].conversation().open.is_none()
                && !b[0].npcs().iter().any(|n| n.agent == "innkeeper")
        }),
        "{:?}",
        ada.conversation()
    );
    assert_eq!(
        ada.conversation().last_closed.as_ref().unwrap().reason,
        "Marta is no longer here (the map changed)"
    );
    assert_eq!(ada.npcs().len(), 1, "the guard stays");
}

#[test]
fn a_silent_conversation_ends_and_frees_the_npc() {
    let _turn = crate::common::serial();
    let (server, _) = server("agents-idle", None, Duration::from_secs(1));
    let url = server.http_url();
    let mut ada = join(&url, "Ada", &mut []);
    walk_until(&mut [&mut ada], Vec2::X, Some(0));
    press_e(&mut ada);
    assert!(pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
        b[0].conversation().open.is_some()
    }));
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
            b[0].conversation().open.is_none() && busy_with(b[0]) == Some(None)
        }),
        "{:?}",
        ada.conversation()
    );
    assert_eq!(
        ada.conversation().last_closed.as_ref().unwrap().reason,
        "Marta went back to work after 1 s of silence"
    );
}
