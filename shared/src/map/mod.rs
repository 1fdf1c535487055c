//! The map model both sides share, loaded from Tiled's TMX and JSON formats.
//!
//! Loading goes format → [`doc::Doc`] (what the file says) → [`MapData`] (what the game
//! uses), so the WorkAdventure conventions and the validation are written once. File
//! access goes through [`MapFiles`], so this module builds for the web client too.

mod build;
pub mod doc;
mod json;
pub mod limits;
pub mod rooms;
mod tmx;
pub mod zones;

use std::fmt;
use std::path::{Component, Path, PathBuf};

use bevy::math::{IVec2, Rect, Vec2};
use serde::{Deserialize, Serialize};

pub use zones::{Area, Effects, Exit, Trigger, Zone};

/// A loaded map: what the simulation collides with, where players appear, what zones it
/// has and what the client draws. Coordinates are Tiled's: pixels, x to the right, y down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapData {
    /// The map's name: its file name without extension (`town` for `maps/town.tmx`).
    pub name: String,
    /// Size in tiles (for infinite maps, of the area their chunks cover).
    pub width: u32,
    pub height: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub tilesets: Vec<TilesetInfo>,
    /// Number of layers of every kind in the file, groups and their children included.
    pub layer_count: u32,
    /// Tile layers in drawing order (groups flattened).
    pub layers: Vec<TileLayerData>,
    /// Tile objects, drawn with the layers.
    pub sprites: Vec<TileSprite>,
    /// One flag per cell (row-major): a tile with `collides: true` is there on some layer.
    pub solid: Vec<bool>,
    /// Solid shapes from collider objects.
    pub solid_shapes: Vec<SolidShape>,
    /// Default spawn points in pixels (centres of `start` tiles, `spawn` objects).
    pub spawns: Vec<Vec2>,
    /// Named entry points that exits of other maps lead to.
    pub entries: Vec<Entry>,
    pub zones: Vec<Zone>,
    /// How far a voice carries on this map, in pixels (the map's `hearingRadius`
    /// property), when it differs from the server's.
    #[serde(default)]
    pub hearing_radius: Option<f32>,
}

/// A named place to arrive at: a `start: true` layer's tiles or object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub points: Vec<Vec2>,
}

/// A solid shape in map pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SolidShape {
    Rect(Rect),
    Circle {
        center: Vec2,
        radius: f32,
    },
    /// Closed, possibly concave; split into triangles for collision.
    Polygon(Vec<Vec2>),
    /// An open line that blocks movement across it.
    Polyline(Vec<Vec2>),
}

/// One tileset as the client needs it to draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TilesetInfo {
    pub name: String,
    /// Global id of the tileset's first tile in [`TileLayerData::tiles`].
    pub first_gid: u32,
    /// File name of the tileset image (looked up under the client's `assets/tilesets/`
    /// when the server gives no `image_url`).
    pub image: Option<String>,
    /// Where the server serves the image (`/assets/HASH/NAME`, under its HTTP API).
    #[serde(default)]
    pub image_url: Option<String>,
    /// The image's path as the map resolved it: the server's own, never sent.
    #[serde(skip)]
    pub image_path: Option<String>,
    pub columns: u32,
    pub tile_count: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub margin: u32,
    pub spacing: u32,
    /// Image-collection tilesets: each tile's own image.
    pub tile_images: Vec<TileImage>,
}

/// One tile's own image in an image-collection tileset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TileImage {
    /// Local tile id.
    pub id: u32,
    /// File name (looked up under the client's `assets/tilesets/` when the server gives
    /// no `url`).
    pub image: String,
    /// Where the server serves the image (`/assets/HASH/NAME`).
    #[serde(default)]
    pub url: Option<String>,
    /// The image's path as the map resolved it: the server's own, never sent.
    #[serde(skip)]
    pub path: String,
    pub width: u32,
    pub height: u32,
}

/// One tile layer: a global tile id per cell, 0 where empty. Ids carry Tiled's flip bits
/// ([`doc::FLIP_H`], [`doc::FLIP_V`], [`doc::FLIP_D`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TileLayerData {
    pub name: String,
    /// False if the layer or any group around it is hidden.
    pub visible: bool,
    /// The layer's opacity times its groups'.
    pub opacity: f32,
    /// Drawing offset in pixels, the layer's plus its groups'.
    pub offset: Vec2,
    /// Drawn above avatars (a layer or group named `above`, or property `above: true`).
    pub above: bool,
    /// Position among all layers (tile and object) in drawing order.
    pub order: u32,
    pub tiles: Vec<u32>,
}

/// A tile object: one tile drawn at a free position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TileSprite {
    /// Global id with flip bits.
    pub gid: u32,
    /// Bottom-left corner in pixels (Tiled's anchor for tile objects).
    pub position: Vec2,
    pub size: Vec2,
    /// Degrees clockwise around `position`.
    pub rotation: f32,
    pub visible: bool,
    pub opacity: f32,
    pub above: bool,
    pub order: u32,
}

/// How bad a problem is: errors stop a map from being used, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Something wrong with a map, named so a designer can find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub severity: Severity,
    pub file: String,
    /// Where in the file: "layer `walls`, object `door` (id 7)"; empty for the whole map.
    pub place: String,
    pub message: String,
}

impl Problem {
    pub fn error(file: &str, place: &str, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            file: file.to_string(),
            place: place.to_string(),
            message: message.into(),
        }
    }

    pub fn warning(file: &str, place: &str, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(file, place, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.place.is_empty() {
            write!(f, "{kind}: {}: {}", self.file, self.message)
        } else {
            write!(f, "{kind}: {}: {}: {}", self.file, self.place, self.message)
        }
    }
}

/// A map that failed to load: every error found (and any warnings).
#[derive(Debug, Clone, PartialEq)]
pub struct MapErrors(pub Vec<Problem>);

impl fmt::Display for MapErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|p| p.to_string()).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for MapErrors {}

/// The outcome of loading one map: the map if it has no errors, and every problem found.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub map: Option<MapData>,
    pub problems: Vec<Problem>,
}

impl Loaded {
    /// The map, or every problem if there was an error.
    pub fn into_result(self) -> Result<(MapData, Vec<Problem>), MapErrors> {
        match self.map {
            Some(map) if !self.problems.iter().any(Problem::is_error) => Ok((map, self.problems)),
            _ => Err(MapErrors(self.problems)),
        }
    }
}

/// Where maps, tilesets, templates and images come from.
pub trait MapFiles {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>>;
    fn exists(&mut self, path: &Path) -> bool;
}

/// Files from the filesystem, remembering every file read (what a reload must watch).
#[derive(Debug, Default)]
pub struct FsFiles {
    pub read: Vec<PathBuf>,
}

impl MapFiles for FsFiles {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        let size = std::fs::metadata(path)?.len();
        if size > limits::MAX_FILE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the file is {} MB; map files of at most {} MB are read",
                    size / (1024 * 1024),
                    limits::MAX_FILE_BYTES / (1024 * 1024)
                ),
            ));
        }
        let bytes = std::fs::read(path)?;
        if !self.read.iter().any(|p| p == path) {
            self.read.push(path.to_path_buf());
        }
        Ok(bytes)
    }

    fn exists(&mut self, path: &Path) -> bool {
        path.is_file()
    }
}

/// Whether a file name is a map Tiled can save: `.tmx`, `.tmj` or `.json`.
pub fn is_map_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("tmx" | "tmj" | "json")
    )
}

/// Reads what a map file says, without applying any convention: for tools and tests
/// that need the properties themselves.
pub fn read_doc(path: &Path, files: &mut dyn MapFiles) -> Result<doc::Doc, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("tmx") => tmx::read_tmx(path, files),
        Some("tmj" | "json") => json::read_json(path, files),
        _ => Err(format!(
            "{}: not a Tiled map file; save it as .tmx or .tmj (.json)",
            path.display()
        )),
    }
}

/// Loads a map in either format (by extension: `.tmx` is XML, `.tmj`/`.json` JSON),
/// applies the conventions and validates it. Exits are checked by [`check_exits`].
/// Whatever the file holds, this returns: a failure inside a reader (a panic) is an
/// error of the map like any other.
pub fn load_map(path: &Path, files: &mut dyn MapFiles) -> Loaded {
    let file = path.display().to_string();
    catch_quietly(|| load_map_unguarded(path, files)).unwrap_or_else(|why| Loaded {
        map: None,
        problems: vec![Problem::error(
            &file,
            "",
            format!(
                "the map cannot be read: the reader failed ({why}); the file is damaged or declares more than its data holds"
            ),
        )],
    })
}

/// Runs `f`, turning a panic inside it into an error with the panic's message. The
/// panic is not printed (a bad map file is reported as a map error, not a crash);
/// panics elsewhere, and on other threads, are printed as usual.
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    use std::cell::Cell;
    static HOOK: std::sync::Once = std::sync::Once::new();
    thread_local!(static QUIET: Cell<bool> = const { Cell::new(false) });
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    result.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "no reason given".into())
    })
}

fn load_map_unguarded(path: &Path, files: &mut dyn MapFiles) -> Loaded {
    let file = path.display().to_string();
    let doc = read_doc(path, files);
    match doc {
        Ok(doc) => build::build(path, &doc, files),
        Err(message) => Loaded {
            map: None,
            problems: vec![Problem::error(
                &file,
                "",
                message
                    .strip_prefix(&format!("{file}: "))
                    .unwrap_or(&message)
                    .to_string(),
            )],
        },
    }
}

/// Checks every exit of `map` (loaded from `path`): the target file must exist and load,
/// and the entry must be one of its entry points. `load` gives the target map by path.
pub fn check_exits(
    path: &Path,
    map: &MapData,
    mut load: impl FnMut(&Path) -> Option<Result<MapData, String>>,
) -> Vec<Problem> {
    let file = path.display().to_string();
    let mut problems = Vec::new();
    for zone in &map.zones {
        let Some(exit) = &zone.effects.exit else {
            continue;
        };
        let target = relative_to(path, Path::new(&exit.file));
        match load(&target) {
            None => problems.push(Problem::error(
                &file,
                &zone.place,
                format!(
                    "exit leads to `{}`, but there is no such file ({})",
                    exit.file,
                    target.display()
                ),
            )),
            Some(Err(why)) => problems.push(Problem::error(
                &file,
                &zone.place,
                format!("exit leads to `{}`, which does not load: {why}", exit.file),
            )),
            Some(Ok(other)) => {
                if let Some(entry) = &exit.entry
                    && !other.entries.iter().any(|e| &e.name == entry)
                {
                    let known: Vec<&str> = other.entries.iter().map(|e| e.name.as_str()).collect();
                    problems.push(Problem::error(
                        &file,
                        &zone.place,
                        format!(
                            "exit leads to entry `{entry}` in `{}`, which has no such entry point (it has: {})",
                            exit.file,
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    ));
                }
            }
        }
    }
    problems
}

impl MapData {
    /// Map size in pixels.
    pub fn pixel_size(&self) -> Vec2 {
        Vec2::new(
            (u64::from(self.width) * u64::from(self.tile_width)) as f32,
            (u64::from(self.height) * u64::from(self.tile_height)) as f32,
        )
    }

    /// Whether the cell at `cell` is solid; cells outside the map are solid.
    pub fn is_solid_cell(&self, cell: IVec2) -> bool {
        if cell.x < 0 || cell.y < 0 || cell.x >= self.width as i32 || cell.y >= self.height as i32 {
            return true;
        }
        self.solid[(cell.y as u32 * self.width + cell.x as u32) as usize]
    }

    /// The cell that contains the pixel position `pos`.
    pub fn cell_at(&self, pos: Vec2) -> IVec2 {
        IVec2::new(
            (pos.x / self.tile_width as f32).floor() as i32,
            (pos.y / self.tile_height as f32).floor() as i32,
        )
    }

    /// The centre of `cell` in pixels.
    pub fn cell_center(&self, cell: IVec2) -> Vec2 {
        (cell.as_vec2() + Vec2::splat(0.5))
            * Vec2::new(self.tile_width as f32, self.tile_height as f32)
    }

    /// Where a player arriving at `entry` appears: that entry's points, or the default
    /// spawns if the map has no such entry (or `entry` is `None`).
    pub fn arrival_points(&self, entry: Option<&str>) -> &[Vec2] {
        entry
            .and_then(|name| self.entries.iter().find(|e| e.name == name))
            .map(|e| e.points.as_slice())
            .filter(|p| !p.is_empty())
            .unwrap_or(&self.spawns)
    }

    /// The zones that contain `pos`, with their indices in [`MapData::zones`].
    pub fn zones_at(&self, pos: Vec2) -> impl Iterator<Item = (u16, &Zone)> {
        self.zones
            .iter()
            .enumerate()
            .filter(move |(_, z)| z.area.contains(pos))
            .map(|(i, z)| (i as u16, z))
    }

    /// A map built in code: `rows` uses `#` for a wall, `S` for a spawn, anything else for floor.
    /// Used by tests and benches, which need small exact layouts.
    pub fn from_ascii(name: &str, tile_size: u32, rows: &[&str]) -> Self {
        let height = rows.len() as u32;
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u32;
        let mut solid = vec![false; (width * height) as usize];
        let mut tiles = vec![1u32; (width * height) as usize];
        let mut spawns = Vec::new();
        for (y, row) in rows.iter().enumerate() {
            for (x, ch) in row.chars().enumerate() {
                let i = y * width as usize + x;
                match ch {
                    '#' => {
                        solid[i] = true;
                        tiles[i] = 2;
                    }
                    'S' => spawns.push(Vec2::new(
                        (x as f32 + 0.5) * tile_size as f32,
                        (y as f32 + 0.5) * tile_size as f32,
                    )),
                    _ => {}
                }
            }
        }
        MapData {
            name: name.to_string(),
            width,
            height,
            tile_width: tile_size,
            tile_height: tile_size,
            tilesets: vec![TilesetInfo {
                name: "ascii".into(),
                first_gid: 1,
                image: None,
                image_url: None,
                image_path: None,
                columns: 2,
                tile_count: 2,
                tile_width: tile_size,
                tile_height: tile_size,
                margin: 0,
                spacing: 0,
                tile_images: Vec::new(),
            }],
            layers: vec![TileLayerData {
                name: "ground".into(),
                visible: true,
                opacity: 1.0,
                offset: Vec2::ZERO,
                above: false,
                order: 0,
                tiles,
            }],
            layer_count: 1,
            sprites: Vec::new(),
            solid,
            solid_shapes: Vec::new(),
            spawns,
            entries: Vec::new(),
            zones: Vec::new(),
            hearing_radius: None,
        }
    }
}

/// Resolves `relative` against the folder of `base`, as Tiled does for tileset sources,
/// folding `dir/..` so the same file always gets the same path.
pub fn relative_to(base: &Path, relative: &Path) -> PathBuf {
    normalize(&base.parent().unwrap_or(Path::new("")).join(relative))
}

/// Folds `.` and `dir/..` out of a path without touching the filesystem.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The file name part of a path written with `/` (Tiled's separator on every OS).
pub fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests;
