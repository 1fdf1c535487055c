//! The maps the server runs: map files loaded at start (every map in the given folders
//! and files, plus any map an exit leads to), with exits resolved between them, and the
//! places running them: each room has its own copy of a map (its own monsters, doors
//! and chests), opened when someone arrives and closed when the room no longer needs it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bevy::prelude::*;
use tavern_shared::collision::CollisionWorld;
use tavern_shared::map::{
    FsFiles, MapData, MapErrors, Problem, check_exits, is_map_file, load_map, relative_to,
};

use crate::rooms::RoomId;

/// Index of a map file in [`Maps::files`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub usize);

/// A running map: one room's copy of a map file. Ids are never reused, so state kept
/// per map elsewhere cannot outlive its place by mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapId(pub usize);

/// The map an avatar is on (server side).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnMap(pub MapId);

/// One loaded map, its collision shapes and the files it was read from.
#[derive(Debug)]
pub struct LoadedMap {
    pub path: PathBuf,
    pub data: Arc<MapData>,
    pub collision: Arc<CollisionWorld>,
    /// Every file the map was read from (map, tilesets, templates, images) with its
    /// modification time then, so a change to any of them reloads the map.
    pub watched: Vec<(PathBuf, Option<SystemTime>)>,
    /// The images it references, by content hash, served over HTTP.
    pub assets: Vec<(String, crate::assets::ServedFile)>,
}

impl LoadedMap {
    /// A map built in code (tests), watching no files.
    pub fn in_memory(data: MapData) -> Self {
        LoadedMap {
            path: PathBuf::from(format!("{}.tmj", data.name)),
            collision: Arc::new(CollisionWorld::from_map(&data)),
            data: Arc::new(data),
            watched: Vec::new(),
            assets: Vec::new(),
        }
    }

    /// Takes the files' current modification times as the new baseline.
    pub fn refresh_watched(&mut self) {
        for (path, when) in &mut self.watched {
            *when = modified(path);
        }
    }

    /// Whether any file the map was read from changed (or vanished) since it was loaded.
    pub fn changed_on_disk(&self) -> bool {
        self.watched
            .iter()
            .any(|(path, when)| modified(path) != *when)
    }
}

/// One room's copy of a map file.
#[derive(Debug)]
pub struct Place {
    pub file: FileId,
    pub room: RoomId,
    /// The file's map (shared by every copy; replaced when the file is reloaded).
    pub data: Arc<MapData>,
    /// The map's shapes: the file's own when the map has no doors, else this place's
    /// (doors open and shut per place).
    pub collision: Arc<CollisionWorld>,
    /// What its events are logged under: `ROOM/MAP`.
    pub log: Arc<str>,
    next_spawn: usize,
    /// Being closed: nothing new happens on it (see [`Maps::retire`]).
    retired: bool,
}

impl Place {
    fn new(file: FileId, room: RoomId, loaded: &LoadedMap) -> Self {
        Place {
            file,
            log: Arc::from(log_key(&room, &loaded.data.name)),
            room,
            data: loaded.data.clone(),
            collision: own_collision(loaded),
            next_spawn: 0,
            retired: false,
        }
    }

    /// The next default spawn point, round robin, so players spread over all of them.
    pub fn take_spawn(&mut self) -> Vec2 {
        let spawn = self.data.spawns[self.next_spawn % self.data.spawns.len()];
        self.next_spawn = self.next_spawn.wrapping_add(1);
        spawn
    }

    /// Takes a reloaded version of its file (spawns go on where they left off).
    fn reload(&mut self, loaded: &LoadedMap) {
        self.data = loaded.data.clone();
        self.collision = own_collision(loaded);
    }
}

/// What the events of `room`'s copy of map `map` are logged under.
pub fn log_key(room: &RoomId, map: &str) -> String {
    format!("{room}/{map}")
}

/// A place's shapes: shared with the file when nothing in them changes per place.
fn own_collision(loaded: &LoadedMap) -> Arc<CollisionWorld> {
    if loaded.collision.door_count() == 0 {
        loaded.collision.clone()
    } else {
        Arc::new(CollisionWorld::from_map(&loaded.data))
    }
}

/// All maps of this server: the files, and the places running them.
#[derive(Resource, Debug)]
pub struct Maps {
    pub files: Vec<LoadedMap>,
    /// The map file players join on when a room names none.
    pub start: FileId,
    places: BTreeMap<MapId, Place>,
    index: HashMap<(RoomId, FileId), MapId>,
    next_id: usize,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Loads one map file from disk. Warnings are logged; errors come back, every one of them.
pub fn load_one(path: &Path) -> Result<LoadedMap, MapErrors> {
    let mut files = FsFiles::default();
    let loaded = load_map(path, &mut files);
    // Remember what was read even if it failed, so fixing any of those files retries.
    let (mut data, warnings) = loaded.into_result()?;
    for w in &warnings {
        warn!("{w}");
    }
    let file = path.display().to_string();
    let (assets, images) = crate::assets::address_images(&mut data).map_err(|errors| {
        MapErrors(
            errors
                .into_iter()
                .map(|e| Problem::error(&file, "", e))
                .collect(),
        )
    })?;
    let mut watched: Vec<PathBuf> = files.read;
    watched.extend(images.into_iter().map(PathBuf::from));
    if !watched.iter().any(|p| p == path) {
        watched.push(path.to_path_buf());
    }
    Ok(LoadedMap {
        path: path.to_path_buf(),
        collision: Arc::new(CollisionWorld::from_map(&data)),
        data: Arc::new(data),
        assets,
        watched: watched
            .into_iter()
            .map(|p| (p.clone(), modified(&p)))
            .collect(),
    })
}

/// The map files in a folder, sorted by name. `.json` files count only if they are
/// maps (Tiled also saves tilesets and templates as `.json`).
pub fn maps_in_folder(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.is_file() && is_map_file(f))
        .filter(|f| f.extension().is_none_or(|e| e != "json") || is_json_map(f))
        .collect();
    found.sort();
    Ok(found)
}

fn is_json_map(path: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    // Anything that isn't clearly a tileset or template is loaded, so a broken map file
    // is reported rather than skipped.
    let kind = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Kind>(&b).ok())
        .and_then(|k| k.kind);
    !matches!(kind.as_deref(), Some("tileset" | "template"))
}

/// The map files named by `paths`: files as given, folders' map files sorted by name.
pub fn map_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = maps_in_folder(p)
                .map_err(|e| anyhow::anyhow!("{}: cannot list the map folder: {e}", p.display()))?;
            if found.is_empty() {
                anyhow::bail!(
                    "{}: the map folder has no map files (.tmx, .tmj or .json)",
                    p.display()
                );
            }
            out.extend(found);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            anyhow::bail!("{}: no such map file or folder (--map)", p.display());
        }
    }
    Ok(out)
}

impl Maps {
    /// Loads every map in `paths` and every map their exits lead to, checks that each
    /// exit's target and entry exist, and picks the start map: `start` by name, else the
    /// first path if it is a file, else `town` if loaded, else the first map found.
    pub fn load(paths: &[PathBuf], start: Option<&str>) -> anyhow::Result<Maps> {
        let mut queue = map_files(paths)?;
        let mut maps: Vec<LoadedMap> = Vec::new();
        let mut problems: Vec<Problem> = Vec::new();
        let mut i = 0;
        while i < queue.len() {
            let path = queue[i].clone();
            i += 1;
            match load_one(&path) {
                Ok(map) => {
                    for zone in &map.data.zones {
                        if let Some(exit) = &zone.effects.exit {
                            let target = relative_to(&path, Path::new(&exit.file));
                            if target.exists() && !queue.iter().any(|q| same_file(q, &target)) {
                                queue.push(target);
                            }
                        }
                    }
                    maps.push(map);
                }
                Err(errors) => problems.extend(errors.0),
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for m in &maps {
            if names.contains(&m.data.name.as_str()) {
                problems.push(Problem::error(
                    &m.path.display().to_string(),
                    "",
                    format!(
                        "another map is also named `{}`; map names (file names without extension) must differ, exits refer to maps by name",
                        m.data.name
                    ),
                ));
            }
            names.push(&m.data.name);
        }
        for m in &maps {
            problems.extend(check_exits(&m.path, &m.data, |target| {
                loaded_at(&maps, target)
            }));
        }
        if problems.iter().any(Problem::is_error) {
            return Err(MapErrors(problems).into());
        }
        let start = match start {
            Some(name) => maps
                .iter()
                .position(|m| m.data.name == name)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--start-map `{name}` is not one of the loaded maps ({})",
                        names.join(", ")
                    )
                })?,
            // A map file given first is where players start; with a folder, the town.
            None if paths.first().is_some_and(|p| p.is_file()) => 0,
            None => maps.iter().position(|m| m.data.name == "town").unwrap_or(0),
        };
        Ok(Maps::new(maps, FileId(start)))
    }

    /// Maps running `files`, with no place open yet.
    pub fn new(files: Vec<LoadedMap>, start: FileId) -> Self {
        Maps {
            files,
            start,
            places: BTreeMap::new(),
            index: HashMap::new(),
            next_id: 0,
        }
    }

    /// Every loaded map file.
    pub fn all(&self) -> impl Iterator<Item = &LoadedMap> {
        self.files.iter()
    }

    pub fn file(&self, id: FileId) -> &LoadedMap {
        &self.files[id.0]
    }

    pub fn file_mut(&mut self, id: FileId) -> &mut LoadedMap {
        &mut self.files[id.0]
    }

    /// A running place. Entities on a place are gone before it closes, so an id taken
    /// from one (`OnMap`, a spawner, a chest) is always open.
    pub fn get(&self, id: MapId) -> &Place {
        &self.places[&id]
    }

    pub fn get_mut(&mut self, id: MapId) -> &mut Place {
        self.places
            .get_mut(&id)
            .expect("places close only once nothing is on them")
    }

    /// The place, if it is still open.
    pub fn try_get(&self, id: MapId) -> Option<&Place> {
        self.places.get(&id)
    }

    /// Every open place, in the order they opened (not those being closed).
    pub fn places(&self) -> impl Iterator<Item = (MapId, &Place)> {
        self.places
            .iter()
            .filter(|(_, p)| !p.retired)
            .map(|(id, p)| (*id, p))
    }

    /// Whether the place is open and not being closed.
    pub fn is_open(&self, id: MapId) -> bool {
        self.places.get(&id).is_some_and(|p| !p.retired)
    }

    pub fn place_count(&self) -> usize {
        self.places.len()
    }

    /// `room`'s copy of `file`, opened now if it has none.
    pub fn open(&mut self, room: &RoomId, file: FileId) -> MapId {
        if let Some(id) = self.index.get(&(room.clone(), file)) {
            return *id;
        }
        let id = MapId(self.next_id);
        self.next_id += 1;
        self.places
            .insert(id, Place::new(file, room.clone(), &self.files[file.0]));
        self.index.insert((room.clone(), file), id);
        id
    }

    /// `room`'s copy of `file` if it is open.
    pub fn place_of(&self, room: &RoomId, file: FileId) -> Option<MapId> {
        self.index.get(&(room.clone(), file)).copied()
    }

    /// Starts closing a place: it is no longer open (a room that comes back to the map
    /// gets a fresh copy) but can still be looked up until [`Maps::close`], while what
    /// was on it goes.
    pub fn retire(&mut self, id: MapId) {
        if let Some(place) = self.places.get_mut(&id) {
            place.retired = true;
            self.index.remove(&(place.room.clone(), place.file));
        }
    }

    /// Closes a place; whatever was on it must be gone already.
    pub fn close(&mut self, id: MapId) {
        if let Some(place) = self.places.remove(&id)
            && self.index.get(&(place.room.clone(), place.file)) == Some(&id)
        {
            self.index.remove(&(place.room, place.file));
        }
    }

    /// Swaps a reloaded version of a file in, for every place running it.
    pub fn replace_file(&mut self, id: FileId, fresh: LoadedMap) {
        self.files[id.0] = fresh;
        let loaded = &self.files[id.0];
        for place in self.places.values_mut().filter(|p| p.file == id) {
            place.reload(loaded);
        }
    }

    /// For [`check_exits`]: the loaded map at `target`; an error if the file is there
    /// but did not load (its own errors are reported with it); `None` if there is no file.
    pub fn loaded_at(&self, target: &Path) -> Option<Result<MapData, String>> {
        loaded_at(&self.files, target)
    }

    pub fn by_name(&self, name: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|m| m.data.name == name)
            .map(FileId)
    }

    /// Where an exit leads: the target map file and the arrival points there.
    pub fn exit_target(&self, exit: &tavern_shared::map::Exit) -> Option<(FileId, &[Vec2])> {
        let id = self.by_name(&exit.map)?;
        Some((id, self.file(id).data.arrival_points(exit.entry.as_deref())))
    }

    /// Names of the loaded maps, start map first.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = vec![self.file(self.start).data.name.clone()];
        names.extend(
            self.files
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != self.start.0)
                .map(|(_, m)| m.data.name.clone()),
        );
        names
    }
}

fn loaded_at(maps: &[LoadedMap], target: &Path) -> Option<Result<MapData, String>> {
    maps.iter()
        .find(|m| same_file(&m.path, target))
        .map(|m| Ok((*m.data).clone()))
        .or_else(|| {
            target
                .is_file()
                .then(|| Err("its own errors are reported with it".to_string()))
        })
}

/// Whether two paths name the same file (by canonical path when both exist).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_list_maps_but_not_json_tilesets_or_templates() {
        let dir = std::env::temp_dir().join(format!("tavern-maps-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in [
            ("a.tmx", "<map/>"),
            ("b.tmj", "{}"),
            ("c.json", r#"{"type": "map"}"#),
            ("kit.json", r#"{"type": "tileset"}"#),
            ("chest.json", r#"{"type": "template"}"#),
            ("broken.json", "{ not json"),
            ("town.tsx", "<tileset/>"),
            ("notes.txt", "hi"),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let names: Vec<String> = maps_in_folder(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.tmx", "b.tmj", "broken.json", "c.json"]);
        let err = map_files(&[dir.join("nope")]).unwrap_err().to_string();
        assert!(err.contains("no such map file or folder (--map)"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
