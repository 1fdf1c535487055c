//! TMX maps and TSX tilesets, read by the `tiled` crate and turned into a [`Doc`].

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::math::{IVec2, Vec2};
use tiled::{
    ChunkData, LayerTileData, LayerType, Loader, ObjectShape, PropertyValue, ResourceReader,
    TileLayer, Tileset, TilesetLocation,
};

use super::MapFiles;
use super::doc::*;

/// Hands the `tiled` crate files through [`MapFiles`] instead of the filesystem, and
/// remembers the last file it asked for, so a parse error can say which file it was in.
struct Reader<'a> {
    files: &'a mut dyn MapFiles,
    last: Option<PathBuf>,
}

impl ResourceReader for Reader<'_> {
    type Resource = Cursor<Vec<u8>>;
    type Error = std::io::Error;

    fn read_from(&mut self, path: &Path) -> Result<Self::Resource, Self::Error> {
        self.last = Some(path.to_path_buf());
        let bytes = self.files.read(path)?;
        // Nesting and declared sizes are checked before the XML parser sees the file.
        super::limits::check_xml(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(Cursor::new(bytes))
    }
}

/// The `tiled` crate's error, with the file it happened in when it doesn't say.
fn explain(error: tiled::Error, reader: &Reader<'_>, top: &Path) -> String {
    let text = error.to_string();
    let Some(last) = reader.last.as_deref() else {
        return text;
    };
    if text.contains(&*last.to_string_lossy()) || last == top {
        return text;
    }
    let hint = match last.extension().and_then(|e| e.to_str()) {
        Some("tsj" | "json") => {
            "; a TMX map needs its tilesets in TSX (in Tiled: open the tileset, File > Export As, .tsx)"
        }
        Some("tj") => "; a TMX map needs its templates in TX (in Tiled: save the template as .tx)",
        _ => "",
    };
    format!("{text} (in {}){hint}", last.display())
}

/// Reads a TMX map into a [`Doc`]. Errors are the `tiled` crate's, which name the file.
pub fn read_tmx(path: &Path, files: &mut dyn MapFiles) -> Result<Doc, String> {
    // The map file itself is checked here too, so its refusal reads plainly (the
    // reader's check below covers tilesets and templates, in the crate's words).
    let bytes = files
        .read(path)
        .map_err(|e| format!("{}: cannot read the map: {e}", path.display()))?;
    super::limits::check_xml(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut loader = Loader::with_reader(Reader { files, last: None });
    let map = loader
        .load_tmx_map(path)
        .map_err(|e| explain(e, loader.reader(), path))?;
    let mut tilesets = Tilesets::default();
    for ts in map.tilesets() {
        tilesets.index_of(ts);
    }
    let layers = map
        .layers()
        .map(|l| layer(l, &mut tilesets))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Doc {
        orientation: format!("{:?}", map.orientation).to_lowercase(),
        width: map.width,
        height: map.height,
        tile_width: map.tile_width,
        tile_height: map.tile_height,
        infinite: map.infinite(),
        class: map.user_type.clone(),
        properties: props(&map.properties),
        tilesets: tilesets.list,
        layers,
    })
}

/// Reads an external TSX tileset (used by JSON maps that refer to one).
pub fn read_tsx(path: &Path, files: &mut dyn MapFiles) -> Result<DocTileset, String> {
    let mut loader = Loader::with_reader(Reader { files, last: None });
    let ts = loader
        .load_tsx_tileset(path)
        .map_err(|e| explain(e, loader.reader(), path))?;
    Ok(tileset(&ts))
}

/// The map's tilesets plus any that only templates bring in, each converted once.
#[derive(Default)]
struct Tilesets {
    list: Vec<DocTileset>,
    seen: HashMap<*const Tileset, usize>,
}

impl Tilesets {
    fn index_of(&mut self, ts: &Arc<Tileset>) -> usize {
        let key = Arc::as_ptr(ts);
        if let Some(&i) = self.seen.get(&key) {
            return i;
        }
        self.list.push(tileset(ts));
        self.seen.insert(key, self.list.len() - 1);
        self.list.len() - 1
    }
}

fn path_string(p: &Path) -> String {
    super::normalize(p).to_string_lossy().replace('\\', "/")
}

fn tileset(ts: &Tileset) -> DocTileset {
    let tiles = ts
        .tiles()
        .filter_map(|(id, tile)| {
            let image = tile.image.as_ref();
            let own = DocTile {
                class: tile.user_type.clone(),
                properties: props(&tile.properties),
                image: image.map(|i| path_string(&i.source)),
                image_width: image.map_or(0, |i| i.width.max(0) as u32),
                image_height: image.map_or(0, |i| i.height.max(0) as u32),
            };
            (own != DocTile::default()).then_some((id, own))
        })
        .collect();
    DocTileset {
        name: ts.name.clone(),
        source: path_string(&ts.source),
        image: ts.image.as_ref().map(|i| path_string(&i.source)),
        columns: ts.columns,
        tile_count: ts.tilecount,
        tile_width: ts.tile_width,
        tile_height: ts.tile_height,
        margin: ts.margin,
        spacing: ts.spacing,
        properties: props(&ts.properties),
        tiles,
    }
}

fn flips(h: bool, v: bool, d: bool) -> u32 {
    (if h { FLIP_H } else { 0 }) | (if v { FLIP_V } else { 0 }) | (if d { FLIP_D } else { 0 })
}

fn tile_ref(t: &LayerTileData) -> TileRef {
    TileRef {
        tileset: t.tileset_index(),
        id: t.id(),
        flips: flips(t.flip_h, t.flip_v, t.flip_d),
    }
}

/// The cells of a finite layer. The `tiled` crate keeps a layer's data as it was
/// written and indexes it by the declared size, so data shorter than that size would
/// panic inside it: the declared size is bounded first, and a short layer is caught
/// and refused by name.
fn finite_cells(
    tl: &tiled::FiniteTileLayer<'_>,
    name: &str,
) -> Result<Vec<(IVec2, TileRef)>, String> {
    let (w, h) = (tl.width(), tl.height());
    if u64::from(w) * u64::from(h) > super::limits::MAX_TILES {
        return Err(format!(
            "tile layer `{name}` is {w}x{h} tiles; at most {} million tiles are supported",
            super::limits::MAX_TILES / 1_000_000
        ));
    }
    let read = super::catch_quietly(|| {
        let mut cells = Vec::new();
        for y in 0..h as i32 {
            for x in 0..w as i32 {
                if let Some(t) = tl.get_tile_data(x, y) {
                    cells.push((IVec2::new(x, y), tile_ref(t)));
                }
            }
        }
        cells
    });
    read.map_err(|_| {
        format!("tile layer `{name}` has fewer tiles of data than its declared size of {w}x{h}")
    })
}

fn layer(l: tiled::Layer<'_>, tilesets: &mut Tilesets) -> Result<DocLayer, String> {
    let kind = match l.layer_type() {
        LayerType::Tiles(TileLayer::Finite(tl)) => DocLayerKind::Tiles(finite_cells(&tl, &l.name)?),
        LayerType::Tiles(TileLayer::Infinite(tl)) => {
            let (w, h) = (ChunkData::WIDTH as i32, ChunkData::HEIGHT as i32);
            let mut cells = Vec::new();
            for ((cx, cy), chunk) in tl.chunk_data() {
                for y in 0..h {
                    for x in 0..w {
                        if let Some(t) = chunk.get_tile_data(x, y) {
                            cells.push((IVec2::new(cx * w + x, cy * h + y), tile_ref(t)));
                        }
                    }
                }
            }
            cells.sort_by_key(|(c, _)| (c.y, c.x));
            DocLayerKind::Tiles(cells)
        }
        LayerType::Objects(ol) => DocLayerKind::Objects(
            ol.objects()
                .map(|o| {
                    let tile = o.tile_data().map(|t| {
                        let tileset = match t.tileset_location() {
                            TilesetLocation::Map(i) => *i,
                            TilesetLocation::Template(ts) => tilesets.index_of(ts),
                        };
                        TileRef {
                            tileset,
                            id: t.id(),
                            flips: flips(t.flip_h, t.flip_v, t.flip_d),
                        }
                    });
                    #[allow(deprecated)]
                    let shape = match &o.shape {
                        ObjectShape::Rect { width, height } => Shape::Rect {
                            width: *width,
                            height: *height,
                        },
                        ObjectShape::Ellipse { width, height } => Shape::Ellipse {
                            width: *width,
                            height: *height,
                        },
                        ObjectShape::Point(..) => Shape::Point,
                        ObjectShape::Polygon { points } => Shape::Polygon(vec2s(points)),
                        ObjectShape::Polyline { points } => Shape::Polyline(vec2s(points)),
                        ObjectShape::Capsule { width, height }
                        | ObjectShape::Text { width, height, .. } => Shape::Other {
                            width: *width,
                            height: *height,
                        },
                    };
                    DocObject {
                        id: o.id(),
                        name: o.name.clone(),
                        class: o.user_type.clone(),
                        x: o.x,
                        y: o.y,
                        rotation: o.rotation,
                        visible: o.visible,
                        shape,
                        tile,
                        properties: props(&o.properties),
                    }
                })
                .collect(),
        ),
        LayerType::Image(_) => DocLayerKind::Image,
        LayerType::Group(g) => DocLayerKind::Group(
            g.layers()
                .map(|l| layer(l, tilesets))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(DocLayer {
        id: l.id(),
        name: l.name.clone(),
        class: l.user_type.clone(),
        visible: l.visible,
        opacity: l.opacity,
        offset: Vec2::new(l.offset_x, l.offset_y),
        properties: props(&l.properties),
        kind,
    })
}

fn vec2s(points: &[(f32, f32)]) -> Vec<Vec2> {
    points.iter().map(|&(x, y)| Vec2::new(x, y)).collect()
}

fn props(p: &tiled::Properties) -> Props {
    p.iter().map(|(k, v)| (k.clone(), prop(v))).collect()
}

fn prop(v: &PropertyValue) -> Prop {
    match v {
        PropertyValue::BoolValue(b) => Prop::Bool(*b),
        PropertyValue::FloatValue(f) => Prop::Float(*f as f64),
        PropertyValue::IntValue(i) => Prop::Int(*i as i64),
        PropertyValue::ColorValue(c) => Prop::Color(format!(
            "#{:02x}{:02x}{:02x}{:02x}",
            c.alpha, c.red, c.green, c.blue
        )),
        PropertyValue::StringValue(s) => Prop::String(s.clone()),
        PropertyValue::FileValue(s) => Prop::File(s.clone()),
        PropertyValue::ObjectValue(id) => Prop::Object(*id),
        PropertyValue::ListValue(items) => Prop::List(items.iter().map(prop).collect()),
        PropertyValue::ClassValue {
            property_type,
            properties,
        } => Prop::Class {
            class: property_type.clone(),
            members: props(properties),
        },
    }
}
