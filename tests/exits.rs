//! Exits between the two sample maps, end to end: a player walks from the town plaza into
//! the cellar stairs, arrives at the dungeon's `from-town` entry, can walk there, leaves
//! the town player's view, and comes back through the dungeon's exit.

use std::collections::VecDeque;
use std::time::Duration;

use crate::common::{join, pump_until, sees, server_player, start_server, walk};
use bevy::prelude::*;
use tavern_client::bot::{Bot, Brain};
use tavern_client::prediction::CurrentMap;
use tavern_shared::input::InputFrame;

fn map_name(bot: &Bot) -> Option<String> {
    bot.app
        .world()
        .get_resource::<CurrentMap>()
        .map(|m| m.data.name.clone())
}

#[test]
fn a_player_walks_to_the_dungeon_and_back() {
    let _turn = crate::common::serial();
    let server = start_server("exits", None);
    let url = server.http_url();
    // The traveller joins first, so it gets the first spawn point.
    let mut traveller = join(&url, "Traveller", &mut []);
    let mut stayer = join(&url, "Stayer", &mut [&mut traveller]);
    let t = traveller.client_id().unwrap();
    assert!(pump_until(
        &mut [&mut traveller, &mut stayer],
        Duration::from_secs(5),
        |b| sees(b[1], t)
    ));
    let start = traveller.own_server_state().unwrap().motion.pos;
    assert_eq!(start, Vec2::new(624.0, 464.0), "the first plaza spawn");

    // East along the plaza row to the cellar stairs, then a step north into them.
    *traveller.brain_mut() = Brain::Script(VecDeque::from([
        walk(Vec2::X, 220),
        walk(-Vec2::Y, 30),
        (1, InputFrame::default()),
    ]));
    assert!(
        pump_until(
            &mut [&mut traveller, &mut stayer],
            Duration::from_secs(15),
            |b| {
                let there = map_name(b[0]).as_deref() == Some("dungeon");
                if there {
                    *b[0].brain_mut() = Brain::Idle; // stop walking once through
                }
                there
            }
        ),
        "the traveller reaches the dungeon: {:?}",
        traveller.own_server_state()
    );
    assert!(
        pump_until(
            &mut [&mut traveller, &mut stayer],
            Duration::from_secs(5),
            |b| {
                b[0].own_server_state()
                    .is_some_and(|s| s.motion.pos.distance(Vec2::new(80.0, 48.0)) < 8.0)
                    && !sees(b[1], t)
            }
        ),
        "arrived at the dungeon's `from-town` entry, out of the town player's view"
    );
    assert_eq!(server_player(&server, t).map, "dungeon");
    // The zones come in their own message, which may follow the position.
    assert!(
        pump_until(&mut [&mut traveller], Duration::from_secs(5), |b| {
            b[0].own_zones() == Some(vec![0])
        }),
        "inside the dungeon's entrance room: {:?}",
        traveller.own_zones()
    );

    // Along the entrance room's west wall, down into the way back to town.
    *traveller.brain_mut() = Brain::Script(VecDeque::from([
        walk(-Vec2::X, 20),
        walk(Vec2::Y, 60),
        (1, InputFrame::default()),
    ]));
    assert!(
        pump_until(
            &mut [&mut traveller, &mut stayer],
            Duration::from_secs(10),
            |b| {
                let there = map_name(b[0]).as_deref() == Some("town");
                if there {
                    *b[0].brain_mut() = Brain::Idle;
                }
                there && sees(b[1], t)
            }
        ),
        "back in town and seen again: {:?}",
        traveller.own_server_state()
    );
    let back = server_player(&server, t);
    assert_eq!(back.map, "town");
    // Within a few pixels: inputs sent after arriving (before the bot stood still) count.
    let entry = Vec2::new(1136.0, 400.0);
    assert!(
        Vec2::new(back.x, back.y).distance(entry) < 8.0,
        "at the town's `from-dungeon` entry: {back:?}"
    );
    assert_eq!(
        traveller.prediction().corrections,
        0,
        "map changes are not mispredictions"
    );
    server.stop();
}
