//! Hot reload end to end: a server runs a copy of the sample world; the test edits the
//! town's TMX while a client plays. The client gets the new map, the avatar the edit
//! walled in is moved to a free spot, a broken edit is refused (old map kept, nobody
//! disconnected), and fixing the file is picked up again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{pump_for, pump_until, server_players, temp_dir};
use bevy::math::IVec2;
use tavern_client::bot::{Bot, Brain};
use tavern_client::prediction::CurrentMap;
use tavern_server::ServerConfig;
use tavern_shared::map::MapData;
use tavern_shared::movement::AVATAR_RADIUS;

fn copy_world(into: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let maps = into.join("maps");
    std::fs::create_dir_all(&maps).unwrap();
    std::fs::create_dir_all(into.join("assets/tilesets")).unwrap();
    for f in ["town.tmx", "town.tsx", "dungeon.tmj"] {
        std::fs::copy(repo.join("maps").join(f), maps.join(f)).unwrap();
    }
    std::fs::copy(
        repo.join("assets/tilesets/town.png"),
        into.join("assets/tilesets/town.png"),
    )
    .unwrap();
    maps
}

/// Sets one cell of a CSV tile layer in a TMX file's text.
fn set_cell(tmx: &str, layer: &str, width: u32, cell: IVec2, gid: u32) -> String {
    let at = tmx
        .find(&format!("name=\"{layer}\""))
        .expect("layer in file");
    let open =
        at + tmx[at..].find("<data encoding=\"csv\">").unwrap() + "<data encoding=\"csv\">".len();
    let close = open + tmx[open..].find("</data>").unwrap();
    let mut values: Vec<u32> = tmx[open..close]
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    values[(cell.y as u32 * width + cell.x as u32) as usize] = gid;
    let rows: Vec<String> = values
        .chunks(width as usize)
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    format!("{}\n{}\n{}", &tmx[..open], rows.join(",\n"), &tmx[close..])
}

fn client_map(bot: &Bot) -> Option<MapData> {
    bot.app
        .world()
        .get_resource::<CurrentMap>()
        .map(|m| (*m.data).clone())
}

/// Writes a file so its modification time surely differs from the last write's.
fn rewrite(path: &Path, text: &str) {
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(path, text).unwrap();
}

#[test]
fn edited_maps_reload_for_players_and_broken_edits_are_refused() {
    let _turn = crate::common::serial();
    let dir = temp_dir("reload");
    let maps = copy_world(&dir);
    let mut config = ServerConfig::local(dir.join("data"));
    config.maps = vec![maps.clone()];
    let server = tavern_server::start(config).expect("the server starts");
    let mut bot = Bot::new(&server.http_url(), "Builder", Brain::Idle);
    assert!(
        pump_until(&mut [&mut bot], Duration::from_secs(15), |b| {
            b[0].own_server_state().is_some() && client_map(b[0]).is_some()
        }),
        "the client joins: {:?}",
        bot.status()
    );
    let before = client_map(&bot).unwrap();
    let pos = bot.own_server_state().unwrap().motion.pos;
    let cell = before.cell_at(pos);
    assert!(!before.is_solid_cell(cell));

    // Wall in the cell the avatar stands on (and stop spawning there).
    let town = maps.join("town.tmx");
    let original = std::fs::read_to_string(&town).unwrap();
    let wall_gid = 4;
    let edited = set_cell(&original, "walls", before.width, cell, wall_gid);
    let edited = set_cell(&edited, "start", before.width, cell, 0);
    rewrite(&town, &edited);

    let reloaded = pump_until(&mut [&mut bot], Duration::from_secs(10), |b| {
        let map_changed = client_map(b[0]).is_some_and(|m| m.is_solid_cell(cell));
        let moved = b[0]
            .own_server_state()
            .is_some_and(|s| before.cell_at(s.motion.pos) != cell);
        map_changed && moved
    });
    assert!(
        reloaded,
        "the client sees the new wall and the avatar is moved off it"
    );
    let after = client_map(&bot).unwrap();
    let new_pos = bot.own_server_state().unwrap().motion.pos;
    assert!(
        new_pos.distance(pos) <= 2.0 * before.tile_width as f32,
        "moved to a nearby spot: {pos} -> {new_pos}"
    );
    let world = tavern_shared::collision::CollisionWorld::from_map(&after);
    assert!(
        world.is_free(new_pos, AVATAR_RADIUS),
        "the new spot is free"
    );
    assert!(bot.is_connected());

    // A broken edit: the server keeps the last good version, nobody is disconnected.
    rewrite(
        &town,
        &original.replace("<layer id=\"2\"", "<layer id=\"2\" <oops"),
    );
    pump_for(&mut [&mut bot], Duration::from_millis(1500));
    assert!(
        bot.is_connected(),
        "a broken map does not disconnect anyone"
    );
    assert_eq!(
        client_map(&bot).unwrap(),
        after,
        "the client keeps the last good map"
    );
    assert_eq!(server_players(&server).len(), 1);

    // The review's hostile maps copied over the running ones: each is refused, the game
    // goes on with the last good version.
    for (hostile, _) in crate::maps::hostile_maps(&dir.join("hostile")) {
        let text = std::fs::read(&hostile).unwrap();
        let target = if hostile.extension().is_some_and(|e| e == "tmx") {
            town.clone()
        } else {
            maps.join("dungeon.tmj")
        };
        let kept = std::fs::read(&target).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&target, &text).unwrap();
        pump_for(&mut [&mut bot], Duration::from_millis(1200));
        assert!(
            !server.has_stopped(),
            "{} did not stop the game",
            hostile.display()
        );
        assert!(bot.is_connected(), "{}", hostile.display());
        assert_eq!(client_map(&bot).unwrap(), after, "{}", hostile.display());
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&target, &kept).unwrap();
    }

    // Fixing the file is picked up: back to the original layout.
    rewrite(&town, &original);
    assert!(
        pump_until(&mut [&mut bot], Duration::from_secs(10), |b| {
            client_map(b[0]).is_some_and(|m| !m.is_solid_cell(cell))
        }),
        "the repaired map is loaded"
    );
    assert_eq!(client_map(&bot).unwrap(), before);

    // An edit may add an exit to a brand-new map file: the server loads that map too.
    std::fs::copy(maps.join("dungeon.tmj"), maps.join("cave.tmj")).unwrap();
    let with_exit = original.replace(
        " </objectgroup>",
        "  <object id=\"90\" name=\"Crack\" type=\"area\" x=\"32\" y=\"32\" width=\"32\" height=\"32\"><properties><property name=\"exitUrl\" value=\"cave.tmj#from-town\"/></properties></object>\n </objectgroup>",
    );
    rewrite(&town, &with_exit);
    assert!(
        pump_until(&mut [&mut bot], Duration::from_secs(10), |b| {
            client_map(b[0]).is_some_and(|m| {
                m.zones
                    .iter()
                    .any(|z| z.effects.exit.as_ref().is_some_and(|e| e.map == "cave"))
            })
        }),
        "the edit with an exit to a new map is accepted"
    );
    server.stop();
}
