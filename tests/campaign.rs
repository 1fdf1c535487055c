//! Campaign rooms (the game master's table): made over HTTP by a registered account,
//! its GM; the session's status shown to everyone and moved only by the GM (a player's
//! `/pause` is refused and changes nothing); a paused room stands still with no
//! misprediction; character sheets with versions (409 and the current sheet for a
//! stale write, the GM may edit any, a player only their own) reaching the room at
//! once; and all of it kept across a restart.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::math::Vec2;
use serde_json::json;
use tavern_client::bot::{Bot, Brain};
use tavern_client::connection::ServerTarget;
use tavern_server::ServerConfig;
use tavern_shared::gm::{CampaignStatus, GmCommand};

use crate::common::{call, call_with, pump_for, pump_until, server_player, temp_dir, walk};

const PASSWORD: &str = "correct horse battery";

/// Registers `name` and logs in with the password: (account id, API token, session).
pub fn register(url: &str, name: &str) -> (i64, String, String) {
    let (status, created) = call(
        url,
        "/api/accounts",
        None,
        Some(json!({"name": name, "password": PASSWORD})),
    );
    assert!(status == 201 || status == 409, "{created}");
    let (status, login) = call(
        url,
        "/api/login",
        None,
        Some(json!({"name": name, "password": PASSWORD})),
    );
    assert_eq!(status, 200, "{login}");
    (
        login["account"].as_i64().unwrap(),
        login["api_token"].as_str().unwrap().to_string(),
        login["session"].as_str().unwrap().to_string(),
    )
}

/// A server (`name` for its data folder) with accounts for `people` (the first is the
/// GM) and a campaign on the town made by the GM with the password "keep" and `extra`
/// in its request: the server, its URL, the room's id and each account (id, API
/// token, session).
fn campaign_with(
    name: &str,
    people: &[&str],
    extra: serde_json::Value,
) -> (
    tavern_server::RunningServer,
    String,
    String,
    Vec<(i64, String, String)>,
) {
    let server = crate::common::start_server(name, None);
    let url = server.http_url();
    let accounts: Vec<(i64, String, String)> = people.iter().map(|p| register(&url, p)).collect();
    let mut body =
        json!({"name": "The Sunken Keep", "map": "town", "campaign": true, "password": "keep"});
    for (key, value) in extra.as_object().into_iter().flatten() {
        body[key] = value.clone();
    }
    let (status, room) = call(&url, "/api/rooms", Some(&accounts[0].1), Some(body));
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    (server, url, id, accounts)
}

pub fn at_table(url: &str, name: &str, session: &str, room: &str, brain: Brain) -> Bot {
    Bot::with_target(
        ServerTarget {
            session: Some(session.to_string()),
            room: Some(room.to_string()),
            room_password: Some("keep".into()),
            ..ServerTarget::guest(url, name)
        },
        brain,
    )
}

fn status_of(bot: &Bot) -> Option<CampaignStatus> {
    bot.table().state.as_ref().map(|s| s.status)
}

fn last_notice(bot: &Bot) -> String {
    bot.table()
        .notices
        .back()
        .map(|(_, text)| text.clone())
        .unwrap_or_default()
}

/// Back and forth along the town's street, for a long time: always walking (the
/// street runs east to west; walls stop any step north or south).
fn pacing() -> Brain {
    let mut steps = VecDeque::new();
    for _ in 0..400 {
        steps.push_back(walk(Vec2::X, 30));
        steps.push_back(walk(Vec2::NEG_X, 30));
    }
    Brain::Script(steps)
}

/// Whether player `id` is seen by the server away from where it stands now within
/// `time` (sampled every frame: a pacer is back where it was every round trip).
fn walks(
    server: &tavern_server::RunningServer,
    bots: &mut [&mut Bot],
    id: u64,
    time: Duration,
) -> bool {
    let from = server_player(server, id);
    pump_until(bots, time, |_| {
        let now = server_player(server, id);
        (now.x, now.y) != (from.x, from.y)
    })
}

fn sheet(name: &str, hit_points: i32) -> serde_json::Value {
    json!({
        "name": name, "class": "Cleric", "level": 2,
        "abilities": {"strength": 12, "dexterity": 14, "constitution": 13,
                      "intelligence": 10, "wisdom": 16, "charisma": 8},
        "hit_points": hit_points, "max_hit_points": 15, "armor_class": 16
    })
}

#[test]
fn a_campaign_is_run_by_its_gm_and_kept() {
    let _turn = crate::common::serial();
    let dir = temp_dir("campaign");
    let data = dir.join("data");
    let server = tavern_server::start(ServerConfig::local(&data)).expect("the server starts");
    let url = server.http_url();
    let (gm_id, gm_token, gm_session) = register(&url, "Gaia");
    let (bram_id, bram_token, bram_session) = register(&url, "Bram");

    // Guests cannot hold a campaign; a registered account can.
    let (_, guest) = call(&url, "/api/login", None, Some(json!({"name": "Cy"})));
    let guest_token = guest["api_token"].as_str().unwrap();
    let make =
        json!({"name": "The Sunken Keep", "map": "town", "campaign": true, "password": "keep"});
    let (status, refused) = call(&url, "/api/rooms", Some(guest_token), Some(make.clone()));
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("registered account"),
        "{refused}"
    );
    let (status, too_big) = call(
        &url,
        "/api/rooms",
        Some(&gm_token),
        Some(json!({"name": "Huge", "map": "town", "campaign": true, "max_players": 21})),
    );
    assert_eq!(status, 422, "{too_big}");
    assert_eq!(
        too_big["error"],
        "max_players must be 1 to 20 besides the GM, not 21"
    );
    let (status, room) = call(&url, "/api/rooms", Some(&gm_token), Some(make));
    assert_eq!(status, 201, "{room}");
    assert_eq!(
        room["max_players"], 6,
        "six players by default, besides the GM"
    );
    assert_eq!(
        room["campaign"],
        json!({"gm_account": gm_id, "gm": "Gaia", "status": "waiting"})
    );
    let id = room["id"].as_str().unwrap().to_string();

    let mut gaia = at_table(&url, "Gaia", &gm_session, &id, Brain::Idle);
    let mut bram = at_table(&url, "Bram", &bram_session, &id, pacing());
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(15), |b| {
            b.iter().all(|b| b.table().state.is_some())
        }),
        "both are told where the session stands"
    );
    assert_eq!(status_of(&bram), Some(CampaignStatus::Waiting));
    assert_eq!(bram.table().banner(), Some("Waiting for the GM to start"));
    let state = bram.table().state.clone().unwrap();
    assert_eq!(
        (state.gm.as_str(), state.you_are_gm, state.gm_account),
        ("Gaia", false, gm_id)
    );
    assert!(gaia.table().state.as_ref().unwrap().you_are_gm);

    // A player's GM command is refused and changes nothing.
    bram.gm(GmCommand::Start);
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            !b[1].table().notices.is_empty()
        }),
        "Bram hears why not"
    );
    assert_eq!(last_notice(&bram), "only the GM can start the session");
    gaia.gm(GmCommand::Pause);
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            !b[0].table().notices.is_empty()
        }),
        "pausing what has not started is refused"
    );
    assert_eq!(
        last_notice(&gaia),
        "the session is not running; start it first (/start)"
    );
    assert_eq!(status_of(&bram), Some(CampaignStatus::Waiting));

    gaia.gm(GmCommand::Start);
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter()
                .all(|b| status_of(b) == Some(CampaignStatus::Active))
        }),
        "the session starts for everyone"
    );
    assert_eq!(last_notice(&bram), "Gaia started the session");
    assert_eq!(bram.table().banner(), None);
    let (_, listed) = call(&url, &format!("/api/rooms/{id}"), Some(&gm_token), None);
    assert_eq!(listed["room"]["campaign"]["status"], "active", "{listed}");

    // Paused, Bram stands still though he keeps walking; resumed, he walks on.
    let bram_client = bram.client_id().unwrap();
    assert!(
        walks(
            &server,
            &mut [&mut gaia, &mut bram],
            bram_client,
            Duration::from_secs(2)
        ),
        "he walks before the pause"
    );
    bram.gm(GmCommand::Pause);
    gaia.gm(GmCommand::Pause);
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            status_of(b[1]) == Some(CampaignStatus::Paused)
                && b[1].own_server_state().is_some_and(|s| s.held)
        }),
        "the game pauses"
    );
    assert_eq!(bram.table().banner(), Some("Paused by the GM"));
    pump_for(&mut [&mut gaia, &mut bram], Duration::from_millis(300));
    let held = server_player(&server, bram_client);
    assert!(
        !walks(
            &server,
            &mut [&mut gaia, &mut bram],
            bram_client,
            Duration::from_secs(1)
        ),
        "nothing moves while paused"
    );
    let still = server_player(&server, bram_client);
    assert_eq!(
        (still.x, still.y),
        (held.x, held.y),
        "nothing moves while paused"
    );
    assert!(
        still.last_input > held.last_input,
        "his inputs were used up all the same"
    );
    let predicted = bram.prediction().state.unwrap().pos;
    assert!(
        predicted.distance(Vec2::new(still.x, still.y)) < 1.0,
        "his own view stands still too: {predicted} vs {still:?}"
    );
    gaia.gm(GmCommand::Resume);
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            status_of(b[1]) == Some(CampaignStatus::Active)
        }),
        "the game resumes"
    );
    assert!(
        walks(
            &server,
            &mut [&mut gaia, &mut bram],
            bram_client,
            Duration::from_secs(2)
        ),
        "he walks on"
    );
    assert_eq!(
        bram.prediction().corrections,
        0,
        "pausing and resuming are no misprediction"
    );

    // Sheets: a player writes their own, the GM any; a stale write gets a 409 with the
    // sheet as it is; every accepted one reaches the table at once.
    let bram_sheet = format!("/api/campaigns/{id}/characters/{bram_id}");
    let (status, first) = call_with(
        "PUT",
        &url,
        &bram_sheet,
        Some(&bram_token),
        Some(json!({"version": 0, "sheet": sheet("Bram Ironfoot", 15)})),
    );
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (first["version"].as_i64(), first["updated_by"].as_i64()),
        (Some(1), Some(bram_id))
    );
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                b.table()
                    .sheets
                    .get(&bram_id)
                    .is_some_and(|s| s.version == 1)
            })
        }),
        "the new sheet reaches the table"
    );
    let (status, not_his) = call_with(
        "PUT",
        &url,
        &format!("/api/campaigns/{id}/characters/{gm_id}"),
        Some(&bram_token),
        Some(json!({"version": 0, "sheet": sheet("Not Gaia", 15)})),
    );
    assert_eq!(status, 403, "{not_his}");
    assert_eq!(
        not_his["error"],
        "only the GM can edit another player's character sheet"
    );
    let (status, by_gm) = call_with(
        "PUT",
        &url,
        &bram_sheet,
        Some(&gm_token),
        Some(json!({"version": 1, "sheet": sheet("Bram Ironfoot", 4)})),
    );
    assert_eq!(status, 200, "{by_gm}");
    assert_eq!(by_gm["version"], 2);
    let (status, stale) = call_with(
        "PUT",
        &url,
        &bram_sheet,
        Some(&bram_token),
        Some(json!({"version": 1, "sheet": sheet("Bram Ironfoot", 15)})),
    );
    assert_eq!(status, 409, "{stale}");
    assert_eq!(stale["current"], by_gm, "the sheet as the GM left it");
    assert!(
        stale["error"].as_str().unwrap().contains("version 2"),
        "{stale}"
    );
    let (status, bad) = call_with(
        "PUT",
        &url,
        &bram_sheet,
        Some(&bram_token),
        Some(json!({"version": 2, "sheet": sheet("Bram Ironfoot", 99)})),
    );
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["error"], "sheet.hit_points: must be 0 to 15, not 99");
    let (status, nobody) = call_with(
        "PUT",
        &url,
        &format!("/api/campaigns/{id}/characters/99999"),
        Some(&gm_token),
        Some(json!({"version": 0, "sheet": sheet("Ghost", 1)})),
    );
    assert_eq!(
        (status, nobody["error"].as_str()),
        (404, Some("there is no account 99999"))
    );
    let (status, read) = call(&url, &bram_sheet, Some(&bram_token), None);
    assert_eq!((status, &read), (200, &by_gm));
    let (status, outsider) = call(&url, &bram_sheet, Some(guest_token), None);
    assert_eq!(status, 403, "{outsider}");
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                b.table()
                    .sheets
                    .get(&bram_id)
                    .is_some_and(|s| s.sheet.hit_points == 4)
            })
        }),
        "the GM's edit reaches the table; the refused ones did not"
    );

    gaia.gm(GmCommand::Pause);
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            status_of(b[1]) == Some(CampaignStatus::Paused)
        }),
        "paused again before the restart"
    );
    drop((gaia, bram));
    drop(server);

    // A restart keeps the campaign, its status and its sheets.
    let server = tavern_server::start(ServerConfig::local(&data)).expect("the server starts again");
    let url = server.http_url();
    let (_, gm_token, _) = register(&url, "Gaia");
    let (_, listed) = call(&url, "/api/rooms", Some(&gm_token), None);
    let kept = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap_or_else(|| panic!("the campaign is listed: {listed}"));
    assert_eq!(kept["campaign"]["status"], "paused");
    assert_eq!(kept["has_password"], true);
    let (status, read) = call(&url, &bram_sheet, Some(&gm_token), None);
    assert_eq!((status, read["version"].as_i64()), (200, Some(2)), "{read}");
    let (status, _) = call_with(
        "DELETE",
        &url,
        &format!("/api/campaigns/{id}"),
        Some(&gm_token),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = call(&url, &format!("/api/rooms/{id}"), Some(&gm_token), None);
    assert_eq!(status, 404, "deleted");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn narration(bot: &Bot) -> Vec<String> {
    bot.chat()
        .lines
        .iter()
        .filter(|l| l.channel == tavern_shared::chat::ChatChannel::Narration)
        .map(|l| l.text.clone())
        .collect()
}

fn refusals(bot: &Bot) -> Vec<String> {
    bot.chat()
        .rejections
        .iter()
        .map(|r| r.reason.clone())
        .collect()
}

fn failed_with(bot: &Bot) -> Option<String> {
    match bot.status() {
        tavern_client::connection::ConnectionStatus::Failed(reason) => Some(reason.clone()),
        _ => None,
    }
}

#[test]
fn the_gm_narrates_sets_the_scene_and_keeps_order() {
    use tavern_shared::chat::ChatChannel;
    let _turn = crate::common::serial();
    let (server, url, id, accounts) =
        campaign_with("campaign-gm", &["Gaia", "Bram", "Cy"], json!({}));
    let [(_, _, gm_session), (_, _, bram_session), (_, _, cy_session)] =
        <[_; 3]>::try_from(accounts).unwrap();
    let mut gaia = at_table(&url, "Gaia", &gm_session, &id, Brain::Idle);
    let mut bram = at_table(&url, "Bram", &bram_session, &id, Brain::Idle);
    let mut cy = at_table(&url, "Cy", &cy_session, &id, Brain::Idle);
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(15),
            |b| {
                b.iter()
                    .all(|b| b.table().state.is_some() && b.roster().players.len() == 3)
            }
        ),
        "all three at the table"
    );
    gaia.gm(GmCommand::Start);

    // Players cannot act as the GM: told so, and nothing happens.
    bram.gm_act("kick", "Cy rude").unwrap();
    bram.say(ChatChannel::Narration, "I am the GM now");
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b[1].table()
                    .notices
                    .iter()
                    .any(|(_, t)| t == "only the GM can kick players")
                    && refusals(b[1]).contains(&"only the GM can narrate".to_string())
            }
        ),
        "Bram is refused"
    );

    // Narration and the scene reach everyone.
    gaia.say(
        ChatChannel::Narration,
        "The door creaks open onto a flooded hall.",
    );
    gaia.gm_act(
        "scene",
        "location=Flooded hall weather=dripping time=midnight mood=uneasy",
    )
    .unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b.iter().all(|b| {
                    narration(b) == ["The door creaks open onto a flooded hall."]
                        && b.table().state.as_ref().is_some_and(|s| {
                            s.scene.line() == "Flooded hall, dripping, midnight, uneasy"
                        })
                })
            }
        ),
        "the story and the scene reach the table"
    );
    assert!(narration(&cy).iter().all(|t| !t.contains("GM now")));

    // A roll for the GM's eyes reaches the GM and the roller only; the GM overrides
    // the table's last roll for all to see; a player may not.
    let lines_on = |bot: &Bot, channel: ChatChannel| -> Vec<String> {
        bot.chat()
            .lines
            .iter()
            .filter(|l| l.channel == channel)
            .map(|l| l.text.clone())
            .collect()
    };
    bram.say(ChatChannel::GmRoll, "d20+1");
    cy.say(ChatChannel::Dice, "1d6");
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                !lines_on(b[0], ChatChannel::GmRoll).is_empty()
                    && !lines_on(b[1], ChatChannel::GmRoll).is_empty()
                    && !lines_on(b[0], ChatChannel::Dice).is_empty()
            }
        ),
        "the GM sees Bram's secret roll and Cy's"
    );
    assert!(lines_on(&gaia, ChatChannel::GmRoll)[0].starts_with("rolls 1d20 + 1: ["));
    pump_for(
        &mut [&mut gaia, &mut bram, &mut cy],
        Duration::from_millis(300),
    );
    assert!(
        lines_on(&cy, ChatChannel::GmRoll).is_empty(),
        "Cy does not see it"
    );
    // A line for the GM's ears only.
    bram.say(ChatChannel::ToGm, "I pick the lock while they talk");
    gaia.say(ChatChannel::ToGm, "to myself");
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                lines_on(b[0], ChatChannel::ToGm)
                    .contains(&"I pick the lock while they talk".to_string())
                    && refusals(b[0])
                        .iter()
                        .any(|r| r.starts_with("you are the GM"))
            }
        ),
        "the GM hears Bram's aside; the GM's own is refused"
    );
    pump_for(
        &mut [&mut gaia, &mut bram, &mut cy],
        Duration::from_millis(300),
    );
    assert!(
        lines_on(&cy, ChatChannel::ToGm).is_empty(),
        "Cy does not hear it"
    );
    let cy_roll = lines_on(&gaia, ChatChannel::Dice).pop().unwrap();
    bram.gm_act("override", "1").unwrap();
    gaia.gm_act("override", "6 the dice were loaded").unwrap();
    let overridden = format!("overrides Cy's roll ({cy_roll}) to 6: the dice were loaded");
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b.iter()
                    .all(|b| lines_on(b, ChatChannel::Dice).contains(&overridden))
            }
        ),
        "everyone sees the override: {overridden}"
    );
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b[1].table()
                    .notices
                    .iter()
                    .any(|(_, t)| t == "only the GM can override a roll")
            }
        ),
        "Bram may not override: {:?}",
        bram.table().notices
    );

    // Muted, Bram's lines reach nobody; unmuted, they do again.
    gaia.gm_act("mute", "Bram").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { b[1].table().state.as_ref().is_some_and(|s| s.muted) }
        ),
        "Bram is told he is muted"
    );
    bram.say(ChatChannel::Map, "can anyone hear me?");
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { refusals(b[1]).contains(&"the GM muted you".to_string()) }
        ),
        "his line is refused"
    );
    gaia.gm_act("unmute", "Bram").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { b[1].table().state.as_ref().is_some_and(|s| !s.muted) }
        ),
        "and unmuted"
    );
    bram.say(ChatChannel::Map, "back again");
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { b[2].chat().lines.iter().any(|l| l.text == "back again") }
        ),
        "Cy hears him again"
    );
    assert!(
        cy.chat()
            .lines
            .iter()
            .all(|l| l.text != "can anyone hear me?")
    );

    // Teleport: one player to an entry, everyone to a point; bad places are refused.
    let town = tavern_shared::map::load_map(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/town.tmx"),
        &mut tavern_shared::map::FsFiles::default(),
    )
    .map
    .expect("the town loads");
    let entry = town.arrival_points(Some("from-dungeon"))[0];
    let bram_id = bram.client_id().unwrap();
    gaia.gm_act("teleport", "Bram from-dungeon").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b[1].own_server_state()
                    .is_some_and(|s| s.motion.pos == entry)
            }
        ),
        "Bram stands at the entry"
    );
    assert_eq!(
        (
            server_player(&server, bram_id).x,
            server_player(&server, bram_id).y
        ),
        (entry.x, entry.y)
    );
    gaia.gm_act("teleport", "all 99999 5").unwrap();
    gaia.gm_act("teleport", "Bram nowhere").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b[0].table()
                    .notices
                    .iter()
                    .any(|(_, t)| t.starts_with("town has no entry `nowhere`"))
            }
        ),
        "unknown entries are refused"
    );
    assert!(
        gaia.table()
            .notices
            .iter()
            .any(|(_, t)| t.starts_with("(99999, 5) is outside the map")),
        "{:?}",
        gaia.table().notices
    );
    let spawn = town.spawns[0];
    gaia.gm_act("teleport", &format!("all {} {}", spawn.x, spawn.y))
        .unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                [&b[1], &b[2]].iter().all(|p| {
                    p.app
                        .world()
                        .resource::<tavern_client::prediction::Prediction>()
                        .state
                        .is_some_and(|s| s.pos == spawn)
                })
            }
        ),
        "everyone on the GM's map is moved"
    );
    assert_eq!(
        bram.prediction().corrections,
        0,
        "a teleport is no misprediction"
    );

    // A kick sends Cy away (her client stops), and she may come back.
    gaia.gm_act("kick", "Cy rude to the bard").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { failed_with(b[2]).is_some() }
        ),
        "Cy is sent away"
    );
    assert_eq!(
        failed_with(&cy).unwrap(),
        "Gaia sent you away from the table: rude to the bard"
    );
    let mut cy = at_table(&url, "Cy", &cy_session, &id, Brain::Idle);
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(15),
            |b| {
                b[2].table().state.is_some()
                    && b[2]
                        .client_id()
                        .is_some_and(|id| b[0].roster().players.iter().any(|p| p.client_id == id))
            }
        ),
        "a kicked player may come back, and the GM sees her in the room"
    );
    // A ban is for good: stored, and her join refused.
    gaia.gm_act("ban", "Cy").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { failed_with(b[2]).is_some() }
        ),
        "Cy is banned: {:?}",
        gaia.table().notices
    );
    assert_eq!(
        failed_with(&cy).unwrap(),
        "Gaia banned you from this campaign"
    );
    let (_, cy_login) = call(
        &url,
        "/api/login",
        None,
        Some(json!({"name": "Cy", "session": cy_session})),
    );
    let (status, refused) = call(
        &url,
        &format!("/api/rooms/{id}/join"),
        Some(cy_login["api_token"].as_str().unwrap()),
        Some(json!({"password": "keep"})),
    );
    assert_eq!(status, 403, "{refused}");

    // The GM's seat goes to Bram: he commands, Gaia no longer does.
    gaia.gm_act("handover", "Bram").unwrap();
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter()
                .all(|b| b.table().state.as_ref().is_some_and(|s| s.gm == "Bram"))
        }),
        "the seat is Bram's"
    );
    assert!(bram.table().state.as_ref().unwrap().you_are_gm);
    assert!(!gaia.table().state.as_ref().unwrap().you_are_gm);
    gaia.gm(GmCommand::Pause);
    bram.gm(GmCommand::End);
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b[0].table()
                .notices
                .iter()
                .any(|(_, t)| t == "only the GM can pause the game")
                && status_of(b[0]) == Some(CampaignStatus::Completed)
        }),
        "the new GM ends the session; the old one cannot pause it"
    );
}

fn encounter_of(bot: &Bot) -> Option<tavern_shared::gm::encounter::Encounter> {
    bot.table().encounter().cloned()
}

fn current_name(bot: &Bot) -> Option<String> {
    encounter_of(bot).and_then(|e| e.current().map(|c| c.name.clone()))
}

#[test]
fn an_encounter_keeps_turns_and_a_returning_player_sees_where_it_stands() {
    use tavern_shared::gm::encounter::Standing;
    let _turn = crate::common::serial();
    let (server, url, id, accounts) = campaign_with(
        "campaign-encounter",
        &["Gaia", "Bram", "Cy"],
        json!({"name": "Keep", "turn_time_limit": 600}),
    );
    let [
        (_, _, gm_session),
        (bram_id, bram_token, bram_session),
        (cy_id, cy_token, cy_session),
    ] = <[_; 3]>::try_from(accounts).unwrap();
    // Bram is quick and walks 30 feet a turn (6 tiles: 192 px); Cy walks 10 (64 px).
    for (account, token, name, speed) in [
        (bram_id, &bram_token, "Bram", 30),
        (cy_id, &cy_token, "Cy", 10),
    ] {
        let mut body = sheet(name, 15);
        body["speed"] = json!(speed);
        let (status, written) = call_with(
            "PUT",
            &url,
            &format!("/api/campaigns/{id}/characters/{account}"),
            Some(token),
            Some(json!({"version": 0, "sheet": body})),
        );
        assert_eq!(status, 201, "{written}");
    }
    let mut gaia = at_table(&url, "Gaia", &gm_session, &id, Brain::Idle);
    // They stand until the encounter has begun, then walk all the time.
    let mut bram = at_table(&url, "Bram", &bram_session, &id, Brain::Idle);
    let mut cy = at_table(&url, "Cy", &cy_session, &id, Brain::Idle);
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(15),
            |b| { b[0].roster().players.len() == 3 && b.iter().all(|b| b.table().state.is_some()) }
        ),
        "all three at the table"
    );
    gaia.gm(GmCommand::Start);
    bram.gm_act("encounter", "start").unwrap();
    gaia.gm_act("encounter", "start").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { b.iter().all(|b| encounter_of(b).is_some()) }
        ),
        "the encounter starts for everyone"
    );
    assert!(
        bram.table()
            .notices
            .iter()
            .any(|(_, t)| t == "only the GM can start an encounter"),
        "{:?}",
        bram.table().notices
    );
    let encounter = encounter_of(&cy).unwrap();
    assert_eq!(encounter.round, 1);
    let names: Vec<&str> = encounter.order.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 2, "the two players, not the GM: {names:?}");
    assert!(names.contains(&"Bram") && names.contains(&"Cy"));
    let bram_c = encounter.order.iter().find(|c| c.name == "Bram").unwrap();
    assert_eq!(
        (bram_c.initiative.dexterity, bram_c.initiative.modifier),
        (14, 2),
        "from his sheet"
    );
    assert_eq!(bram_c.budget, 192.0, "30 feet on 32-pixel tiles");
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b[2].chat()
                    .lines
                    .iter()
                    .any(|l| l.text.starts_with("rolls initiative: "))
            }
        ),
        "the initiative rolls are said at the table"
    );

    // Whoever is first walks until its budget is spent; the other stands held.
    let first = current_name(&cy).unwrap();
    let (mover, waiter) = if first == "Bram" {
        (&mut bram, &mut cy)
    } else {
        (&mut cy, &mut bram)
    };
    let waiter_id = waiter.client_id().unwrap();
    let mover_id = mover.client_id().unwrap();
    let before = server_player(&server, mover_id);
    let waiting_at = server_player(&server, waiter_id);
    *mover.brain_mut() = pacing();
    *waiter.brain_mut() = pacing();
    let mut walked = false;
    assert!(
        pump_until(
            &mut [&mut *mover, &mut *waiter, &mut gaia],
            Duration::from_secs(6),
            |b| {
                let now = server_player(&server, mover_id);
                walked |= (now.x, now.y) != (before.x, before.y);
                b[0].own_server_state().is_some_and(|s| s.held)
            }
        ),
        "{first} spends the movement and stands"
    );
    assert!(walked, "{first} walked on its turn");
    let still = server_player(&server, waiter_id);
    assert_eq!(
        (still.x, still.y),
        (waiting_at.x, waiting_at.y),
        "out of turn, nobody moves"
    );
    assert!(waiter.own_server_state().is_some_and(|s| s.held));
    // Out of turn, an ability is refused with the reason.
    waiter.use_ability("slash", None);
    assert!(
        pump_until(
            &mut [&mut *mover, &mut *waiter, &mut gaia],
            Duration::from_secs(10),
            |b| { b[1].combat().answers.iter().any(|a| a.refused.is_some()) }
        ),
        "the out-of-turn slash is answered"
    );
    let refused = waiter
        .combat()
        .answers
        .back()
        .unwrap()
        .refused
        .clone()
        .unwrap();
    assert_eq!(refused, format!("it is not your turn ({first}'s turn)"));

    // The mover ends its turn; the other's begins, and the first now stands.
    mover.gm_act("endturn", "").unwrap();
    let second = if first == "Bram" { "Cy" } else { "Bram" };
    assert!(
        pump_until(
            &mut [&mut *mover, &mut *waiter, &mut gaia],
            Duration::from_secs(10),
            |b| {
                current_name(b[1]).as_deref() == Some(second)
                    && !b[1].own_server_state().is_some_and(|s| s.held)
            }
        ),
        "{second}'s turn"
    );
    assert!(
        walks(
            &server,
            &mut [&mut *mover, &mut *waiter, &mut gaia],
            waiter_id,
            Duration::from_secs(2)
        ),
        "{second} walks now"
    );
    for b in [&*mover, &*waiter] {
        assert_eq!(b.prediction().corrections, 0, "turns are no misprediction");
    }

    // Cy's link drops mid-encounter; back, she is told whose turn it is.
    cy.drop_connection();
    gaia.gm_act("encounter", "next").unwrap();
    pump_for(&mut [&mut gaia, &mut bram], Duration::from_millis(500));
    let now = encounter_of(&gaia).unwrap();
    assert_eq!(
        (now.round, now.current().unwrap().name.as_str()),
        (2, first.as_str())
    );
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(20),
            |b| {
                b[2].is_connected()
                    && encounter_of(b[2])
                        .is_some_and(|e| e.round == 2 && e.current().unwrap().name == first)
            }
        ),
        "back, Cy sees the round and the turn"
    );
    assert!(
        encounter_of(&cy)
            .unwrap()
            .order
            .iter()
            .all(|c| c.standing == Standing::Up)
    );
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| { b[2].events().catch_up.is_some() }
        ),
        "Cy gets a catch-up"
    );
    let summary = cy.events().catch_up.clone().unwrap().summary;
    assert!(
        summary.contains(&format!("Round 2: {first}'s turn")),
        "what she missed: {summary}"
    );

    gaia.gm_act("encounter", "end").unwrap();
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(10),
            |b| {
                b.iter().all(|b| encounter_of(b).is_none())
                    && !b[1].own_server_state().is_some_and(|s| s.held)
                    && !b[2].own_server_state().is_some_and(|s| s.held)
            }
        ),
        "the encounter ends and everyone walks again"
    );
}

#[test]
fn campaign_bots_run_an_encounter_and_out_of_turn_strikes_are_refused() {
    use tavern_client::campaign::{CampaignOptions, Role, run_campaign};
    let _turn = crate::common::serial();
    let (_server, url, id, _) =
        campaign_with("campaign-bots", &["Gaia"], json!({"turn_time_limit": 10}));
    let options = |role, count, secs| CampaignOptions {
        server: url.clone(),
        room: id.clone(),
        room_password: Some("keep".into()),
        role,
        count,
        duration: Duration::from_secs(secs),
        connect_timeout: Duration::from_secs(15),
        account: Some(("Gaia".into(), PASSWORD.into())),
    };
    let gm = options(Role::Gm, 1, 12);
    let gm = std::thread::spawn(move || run_campaign(&gm));
    let players = run_campaign(&options(Role::Player, 3, 10)).unwrap();
    let gm = gm.join().unwrap().unwrap();
    assert_eq!((gm.connected, gm.failed), (1, 0));
    assert_eq!((gm.encounters_started, gm.narrations), (1, 1));
    assert!(gm.rounds >= 2, "{gm:?}");
    assert_eq!((players.connected, players.failed), (3, 0), "{players:?}");
    assert!(players.turns_taken >= 3, "{players:?}");
    assert!(players.turn_violations_refused > 0, "{players:?}");
    assert_eq!(players.turns_skipped_wrongly, 0, "{players:?}");
    assert!(players.dice_rolled > 0, "{players:?}");
    assert_eq!(players.corrections_total, 0, "{players:?}");
}
