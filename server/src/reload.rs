//! Hot reload: when a map file (or a tileset or template it uses) changes on disk, the
//! map is loaded again on a thread of its own (never the game loop's) and swapped in
//! while everyone keeps playing. Avatars left inside what became a wall are moved to the
//! nearest free spot; a map that no longer loads, or names content that does not exist,
//! keeps its old version and the errors are logged.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::AvatarState;
use tavern_shared::map::{MapErrors, Problem, check_exits, relative_to};
use tavern_shared::movement::AVATAR_RADIUS;
use tavern_shared::protocol::EnterMap;

use crate::net::to_client;
use crate::players::Controls;
use crate::world::{FileId, LoadedMap, Maps, OnMap, load_one, same_file};

/// How often the map files' modification times are checked.
pub const POLL: Duration = Duration::from_millis(500);
/// Stack of a loading thread: parsers recurse, and nesting is bounded but deep.
const LOADER_STACK: usize = 32 * 1024 * 1024;

/// A changed map and the maps its exits lead to, loaded off the game thread.
struct Prepared {
    fresh: Result<LoadedMap, MapErrors>,
    targets: Vec<(PathBuf, Result<LoadedMap, MapErrors>)>,
}

/// Maps being loaded right now.
#[derive(Resource, Default)]
struct Loading(Vec<(FileId, Mutex<Receiver<Prepared>>)>);

/// Whether maps are watched at all (`--no-watch` turns it off).
#[derive(Resource, Debug, Clone, Copy)]
pub struct WatchMaps(pub bool);

#[derive(Resource)]
struct PollTimer(Timer);

pub fn plugin(app: &mut App) {
    app.insert_resource(PollTimer(Timer::new(POLL, TimerMode::Repeating)))
        .init_resource::<Loading>()
        .add_systems(
            Update,
            (start_loading_changed_maps, swap_in_loaded_maps)
                .chain()
                .run_if(|w: Option<Res<WatchMaps>>| w.is_none_or(|w| w.0)),
        );
}

/// Loads `path` and, if it loads, the maps its exits lead to that are not among
/// `running` (the files of the maps already loaded), on a thread of its own.
fn spawn_loader(path: PathBuf, running: Vec<PathBuf>) -> std::io::Result<Receiver<Prepared>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("tavern-map-load".into())
        .stack_size(LOADER_STACK)
        .spawn(move || {
            let fresh = load_one(&path);
            let targets = match &fresh {
                Ok(map) => map
                    .data
                    .zones
                    .iter()
                    .filter_map(|z| z.effects.exit.as_ref())
                    .map(|exit| relative_to(&path, Path::new(&exit.file)))
                    .filter(|target| {
                        target.is_file() && !running.iter().any(|r| same_file(r, target))
                    })
                    .map(|target| {
                        let loaded = load_one(&target);
                        (target, loaded)
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            let _ = tx.send(Prepared { fresh, targets });
        })?;
    Ok(rx)
}

fn start_loading_changed_maps(
    time: Res<Time<Real>>,
    mut timer: ResMut<PollTimer>,
    mut maps: ResMut<Maps>,
    mut loading: ResMut<Loading>,
) {
    if !timer.0.tick(time.delta()).just_finished() {
        return;
    }
    let changed: Vec<FileId> = (0..maps.files.len())
        .map(FileId)
        .filter(|id| !loading.0.iter().any(|(busy, _)| busy == id))
        .filter(|id| maps.file(*id).changed_on_disk())
        .collect();
    for id in changed {
        // This version is being handled; a later edit is noticed as a new change.
        maps.file_mut(id).refresh_watched();
        let path = maps.file(id).path.clone();
        let running = maps.files.iter().map(|m| m.path.clone()).collect();
        match spawn_loader(path, running) {
            Ok(rx) => loading.0.push((id, Mutex::new(rx))),
            Err(e) => {
                error!(file = %maps.file(id).path.display(), "cannot start loading the changed map: {e}")
            }
        }
    }
}

fn swap_in_loaded_maps(
    mut maps: ResMut<Maps>,
    mut loading: ResMut<Loading>,
    mut avatars: Query<(&mut AvatarState, &OnMap)>,
    clients: Query<(Entity, &Controls)>,
    mut enter: MessageWriter<ToClients<EnterMap>>,
    rate: Res<crate::net::rate::SendRate>,
    hearing: Res<crate::voice::HearingRadius>,
    content: Option<Res<crate::content::ContentHandle>>,
    served: Option<Res<crate::assets::ServedAssets>>,
) {
    let mut ready = Vec::new();
    loading.0.retain_mut(|(id, rx)| {
        match rx
            .get_mut()
            .map_or(Err(TryRecvError::Disconnected), |rx| rx.try_recv())
        {
            Ok(prepared) => {
                ready.push((*id, prepared));
                false
            }
            Err(TryRecvError::Empty) => true,
            Err(TryRecvError::Disconnected) => {
                ready.push((
                    *id,
                    Prepared {
                        fresh: Err(MapErrors(vec![Problem::error(
                            "",
                            "",
                            "the map loader stopped without an answer",
                        )])),
                        targets: Vec::new(),
                    },
                ));
                false
            }
        }
    });
    for (id, prepared) in ready {
        let path = maps.file(id).path.clone();
        let fresh = match prepared.fresh {
            Ok(fresh) => fresh,
            Err(errors) => {
                refuse(&mut maps, id, &errors.0);
                continue;
            }
        };
        add_new_exit_targets(&mut maps, prepared.targets);
        let exit_problems = check_exits(&path, &fresh.data, |target| maps.loaded_at(target));
        if exit_problems.iter().any(Problem::is_error) {
            refuse(&mut maps, id, &exit_problems);
            continue;
        }
        if let Some(content) = &content {
            let file = path.display().to_string();
            let unknown: Vec<Problem> =
                crate::content::check_map(&content.current().content, &fresh.data)
                    .into_iter()
                    .map(|(place, problem)| Problem::error(&file, &place, problem))
                    .collect();
            if !unknown.is_empty() {
                refuse(&mut maps, id, &unknown);
                continue;
            }
        }
        maps.replace_file(id, fresh);
        // The edited map's images are served under their new hashes (and images no map
        // uses any more are not).
        if let Some(served) = &served {
            served.rebuild(maps.all());
        }
        let map = maps.file(id);
        // Every room's copy of the map changed: its players are moved out of new walls
        // and sent the new map.
        let on_file = |on: &OnMap| maps.try_get(on.0).is_some_and(|p| p.file == id);
        let mut moved = 0;
        for (mut avatar, on) in &mut avatars {
            if !on_file(on) {
                continue;
            }
            let pos = avatar.motion.pos;
            let free = map
                .collision
                .nearest_free(&map.data, pos, AVATAR_RADIUS)
                .unwrap_or_else(|| map.data.spawns[0]);
            if free != pos {
                avatar.motion.pos = tavern_shared::movement::quantize(free);
                avatar.motion.moving = false;
                moved += 1;
            }
        }
        let mut told = 0;
        for (client, controls) in &clients {
            if avatars.get(controls.0).is_ok_and(|(_, on)| on_file(on)) {
                enter.write(to_client(
                    client,
                    EnterMap {
                        map: (*map.data).clone(),
                        arrival: None,
                        send_hz: rate.hz,
                        resumed: false,
                        hearing_radius: hearing.of(&map.data),
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

/// An edit may add an exit to a map file the server doesn't run yet: add it (loaded
/// with the edit), so the exit leads somewhere (a target that doesn't load is reported
/// by the exit check).
fn add_new_exit_targets(maps: &mut Maps, targets: Vec<(PathBuf, Result<LoadedMap, MapErrors>)>) {
    for (target, loaded) in targets {
        if maps.files.iter().any(|m| same_file(&m.path, &target)) {
            continue;
        }
        if let Ok(map) = &loaded
            && maps.by_name(&map.data.name).is_some()
        {
            continue;
        }
        match loaded {
            Ok(map) => {
                info!(map = %map.data.name, file = %target.display(), "new map loaded for an exit");
                maps.files.push(map);
            }
            Err(errors) => {
                for p in &errors.0 {
                    error!("{p}");
                }
            }
        }
    }
}

/// Logs why a changed map was not swapped in (its files' times were taken when
/// loading began, so the same broken version is reported once, not every poll).
fn refuse(maps: &mut Maps, id: FileId, problems: &[Problem]) {
    let map = maps.file(id);
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
}
