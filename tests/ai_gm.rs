//! The AI game master end to end: a stub service on loopback plays the webhook; the GM
//! lets it run the table; it starts the session, narrates, sets the scene and starts an
//! encounter when a player says it fights, each done from the GM's seat through the GM's
//! checks; a slow or garbled answer is said to the table as a failure, never a hang.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tavern_client::bot::Bot;
use tavern_client::bot::Brain;
use tavern_server::ServerConfig;
use tavern_server::agents::stub::{StubAnswer, serve};
use tavern_server::gm::ai::{AiGmConfig, THINKING};
use tavern_shared::chat::ChatChannel;
use tavern_shared::gm::CampaignStatus;

use crate::campaign::{at_table, register};
use crate::common::{call, pump_for, pump_until, temp_dir};

/// What the stub answers to a call whose events say `text` (the last line said).
fn answer_to(request: &Value) -> StubAnswer {
    let said: Vec<String> = request["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["text"].as_str().map(str::to_string))
        .collect();
    let has = |word: &str| said.iter().any(|t| t.contains(word));
    let ok = |body: Value| StubAnswer {
        status: 200,
        body: body.to_string(),
        delay: Duration::ZERO,
    };
    if has("slowly") {
        return StubAnswer {
            delay: Duration::from_secs(3),
            ..ok(json!({}))
        };
    }
    if has("garble") {
        return StubAnswer {
            status: 200,
            body: "the dragon wakes".into(),
            delay: Duration::ZERO,
        };
    }
    if has("fight") {
        return ok(json!({"encounter": "start", "narrate": "Steel rings out in the street!"}));
    }
    if has("resume") {
        // Not paused: the GM's own check refuses it.
        return ok(json!({"session": "resume"}));
    }
    if has("run the table") {
        return ok(json!({
            "session": "start",
            "scene": {"location": "Sunken Keep", "mood": "grim"},
            "narrate": "Welcome to the Sunken Keep."
        }));
    }
    ok(json!({}))
}

fn notices(bot: &Bot) -> Vec<String> {
    bot.table().notices.iter().map(|(_, t)| t.clone()).collect()
}

fn story(bot: &Bot) -> Vec<String> {
    bot.chat()
        .lines
        .iter()
        .filter(|l| l.channel == ChatChannel::Narration)
        .map(|l| l.text.clone())
        .collect()
}

#[test]
fn the_ai_game_master_runs_the_table_from_the_gms_seat() {
    let _turn = crate::common::serial();
    let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let url = serve({
        let calls = calls.clone();
        move |request| {
            let answer = answer_to(&request);
            calls.lock().unwrap().push(request);
            answer
        }
    })
    .unwrap();
    let mut config = ServerConfig::local(temp_dir("ai-gm"));
    config.gm_webhook = Some(AiGmConfig {
        url,
        timeout: Duration::from_secs(1),
    });
    let server = tavern_server::start(config).expect("the server starts");
    let http = server.http_url();
    let (_, gm_token, gm_session) = register(&http, "Gaia");
    let (_, _, bram_session) = register(&http, "Bram");
    let (status, room) = call(
        &http,
        "/api/rooms",
        Some(&gm_token),
        Some(json!({"name": "Keep", "map": "town", "campaign": true, "password": "keep"})),
    );
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let mut gaia = at_table(&http, "Gaia", &gm_session, &id, Brain::Idle);
    let mut bram = at_table(&http, "Bram", &bram_session, &id, Brain::Idle);
    assert!(pump_until(
        &mut [&mut gaia, &mut bram],
        Duration::from_secs(15),
        |b| b
            .iter()
            .all(|b| b.table().state.is_some() && b.roster().players.len() == 2)
    ));

    // Only the GM hands the table over.
    bram.gm_act("aigm", "on").unwrap();
    assert!(pump_until(&mut [&mut bram], Duration::from_secs(5), |b| {
        notices(b[0]).contains(&"only the GM can hand the table to the AI game master".into())
    }));
    assert!(calls.lock().unwrap().is_empty());

    // The GM does: the service is asked at once, the table reads that it thinks, and
    // its answer starts the session, sets the scene and narrates, as the GM.
    gaia.gm_act("aigm", "on").unwrap();
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                notices(b).contains(&THINKING.to_string())
                    && story(b) == ["Welcome to the Sunken Keep."]
                    && b.table().state.as_ref().is_some_and(|s| {
                        s.status == CampaignStatus::Active && s.scene.line() == "Sunken Keep, grim"
                    })
            })
        }),
        "the AI started the session: {:?} {:?}",
        notices(&bram),
        story(&bram)
    );
    {
        let calls = calls.lock().unwrap();
        let first = &calls[0];
        assert_eq!(first["room"], json!(id));
        assert_eq!(first["campaign"]["gm"], json!("Gaia"));
        assert_eq!(first["campaign"]["status"], json!("waiting"));
        assert_eq!(first["players"], json!(["Bram"]));
    }

    // A player tells the GM it fights: the service hears it (who, on which channel)
    // and starts an encounter from the GM's seat.
    bram.say(ChatChannel::ToGm, "I draw my sword and fight the guard");
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                b.table().encounter().is_some()
                    && story(b).contains(&"Steel rings out in the street!".to_string())
            })
        }),
        "the AI started an encounter: {:?}",
        notices(&gaia)
    );
    let heard = calls
        .lock()
        .unwrap()
        .iter()
        .flat_map(|c| c["events"].as_array().cloned().unwrap_or_default())
        .find(|e| e["text"] == json!("I draw my sword and fight the guard"))
        .expect("the service heard the line");
    assert_eq!(
        (&heard["kind"], &heard["channel"], &heard["from"]),
        (&json!("chat"), &json!("to_gm"), &json!("Bram"))
    );

    // What the service asks goes through the GM's checks: resuming a running game is
    // refused as it would be for the GM, and nothing changes.
    bram.say(ChatChannel::ToGm, "please resume");
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            notices(b[0]).contains(&"the session is not paused".to_string())
        }),
        "{:?}",
        notices(&gaia)
    );
    assert_eq!(
        bram.table().state.as_ref().unwrap().status,
        CampaignStatus::Active
    );

    // A garbled answer and a slow one are said to the table, and the table goes on.
    bram.say(ChatChannel::ToGm, "garble");
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                notices(b).iter().any(|n| {
                    n.starts_with("The game master could not answer: its answer is not JSON")
                })
            })
        }),
        "{:?}",
        notices(&bram)
    );
    bram.say(ChatChannel::ToGm, "slowly now");
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                notices(b).contains(
                    &"The game master could not answer: the game master service did not answer within 1.0 s"
                        .to_string(),
                )
            })
        }),
        "{:?}",
        notices(&bram)
    );

    // The GM takes the table back: the service hears no more.
    gaia.gm_act("aigm", "off").unwrap();
    pump_for(&mut [&mut gaia, &mut bram], Duration::from_millis(500));
    let before = calls.lock().unwrap().len();
    bram.say(ChatChannel::ToGm, "anyone there?");
    pump_for(&mut [&mut gaia, &mut bram], Duration::from_secs(2));
    assert_eq!(calls.lock().unwrap().len(), before);
    assert!(
        notices(&bram).contains(&"Gaia took the table back from the AI game master".to_string())
    );
}
