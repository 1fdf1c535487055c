//! Hot reload: when a map file (or a tileset or template it uses) changes on disk, the
//! map is loaded again and swapped in while everyone keeps playing. Avatars left inside
//! what became a wall are moved to the nearest free spot; a map that no longer loads
//! keeps its old version and the errors are logged.

use std::path::Path;
use std::time::Duration;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::AvatarState;
use tavern_shared::map::{MapData, Problem, check_exits, relative_to};
use tavern_shared::movement::AVATAR_RADIUS;
use tavern_shared::protocol::EnterMap;

use crate::net::to_client;
use crate::players::Controls;
use crate::world::{MapId, Maps, OnMap, load_one, same_file};

/// How often the map files' modification times are checked.
pub const POLL: Duration = Duration::from_millis(500);

/// Whether maps are watched at all (`--no-watch` turns it off).
#[derive(Resource, Debug, Clone, Copy)]
pub struct WatchMaps(pub bool);

#[derive(Resource)]
struct PollTimer(Timer);

pub fn plugin(app: &mut App) {
    app.insert_resource(PollTimer(Timer::new(POLL, TimerMode::Repeating)))
        .add_systems(
            Update,
            reload_changed_maps.run_if(|w: Option<Res<WatchMaps>>| w.is_none_or(|w| w.0)),
        );
}

fn reload_changed_maps(
    time: Res<Time<Real>>,
    mut timer: ResMut<PollTimer>,
    mut maps: ResMut<Maps>,
    mut avatars: Query<(&mut AvatarState, &OnMap)>,
    clients: Query<(Entity, &Controls)>,
    mut enter: MessageWriter<ToClients<EnterMap>>,
) {
    if !timer.0.tick(time.delta()).just_finished() {
        return;
    }
    let changed: Vec<MapId> = (0..maps.maps.len())
        .map(MapId)
        .filter(|id| maps.get(*id).changed_on_disk())
        .collect();
    for id in changed {
        let path = maps.get(id).path.clone();
        let mut fresh = match load_one(&path) {
            Ok(fresh) => fresh,
            Err(errors) => {
                refuse(&mut maps, id, &errors.0);
                continue;
            }
        };
        load_new_exit_targets(&mut maps, &path, &fresh.data);
        let exit_problems = check_exits(&path, &fresh.data, |target| maps.loaded_at(target));
        if exit_problems.iter().any(Problem::is_error) {
            refuse(&mut maps, id, &exit_problems);
            continue;
        }
        fresh.continue_spawns_from(maps.get(id));
        *maps.get_mut(id) = fresh;
        let map = maps.get(id);
        let mut moved = 0;
        for (mut avatar, on) in &mut avatars {
            if on.0 != id {
                continue;
            }
            let pos = avatar.motion.pos;
            let free = map
                .collision
                .nearest_free(&map.data, pos, AVATAR_RADIUS)
                .unwrap_or_else(|| map.data.spawns[0]);
            if free != pos {
                avatar.motion.pos = free;
                avatar.motion.moving = false;
                moved += 1;
            }
        }
        let mut told = 0;
        for (client, controls) in &clients {
            if avatars.get(controls.0).is_ok_and(|(_, on)| on.0 == id) {
                enter.write(to_client(
                    client,
                    EnterMap {
                        map: (*map.data).clone(),
                        arrival: None,
                    },
                ));
                told += 1;
            }
        }
        info!(
            map = %map.data.name,
            file = %path.display(),
            players = told,
            moved_out_of_walls = moved,
            "map reloaded"
        );
    }
}

/// An edit may add an exit to a map file the server doesn't run yet: load it, so the
/// exit leads somewhere (a target that doesn't load is reported by the exit check).
fn load_new_exit_targets(maps: &mut Maps, path: &Path, data: &MapData) {
    for exit in data.zones.iter().filter_map(|z| z.effects.exit.as_ref()) {
        let target = relative_to(path, Path::new(&exit.file));
        if !target.is_file() || maps.maps.iter().any(|m| same_file(&m.path, &target)) {
            continue;
        }
        if maps.by_name(&exit.map).is_some() {
            continue;
        }
        match load_one(&target) {
            Ok(map) => {
                info!(map = %map.data.name, file = %target.display(), "new map loaded for an exit");
                maps.maps.push(map);
            }
            Err(errors) => {
                for p in &errors.0 {
                    error!("{p}");
                }
            }
        }
    }
}

/// Logs why a changed map was not swapped in, and remembers the files' new times so the
/// same broken version is reported once, not every poll.
fn refuse(maps: &mut Maps, id: MapId, problems: &[Problem]) {
    let map = maps.get_mut(id);
    error!(
        map = %map.data.name,
        file = %map.path.display(),
        "the changed map does not load; players keep the previous version"
    );
    for p in problems {
        if p.is_error() {
            error!("{p}");
        } else {
            warn!("{p}");
        }
    }
    map.refresh_watched();
}
