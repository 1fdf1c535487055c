//! The map model both sides share, and loading it from Tiled's TMX format.
//!
//! File access is the caller's job (a closure that returns a file's bytes), so this
//! module has no OS dependency and builds for the web client too.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use bevy::math::{IVec2, Rect, Vec2};
use serde::{Deserialize, Serialize};
use tiled::{LayerType, Loader, ObjectShape, PropertyValue, ResourceReader, TileLayer};

/// A loaded map: what the simulation collides with, where players appear, and what the
/// client draws. Coordinates are Tiled's: pixels, x to the right, y down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapData {
    /// The map's name: its file name without extension (`town` for `maps/town.tmx`).
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub tilesets: Vec<TilesetInfo>,
    /// Tile layers in drawing order.
    pub layers: Vec<TileLayerData>,
    /// One flag per cell (row-major): a tile with `collides: true` is there on some layer.
    pub solid: Vec<bool>,
    /// Solid shapes from objects of class `collider`, as rectangles in pixels.
    pub solid_rects: Vec<Rect>,
    /// Spawn points in pixels (centres of `start` tiles, `spawn` objects).
    pub spawns: Vec<Vec2>,
}

/// One tileset as the client needs it to draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TilesetInfo {
    pub name: String,
    /// Global id of the tileset's first tile in [`TileLayerData::tiles`].
    pub first_gid: u32,
    /// File name of the tileset image (looked up under the client's `assets/tilesets/`).
    pub image: Option<String>,
    pub columns: u32,
    pub tile_count: u32,
    pub tile_width: u32,
    pub tile_height: u32,
}

/// One tile layer: a global tile id per cell, 0 where empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TileLayerData {
    pub name: String,
    pub visible: bool,
    pub opacity: f32,
    /// Drawn above avatars (layer named `above` or property `above: true`).
    pub above: bool,
    pub tiles: Vec<u32>,
}

/// Why a map could not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MapError {
    #[error("{file}: cannot read the map: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}: {what} is not supported yet")]
    Unsupported { file: String, what: String },
    #[error(
        "{file}: the map has no spawn point; add a tile layer named `start` or an object of class `spawn`"
    )]
    NoSpawn { file: String },
    #[error("{file}: spawn point at ({x}, {y}) px is inside a solid tile")]
    SpawnInWall { file: String, x: f32, y: f32 },
}

impl MapData {
    /// Map size in pixels.
    pub fn pixel_size(&self) -> Vec2 {
        Vec2::new(
            (self.width * self.tile_width) as f32,
            (self.height * self.tile_height) as f32,
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
                columns: 2,
                tile_count: 2,
                tile_width: tile_size,
                tile_height: tile_size,
            }],
            layers: vec![TileLayerData {
                name: "ground".into(),
                visible: true,
                opacity: 1.0,
                above: false,
                tiles,
            }],
            solid,
            solid_rects: Vec::new(),
            spawns,
        }
    }
}

/// Hands the `tiled` crate files through the caller's closure instead of the filesystem.
struct ClosureReader<F>(F);

impl<F> ResourceReader for ClosureReader<F>
where
    F: FnMut(&Path) -> std::io::Result<Vec<u8>>,
{
    type Resource = Cursor<Vec<u8>>;
    type Error = std::io::Error;

    fn read_from(&mut self, path: &Path) -> Result<Self::Resource, Self::Error> {
        (self.0)(path).map(Cursor::new)
    }
}

fn prop_bool(props: &tiled::Properties, name: &str) -> bool {
    matches!(props.get(name), Some(PropertyValue::BoolValue(true)))
}

/// Loads a TMX map. `read` returns the bytes of the map and of any file it refers to
/// (external tilesets, templates), given paths relative to the map's own path.
pub fn load_tmx(
    path: &Path,
    read: impl FnMut(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<MapData, MapError> {
    let file = path.display().to_string();
    let mut loader = Loader::with_reader(ClosureReader(read));
    let map = loader
        .load_tmx_map(path)
        .map_err(|e| MapError::Unreadable {
            file: file.clone(),
            message: e.to_string(),
        })?;
    if map.orientation != tiled::Orientation::Orthogonal {
        return Err(MapError::Unsupported {
            file,
            what: format!("{:?} orientation", map.orientation),
        });
    }
    if map.infinite() {
        return Err(MapError::Unsupported {
            file,
            what: "an infinite map".into(),
        });
    }
    let (width, height) = (map.width, map.height);
    let cells = (width * height) as usize;

    let mut first_gid = 1;
    let mut tilesets = Vec::new();
    let mut solid_tiles: HashMap<(usize, u32), bool> = HashMap::new();
    for (index, ts) in map.tilesets().iter().enumerate() {
        for (id, tile) in ts.tiles() {
            if prop_bool(&tile.properties, "collides") {
                solid_tiles.insert((index, id), true);
            }
        }
        tilesets.push(TilesetInfo {
            name: ts.name.clone(),
            first_gid,
            image: ts.image.as_ref().and_then(|img| file_name(&img.source)),
            columns: ts.columns,
            tile_count: ts.tilecount,
            tile_width: ts.tile_width,
            tile_height: ts.tile_height,
        });
        first_gid += ts.tilecount;
    }

    let mut layers = Vec::new();
    let mut solid = vec![false; cells];
    let mut solid_rects = Vec::new();
    let mut spawns = Vec::new();
    let tw = map.tile_width as f32;
    let th = map.tile_height as f32;
    for layer in map.layers() {
        match layer.layer_type() {
            LayerType::Tiles(TileLayer::Finite(tl)) => {
                let mut tiles = vec![0u32; cells];
                let is_start = layer.name == "start" || prop_bool(&layer.properties, "start");
                let layer_collides = prop_bool(&layer.properties, "collides");
                for y in 0..height.min(tl.height()) {
                    for x in 0..width.min(tl.width()) {
                        let Some(t) = tl.get_tile_data(x as i32, y as i32) else {
                            continue;
                        };
                        let i = (y * width + x) as usize;
                        tiles[i] = tilesets[t.tileset_index()].first_gid + t.id();
                        if layer_collides || solid_tiles.contains_key(&(t.tileset_index(), t.id()))
                        {
                            solid[i] = true;
                        }
                        if is_start {
                            spawns.push(Vec2::new((x as f32 + 0.5) * tw, (y as f32 + 0.5) * th));
                        }
                    }
                }
                layers.push(TileLayerData {
                    name: layer.name.clone(),
                    visible: layer.visible,
                    opacity: layer.opacity,
                    above: layer.name == "above" || prop_bool(&layer.properties, "above"),
                    tiles,
                });
            }
            LayerType::Tiles(TileLayer::Infinite(_)) => {
                return Err(MapError::Unsupported {
                    file,
                    what: format!("infinite tile layer `{}`", layer.name),
                });
            }
            LayerType::Objects(ol) => {
                let layer_collides = prop_bool(&layer.properties, "collides");
                for obj in ol.objects() {
                    let class = obj.user_type.as_str();
                    let is_spawn = class == "spawn" || prop_bool(&obj.properties, "start");
                    let rect = match obj.shape {
                        ObjectShape::Rect { width, height } => {
                            Some(Rect::new(obj.x, obj.y, obj.x + width, obj.y + height))
                        }
                        _ => None,
                    };
                    if is_spawn {
                        spawns.push(rect.map(|r| r.center()).unwrap_or(Vec2::new(obj.x, obj.y)));
                    }
                    if class == "collider" || layer_collides {
                        match rect {
                            Some(r) => solid_rects.push(r),
                            None => {
                                return Err(MapError::Unsupported {
                                    file,
                                    what: format!(
                                        "collider object `{}` (id {}) that is not a rectangle",
                                        obj.name,
                                        obj.id()
                                    ),
                                });
                            }
                        }
                    }
                }
            }
            LayerType::Image(_) | LayerType::Group(_) => {}
        }
    }

    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let data = MapData {
        name,
        width,
        height,
        tile_width: map.tile_width,
        tile_height: map.tile_height,
        tilesets,
        layers,
        solid,
        solid_rects,
        spawns,
    };
    if data.spawns.is_empty() {
        return Err(MapError::NoSpawn { file });
    }
    if let Some(s) = data
        .spawns
        .iter()
        .find(|s| data.is_solid_cell(data.cell_at(**s)))
    {
        return Err(MapError::SpawnInWall {
            file,
            x: s.x,
            y: s.y,
        });
    }
    Ok(data)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Resolves `relative` against the folder of `base`, as Tiled does for tileset sources.
pub fn relative_to(base: &Path, relative: &Path) -> PathBuf {
    base.parent().unwrap_or(Path::new("")).join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tileset version="1.10" tiledversion="1.11.0" name="t" tilewidth="32" tileheight="32" tilecount="2" columns="2">
 <image source="tiles.png" width="64" height="32"/>
 <tile id="1"><properties><property name="collides" type="bool" value="true"/></properties></tile>
</tileset>"#;

    fn tmx(data: &str, objects: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<map version="1.10" orientation="orthogonal" renderorder="right-down" width="3" height="2" tilewidth="32" tileheight="32" infinite="0" nextlayerid="3" nextobjectid="2">
 <tileset firstgid="1" source="t.tsx"/>
 <layer id="1" name="ground" width="3" height="2"><data encoding="csv">{data}</data></layer>
 <objectgroup id="2" name="objects">{objects}</objectgroup>
</map>"#
        )
    }

    fn load(map: &str) -> Result<MapData, MapError> {
        let map = map.to_string();
        load_tmx(Path::new("maps/test.tmx"), move |p| match p.to_str() {
            Some("maps/test.tmx") => Ok(map.clone().into_bytes()),
            Some("maps/t.tsx") => Ok(TSX.as_bytes().to_vec()),
            other => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{other:?}"),
            )),
        })
    }

    #[test]
    fn loads_solid_tiles_spawns_and_tilesets() {
        let m = load(&tmx(
            "1,2,1,\n1,1,2",
            r#"<object id="1" type="spawn" x="16" y="48"><point/></object>"#,
        ))
        .unwrap();
        assert_eq!((m.width, m.height, m.tile_width), (3, 2, 32));
        assert_eq!(m.solid, vec![false, true, false, false, false, true]);
        assert_eq!(m.spawns, vec![Vec2::new(16.0, 48.0)]);
        assert_eq!(m.tilesets[0].image.as_deref(), Some("tiles.png"));
        assert_eq!(m.layers[0].tiles, vec![1, 2, 1, 1, 1, 2]);
        assert_eq!(m.name, "test");
    }

    #[test]
    fn a_map_without_spawn_is_rejected_with_its_file_named() {
        let err = load(&tmx("1,1,1,\n1,1,1", "")).unwrap_err();
        assert_eq!(
            err,
            MapError::NoSpawn {
                file: "maps/test.tmx".into()
            }
        );
        assert!(err.to_string().contains("maps/test.tmx"));
    }

    #[test]
    fn a_spawn_inside_a_wall_is_rejected() {
        let err = load(&tmx(
            "1,2,1,\n1,1,1",
            r#"<object id="1" type="spawn" x="40" y="10"><point/></object>"#,
        ))
        .unwrap_err();
        assert!(matches!(err, MapError::SpawnInWall { .. }), "{err}");
    }

    #[test]
    fn a_missing_tileset_names_the_file() {
        let bad = tmx("1,1,1,\n1,1,1", "").replace("t.tsx", "missing.tsx");
        let err = load(&bad).unwrap_err();
        assert!(matches!(err, MapError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains("maps/test.tmx"), "{err}");
    }

    #[test]
    fn ascii_maps_mark_walls_and_spawns() {
        let m = MapData::from_ascii("a", 16, &["###", "#S#", "###"]);
        assert!(m.is_solid_cell(IVec2::new(0, 0)));
        assert!(!m.is_solid_cell(IVec2::new(1, 1)));
        assert!(
            m.is_solid_cell(IVec2::new(-1, 1)),
            "outside the map is solid"
        );
        assert_eq!(m.spawns, vec![Vec2::new(24.0, 24.0)]);
    }
}
