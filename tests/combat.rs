//! Combat end to end: a real server, bots over UDP fighting the monsters of a small
//! room; every hit, death and refusal decided by the server.

use std::time::Duration;

use bevy::math::Vec2;
use tavern_client::bot::{Bot, Brain};
use tavern_client::fight::Cheat;
use tavern_server::{RunningServer, ServerConfig};
use tavern_shared::combat::messages::CombatEvent;
use tavern_shared::content::Content;

use crate::common::{copy_content, edit_file, join, pump_until, temp_dir, write_room};

/// A server on a walled room with one monster spawn (`objects` added), content edited
/// by `edit` (file, from, to).
fn arena(name: &str, objects: serde_json::Value, edits: &[(&str, &str, &str)]) -> RunningServer {
    let dir = temp_dir(name);
    let content = copy_content(&dir);
    for (file, from, to) in edits {
        edit_file(&content, file, from, to);
    }
    let map = write_room(&dir.join("maps"), "arena.tmj", objects);
    let mut config = ServerConfig::local(dir.join("data"));
    config.content_dir = content;
    config.maps = vec![map];
    config.combat_seed = Some(7);
    tavern_server::start(config).expect("the server starts")
}

/// A slime that comes back only after ten minutes, at `x`, `y`.
fn slime_at(id: u32, x: f32, y: f32) -> serde_json::Value {
    slime_back_after(id, x, y, 600.0)
}

/// A slime at `x`, `y` that comes back `secs` after it died.
fn slime_back_after(id: u32, x: f32, y: f32, secs: f32) -> serde_json::Value {
    serde_json::json!({"id": id, "name": "Slime", "x": x, "y": y, "point": true,
    "properties": [
        {"name": "enemySpawn", "type": "string", "value": "slime"},
        {"name": "respawnSecs", "type": "float", "value": secs}
    ]})
}

/// The content as the server serves it, as a client or tool would fetch it.
fn served_content(server: &RunningServer) -> Content {
    let mut r = ureq::get(format!("{}/api/content", server.http_url()))
        .call()
        .unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn deaths_of(bot: &Bot, who: u32) -> Vec<Vec<u32>> {
    bot.combat()
        .events
        .iter()
        .filter_map(|e| match e {
            CombatEvent::Died {
                who: w, credited, ..
            } if *w == who => Some(credited.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn two_players_kill_a_monster_together_and_both_are_credited() {
    let _turn = crate::common::serial();
    // A tougher slime, so the fight lasts long enough for both to strike.
    let server = arena(
        "combat-together",
        serde_json::json!([slime_at(1, 400.0, 112.0)]),
        &[(
            "combat_stats.toml",
            "[slime]\nhealth = 30",
            "[slime]\nhealth = 90",
        )],
    );
    let url = server.http_url();
    let content = served_content(&server);
    let mut ada = join(&url, "Ada", &mut []);
    let mut bo = join(&url, "Bo", &mut [&mut ada]);
    let slime = {
        let mut found = None;
        assert!(
            pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(10), |b| {
                found = b[0].monsters().first().map(|m| m.0);
                found.is_some()
            }),
            "Ada sees the slime"
        );
        found.unwrap()
    };
    *ada.brain_mut() = Brain::fight(&content, false);
    *bo.brain_mut() = Brain::fight(&content, false);
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(40), |b| {
            !deaths_of(b[0], slime).is_empty() && !deaths_of(b[1], slime).is_empty()
        }),
        "the slime dies: Ada {:?}, Bo {:?}",
        ada.combat(),
        bo.combat()
    );
    // A moment more: no second death arrives.
    *ada.brain_mut() = Brain::Idle;
    *bo.brain_mut() = Brain::Idle;
    crate::common::pump_for(&mut [&mut ada, &mut bo], Duration::from_millis(500));
    let (ada_id, bo_id) = (ada.own_stream_id().unwrap(), bo.own_stream_id().unwrap());
    for bot in [&ada, &bo] {
        let deaths = deaths_of(bot, slime);
        assert_eq!(deaths.len(), 1, "one death: {deaths:?}");
        let mut credited = deaths[0].clone();
        credited.sort_unstable();
        let mut both = vec![ada_id, bo_id];
        both.sort_unstable();
        assert_eq!(credited, both, "both are credited");
        let log = bot.combat();
        assert_eq!(log.kills, 1);
        assert!(log.damage_dealt > 0);
        assert_eq!(
            log.refused, 0,
            "honest uses are never refused: {:?}",
            log.answers
        );
    }
    // Both saw every hit on it, in the same order.
    let hits = |bot: &Bot| -> Vec<(Option<u32>, u32)> {
        bot.combat()
            .events
            .iter()
            .filter_map(|e| match e {
                CombatEvent::Hit {
                    attacker,
                    target,
                    amount,
                    ..
                } if *target == slime => Some((*attacker, *amount)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(hits(&ada), hits(&bo));
    assert!(hits(&ada).iter().map(|h| h.1).sum::<u32>() >= 90);
    for bot in [&ada, &bo] {
        assert_eq!(bot.prediction().corrections, 0);
    }

    // The event log tells the same story: numbered from 1 without gaps, the slime's
    // damage adds up to its 90 health, one death crediting both players' identities,
    // and one roll's drops (an item at most, and gold).
    let token = ada.api_token().unwrap();
    let (status, body) =
        crate::common::api_get(&format!("{url}/api/events/arena?limit=500"), &token);
    assert_eq!(status, 200, "{body}");
    let events: Vec<tavern_shared::api::CombatLogEntry> = serde_json::from_str(&body).unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    let slime_label = events
        .iter()
        .find(|e| e.kind == "death" && e.target.starts_with("slime#"))
        .map(|e| e.target.clone())
        .expect("the slime's death is logged");
    let to_slime: i64 = events
        .iter()
        .filter(|e| e.kind == "damage" && e.target == slime_label)
        .map(|e| e.amount)
        .sum();
    assert_eq!(to_slime, 90, "{events:#?}");
    let deaths: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "death" && e.target == slime_label)
        .collect();
    assert_eq!(deaths.len(), 1);
    let mut credited: Vec<&str> = deaths[0].detail.split(',').collect();
    credited.sort_unstable();
    assert_eq!(credited.len(), 2, "{credited:?}");
    assert!(
        credited.iter().all(|c| c.starts_with("guest:")),
        "{credited:?}"
    );
    let drops: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "drop" && e.actor == slime_label)
        .collect();
    assert!((1..=2).contains(&drops.len()) && drops.iter().any(|d| d.detail == "gold"));
    let (status, body) = crate::common::api_get(&format!("{url}/api/events/arena?limit=0"), &token);
    assert_eq!(status, 400, "{body}");
    let (status, _) = crate::common::api_get(&format!("{url}/api/events/arena"), "not-a-token");
    assert_eq!(status, 401);
    server.stop();
}

#[test]
fn every_cheat_is_refused_with_its_reason() {
    let _turn = crate::common::serial();
    // A wall from the top down to row 4 at column 9, a slime behind it, and one far off.
    let wall = serde_json::json!({"id": 3, "name": "Wall", "x": 288, "y": 32, "width": 32,
        "height": 128, "properties": [{"name": "collides", "type": "bool", "value": true}]});
    let server = arena(
        "combat-cheats",
        serde_json::json!([slime_at(1, 336.0, 80.0), slime_at(2, 560.0, 200.0), wall]),
        &[(
            "enemy_types.toml",
            "aggro_radius = 160.0",
            "aggro_radius = 1.0",
        )],
    );
    let url = server.http_url();
    let mut ada = join(&url, "Ada", &mut []);
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(10), |b| b[0]
            .monsters()
            .len()
            == 2),
        "Ada sees both slimes"
    );
    // Walk next to the wall: x 272, y 80 (the slime is 64 px away, behind it).
    let at = ada.own_server_state().unwrap().motion.pos;
    let target = Vec2::new(270.0, 80.0);
    let ticks = ((target - at).length() / (160.0 / 60.0)) as u32;
    *ada.brain_mut() = Brain::Script([crate::common::walk(target - at, ticks)].into());
    assert!(pump_until(&mut [&mut ada], Duration::from_secs(10), |b| {
        b[0].brain_mut().is_done() && b[0].own_server_state().is_some_and(|s| !s.motion.moving)
    }));
    let monsters = ada.monsters();
    let behind = monsters
        .iter()
        .find(|m| m.2.motion.pos.x < 400.0)
        .unwrap()
        .2
        .motion
        .pos;
    let far = monsters
        .iter()
        .find(|m| m.2.motion.pos.x > 400.0)
        .unwrap()
        .2
        .motion
        .pos;

    let tries: Vec<(&str, Option<Vec2>, &str)> = vec![
        ("slash", Some(far), "px away; Slash reaches 48 px"),
        ("fireball", Some(behind), "a wall is in the way"),
        ("smash", Some(behind), "Smash is not on your hotbar"),
        (
            "dragon-breath",
            Some(behind),
            "dragon-breath is not on your hotbar",
        ),
        (
            "slash",
            Some(Vec2::new(f32::NAN, 0.0)),
            "the aim is not a point on the map",
        ),
    ];
    for (ability, aim, reason) in &tries {
        ada.use_ability(ability, *aim);
        let answered = pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
            b[0].combat().awaiting == 0
        });
        assert!(answered, "{ability} is answered");
        let refusal = ada.combat().last_refusal().unwrap_or_default().to_string();
        assert!(refusal.contains(reason), "{ability}: {refusal:?}");
    }
    assert_eq!(ada.combat().refused, tries.len() as u32);
    // A long ability id is refused before anything else.
    ada.use_ability(&"x".repeat(100), Some(behind));
    pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
        b[0].combat().awaiting == 0
    });
    assert_eq!(ada.combat().last_refusal(), Some("that is not an ability"));

    // Kicking the air: nothing there to hit.
    ada.use_ability("kick", Some(Vec2::new(240.0, 200.0)));
    pump_until(&mut [&mut ada], Duration::from_secs(5), |b| {
        b[0].combat().awaiting == 0
    });
    assert_eq!(ada.combat().last_refusal(), Some("there is no enemy there"));

    // Nothing was taken for refused uses: full mana and stamina (minus nothing).
    let vitals = ada.own_vitals().unwrap();
    assert_eq!(
        (vitals.mana, vitals.stamina),
        (vitals.max_mana, vitals.max_stamina)
    );
    assert!(
        ada.combat()
            .events
            .iter()
            .all(|e| !matches!(e, CombatEvent::Hit { .. }))
    );

    // Now a cheating fighter: it also fights honestly, and every cheat is refused.
    let content = served_content(&server);
    *ada.brain_mut() = Brain::fight(&content, true);
    pump_until(&mut [&mut ada], Duration::from_secs(12), |b| {
        b[0].cheats().tried_kinds.len() == 3
    });
    let cheats = ada.cheats().clone();
    assert!(cheats.tried >= 3, "{cheats:?}");
    for kind in [Cheat::OutOfRange, Cheat::ThroughWall, Cheat::DuringCooldown] {
        assert!(
            cheats.tried_kinds.contains(&kind),
            "{kind:?} tried: {cheats:?}"
        );
    }
    assert_eq!(cheats.accepted, 0, "{cheats:?}");
    server.stop();
}

#[test]
fn a_player_dies_once_and_comes_back_at_the_entry_with_full_health() {
    let _turn = crate::common::serial();
    // A slime whose bite kills at once, at the far end, that sees the whole room: it
    // comes, kills, and walks home (the dead are no prey) before coming again.
    let server = arena(
        "combat-death",
        serde_json::json!([slime_at(1, 560.0, 112.0)]),
        &[
            ("abilities.toml", "damage = [3, 5]", "damage = [500, 500]"),
            (
                "enemy_types.toml",
                "aggro_radius = 160.0",
                "aggro_radius = 600.0",
            ),
            (
                "enemy_types.toml",
                "leash_radius = 420.0",
                "leash_radius = 800.0",
            ),
        ],
    );
    let url = server.http_url();
    let mut ada = join(&url, "Ada", &mut []);
    let me = ada.own_stream_id().unwrap();
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(20), |b| {
            !deaths_of(b[0], me).is_empty()
        }),
        "the slime kills Ada"
    );
    assert_eq!(ada.combat().respawn_secs, Some(5.0));
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(3), |b| {
            b[0].own_vitals().is_some_and(|v| v.health == 0)
        }),
        "Ada is told she has no health"
    );
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(10), |b| {
            b[0].combat()
                .events
                .iter()
                .any(|e| matches!(e, CombatEvent::Respawned { who, .. } if *who == me))
        }),
        "Ada comes back"
    );
    assert!(pump_until(&mut [&mut ada], Duration::from_secs(3), |b| {
        b[0].own_vitals().is_some_and(|v| v.health == v.max_health)
    }));
    assert_eq!(deaths_of(&ada, me).len(), 1);
    assert_eq!(ada.combat().deaths, 1);
    assert_eq!(
        ada.prediction().corrections,
        0,
        "dying and coming back are not misses"
    );
    server.stop();
}

#[test]
fn fighting_bots_report_kills_and_no_refusals_and_cheating_bots_get_nothing_through() {
    let _turn = crate::common::serial();
    let server = arena(
        "combat-bots",
        serde_json::json!([
            slime_back_after(1, 400.0, 112.0, 2.0),
            slime_back_after(2, 500.0, 150.0, 2.0)
        ]),
        &[],
    );
    let url = server.http_url();
    let content = std::sync::Arc::new(
        tavern_client::http::wait(tavern_client::login::fetch_content(&url)).unwrap(),
    );
    let options = |cheat| tavern_client::load::BotOptions {
        server: url.clone(),
        count: 3,
        duration: Duration::from_secs(8),
        fight: Some(content.clone()),
        cheat,
        ..Default::default()
    };
    let report = tavern_client::load::run_bots(&options(false));
    let fight = report.fight.clone().expect("a fight report");
    assert_eq!(report.connected, 3, "{:?}", report.failures);
    assert!(fight.kills >= 1, "{fight:?}");
    assert!(fight.damage_dealt >= 30, "{fight:?}");
    assert!(fight.loot_picked >= 1, "slimes always drop gold: {fight:?}");
    assert_eq!(fight.actions_refused, 0, "{fight:?}");
    assert_eq!((fight.cheats_tried, fight.cheats_accepted), (None, None));
    let json = serde_json::to_value(&report).unwrap();
    for key in ["kills", "deaths", "damage_dealt", "actions_refused"] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }

    let report = tavern_client::load::run_bots(&options(true));
    let fight = report.fight.expect("a fight report");
    assert!(fight.cheats_tried.unwrap() >= 3, "{fight:?}");
    assert_eq!(fight.cheats_accepted, Some(0), "{fight:?}");
    assert_eq!(
        fight.actions_refused, 0,
        "honest uses among cheats: {fight:?}"
    );
    server.stop();
}

#[test]
fn a_boss_phase_reaches_everyone_on_the_map() {
    let _turn = crate::common::serial();
    let ogre = serde_json::json!({"id": 1, "name": "Ogre", "x": 420.0, "y": 112.0,
        "point": true, "properties": [{"name": "boss", "type": "string", "value": "ogre"}]});
    let server = arena(
        "combat-boss",
        serde_json::json!([ogre]),
        &[(
            "combat_stats.toml",
            "[ogre]\nhealth = 400",
            "[ogre]\nhealth = 120",
        )],
    );
    let url = server.http_url();
    let content = served_content(&server);
    let mut ada = join(&url, "Ada", &mut []);
    let mut bo = join(&url, "Bo", &mut [&mut ada]);
    *ada.brain_mut() = Brain::fight(&content, false);
    let phase_of = |bot: &Bot| -> Vec<String> {
        bot.combat()
            .events
            .iter()
            .filter_map(|e| match e {
                CombatEvent::Phase { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect()
    };
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(40), |b| {
            phase_of(b[0]).contains(&"Enraged".to_string())
                && phase_of(b[1]).contains(&"Enraged".to_string())
        }),
        "both hear of the phase: Ada {:?}, Bo {:?}",
        phase_of(&ada),
        phase_of(&bo)
    );
    // In order, each once, the same for both.
    let ada_phases = phase_of(&ada);
    assert_eq!(ada_phases[0], "Enraged");
    assert_eq!(
        ada_phases,
        phase_of(&bo)[..ada_phases.len().min(phase_of(&bo).len())]
    );
    server.stop();
}

#[test]
fn two_players_asking_for_the_same_loot_at_once_get_it_once() {
    let _turn = crate::common::serial();
    // A frail slime that always drops gold.
    let server = arena(
        "combat-loot",
        serde_json::json!([slime_at(1, 200.0, 112.0)]),
        &[(
            "combat_stats.toml",
            "[slime]\nhealth = 30",
            "[slime]\nhealth = 12",
        )],
    );
    let url = server.http_url();
    let mut ada = join(&url, "Ada", &mut []);
    let mut bo = join(&url, "Bo", &mut [&mut ada]);
    // Ada throws a fireball at the slime while it is still away from them both, so its
    // loot lies where nobody stands.
    crate::common::fireball_first_monster(&mut [&mut ada, &mut bo]);
    let mut piles = Vec::new();
    assert!(
        pump_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |b| {
            piles = b[0].loot();
            !piles.is_empty() && b[1].loot().len() == piles.len()
        }),
        "both see the loot: Ada {:?} {:?}, Bo {:?} {:?}",
        ada.loot(),
        ada.combat().pickups,
        bo.loot(),
        bo.combat().pickups
    );
    // One roll of the slime's table: one item pile at most, and its gold.
    assert!((1..=2).contains(&piles.len()), "{piles:?}");
    assert!(
        piles
            .iter()
            .any(|(_, kind, _)| kind.item.is_none() && kind.count >= 1)
    );
    // The pile nearest the players, so walking to it passes no other.
    piles.sort_by(|a, b| a.2.x.total_cmp(&b.2.x));
    let (loot, _, at) = piles[0].clone();
    // Both step within reach (not onto it: walking over it picks it up).
    for bot in [&mut ada, &mut bo] {
        let from = bot.own_server_state().unwrap().motion.pos;
        *bot.brain_mut() = Brain::Script(crate::common::walk_near(from, at, 28.0));
    }
    assert!(pump_until(
        &mut [&mut ada, &mut bo],
        Duration::from_secs(5),
        |b| {
            b.iter_mut().all(|bot| {
                bot.brain_mut().is_done()
                    && bot.own_server_state().is_some_and(|s| !s.motion.moving)
            })
        }
    ));
    for bot in [&mut ada, &mut bo] {
        let d = bot.own_server_state().unwrap().motion.pos.distance(at);
        assert!(d > 16.0 && d <= 40.0, "{d}");
    }
    ada.pick_up(loot);
    bo.pick_up(loot);
    assert!(pump_until(
        &mut [&mut ada, &mut bo],
        Duration::from_secs(5),
        |b| { b.iter().all(|bot| !bot.combat().pickups.is_empty()) }
    ));
    let answers: Vec<_> = [&ada, &bo]
        .iter()
        .map(|bot| bot.combat().pickups.back().unwrap().clone())
        .collect();
    let won: Vec<_> = answers.iter().filter(|a| a.refused.is_none()).collect();
    assert_eq!(won.len(), 1, "exactly one gets it: {answers:?}");
    let lost = answers.iter().find(|a| a.refused.is_some()).unwrap();
    let winner = if answers[0].refused.is_none() {
        "Ada"
    } else {
        "Bo"
    };
    assert_eq!(
        lost.refused.as_deref(),
        Some(format!("already taken by {winner}").as_str())
    );
    // The winner holds it; asking again is refused.
    let (winner_bot, _) = if winner == "Ada" {
        (&mut ada, &mut bo)
    } else {
        (&mut bo, &mut ada)
    };
    assert!(pump_until(
        &mut [&mut *winner_bot],
        Duration::from_secs(3),
        |b| { b[0].inventory().gold > 0 || !b[0].inventory().items.is_empty() }
    ));
    winner_bot.pick_up(loot);
    assert!(pump_until(
        &mut [&mut *winner_bot],
        Duration::from_secs(3),
        |b| { b[0].combat().pickups.len() == 2 }
    ));
    assert_eq!(
        winner_bot
            .combat()
            .pickups
            .back()
            .unwrap()
            .refused
            .as_deref(),
        Some("you already took it")
    );
    // Using what one does not have is refused with the reason.
    winner_bot.use_item("mana-potion");
    let before = winner_bot.inventory().clone();
    assert!(
        pump_until(&mut [&mut *winner_bot], Duration::from_secs(3), |b| {
            b[0].inventory().refused.is_some()
        }),
        "{before:?}"
    );
    let refused = winner_bot.inventory().refused.clone().unwrap();
    assert!(
        refused == "you have no Mana potion"
            || before.items.iter().any(|(i, _)| i == "mana-potion"),
        "{refused}"
    );
    server.stop();
}
