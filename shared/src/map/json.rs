//! Tiled's JSON format (`.tmj`/`.json` maps, `.tsj`/`.json` tilesets, `.tj` templates),
//! read with serde into a [`Doc`]. No maintained crate reads it, so the model is ours;
//! field names follow <https://doc.mapeditor.org/en/stable/reference/json-map-format/>.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use base64::Engine;
use bevy::math::{IVec2, Vec2};
use serde::Deserialize;
use serde_json::Value;

use super::doc::*;
use super::{MapFiles, relative_to};

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
struct JMap {
    /// `map`; tilesets say `tileset` and templates `template`.
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    orientation: String,
    #[serde(default)]
    width: u32,
    #[serde(default)]
    height: u32,
    tilewidth: u32,
    tileheight: u32,
    #[serde(default)]
    infinite: bool,
    #[serde(default)]
    class: String,
    #[serde(default)]
    properties: Vec<JProp>,
    #[serde(default)]
    tilesets: Vec<JTilesetRef>,
    #[serde(default)]
    layers: Vec<JLayer>,
}

#[derive(Deserialize, Clone)]
struct JProp {
    name: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    propertytype: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct JTilesetRef {
    firstgid: u32,
    source: Option<String>,
    #[serde(flatten)]
    embedded: Option<JTileset>,
}

#[derive(Deserialize)]
struct JTileset {
    #[serde(default)]
    name: String,
    image: Option<String>,
    #[serde(default)]
    columns: u32,
    #[serde(default)]
    tilecount: u32,
    tilewidth: u32,
    tileheight: u32,
    #[serde(default)]
    margin: u32,
    #[serde(default)]
    spacing: u32,
    #[serde(default)]
    properties: Vec<JProp>,
    #[serde(default)]
    tiles: Vec<JTile>,
}

#[derive(Deserialize)]
struct JTile {
    id: u32,
    #[serde(default, alias = "type")]
    class: String,
    #[serde(default)]
    properties: Vec<JProp>,
    image: Option<String>,
    #[serde(default)]
    imagewidth: u32,
    #[serde(default)]
    imageheight: u32,
}

#[derive(Deserialize)]
struct JLayer {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    class: String,
    #[serde(default = "yes")]
    visible: bool,
    #[serde(default = "one")]
    opacity: f32,
    #[serde(default)]
    offsetx: f32,
    #[serde(default)]
    offsety: f32,
    #[serde(default)]
    properties: Vec<JProp>,
    // Tile layers.
    #[serde(default)]
    width: u32,
    #[serde(default)]
    height: u32,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    compression: Option<String>,
    data: Option<Value>,
    #[serde(default)]
    chunks: Vec<JChunk>,
    // Object layers.
    #[serde(default)]
    objects: Vec<JObject>,
    // Groups.
    #[serde(default)]
    layers: Vec<JLayer>,
}

#[derive(Deserialize)]
struct JChunk {
    x: i32,
    y: i32,
    width: u32,
    #[serde(default)]
    height: u32,
    data: Value,
}

/// Every field optional: template instances only carry what they override.
#[derive(Deserialize, Default, Clone)]
struct JObject {
    id: Option<u32>,
    name: Option<String>,
    /// Tiled 1.9 wrote `class`; 1.8 and 1.10+ write `type`.
    class: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    x: Option<f32>,
    y: Option<f32>,
    width: Option<f32>,
    height: Option<f32>,
    rotation: Option<f32>,
    visible: Option<bool>,
    gid: Option<u32>,
    ellipse: Option<bool>,
    point: Option<bool>,
    capsule: Option<bool>,
    polygon: Option<Vec<JPoint>>,
    polyline: Option<Vec<JPoint>>,
    text: Option<Value>,
    template: Option<String>,
    properties: Option<Vec<JProp>>,
}

#[derive(Deserialize, Clone, Copy)]
struct JPoint {
    x: f32,
    y: f32,
}

#[derive(Deserialize)]
struct JTemplate {
    object: JObject,
    tileset: Option<JTilesetRef>,
}

fn yes() -> bool {
    true
}

fn one() -> f32 {
    1.0
}

fn parse<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        if e.inner().to_string().starts_with("recursion limit exceeded") {
            return format!(
                "{}: not valid Tiled JSON: layers or properties are nested too deep; flatten some groups",
                path.display()
            );
        }
        let at = e.path().to_string();
        let inner = e.into_inner();
        if at == "." || at.is_empty() {
            format!("{}: not valid Tiled JSON: {inner}", path.display())
        } else {
            format!(
                "{}: not valid Tiled JSON at `{at}`: {inner}",
                path.display()
            )
        }
    })
}

fn read(files: &mut dyn MapFiles, path: &Path, what: &str) -> Result<Vec<u8>, String> {
    files
        .read(path)
        .map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))
}

/// Tilesets by global id, as the map (and its templates) numbered them.
#[derive(Clone)]
struct Gids {
    /// `(first_gid, tileset index)` sorted by first gid.
    ranges: Vec<(u32, usize)>,
}

impl Gids {
    fn tile(&self, raw: u32) -> Option<TileRef> {
        let (gid, flips) = split_gid(raw);
        if gid == 0 {
            return None;
        }
        let &(first, tileset) = self.ranges.iter().rev().find(|(first, _)| *first <= gid)?;
        Some(TileRef {
            tileset,
            id: gid - first,
            flips,
        })
    }
}

struct Reader<'a> {
    files: &'a mut dyn MapFiles,
    map_path: &'a Path,
    tilesets: Vec<DocTileset>,
    /// Tilesets already loaded, by resolved path, so templates share the map's.
    loaded: HashMap<String, usize>,
    templates: HashMap<String, (JObject, Option<Gids>)>,
}

/// Reads a Tiled JSON map into a [`Doc`].
pub fn read_json(path: &Path, files: &mut dyn MapFiles) -> Result<Doc, String> {
    let bytes = read(files, path, "the map")?;
    let map: JMap = parse(path, &bytes)?;
    if let Some(kind) = map.kind.as_deref().filter(|k| *k != "map") {
        return Err(format!(
            "{}: this file is a Tiled {kind}, not a map",
            path.display()
        ));
    }
    let mut reader = Reader {
        files,
        map_path: path,
        tilesets: Vec::new(),
        loaded: HashMap::new(),
        templates: HashMap::new(),
    };
    let gids = reader.tileset_refs(path, &map.tilesets)?;
    super::limits::check_size(map.width, map.height, map.tilewidth, map.tileheight)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let layers = map
        .layers
        .iter()
        .map(|l| reader.layer(l, &gids, 0))
        .collect::<Result<_, _>>()?;
    Ok(Doc {
        orientation: map.orientation,
        width: map.width,
        height: map.height,
        tile_width: map.tilewidth,
        tile_height: map.tileheight,
        infinite: map.infinite,
        class: map.class,
        properties: props(&map.properties),
        tilesets: reader.tilesets,
        layers,
    })
}

impl Reader<'_> {
    fn tileset_refs(&mut self, owner: &Path, refs: &[JTilesetRef]) -> Result<Gids, String> {
        let mut ranges = Vec::new();
        for r in refs {
            let index = match (&r.source, &r.embedded) {
                (Some(source), _) => self.external_tileset(owner, source)?,
                (None, Some(ts)) => {
                    self.tilesets.push(tileset(ts, owner));
                    self.tilesets.len() - 1
                }
                (None, None) => {
                    return Err(format!(
                        "{}: the tileset with firstgid {} has neither `source` nor contents",
                        owner.display(),
                        r.firstgid
                    ));
                }
            };
            ranges.push((r.firstgid, index));
        }
        ranges.sort_by_key(|(first, _)| *first);
        Ok(Gids { ranges })
    }

    fn external_tileset(&mut self, owner: &Path, source: &str) -> Result<usize, String> {
        let path = relative_to(owner, Path::new(source));
        let key = path.to_string_lossy().into_owned();
        if let Some(&i) = self.loaded.get(&key) {
            return Ok(i);
        }
        let ts = if source.ends_with(".tsx") {
            super::tmx::read_tsx(&path, self.files)?
        } else {
            let bytes = read(self.files, &path, "the tileset")?;
            let mut ts = tileset(&parse::<JTileset>(&path, &bytes)?, &path);
            ts.source = key.clone();
            ts
        };
        self.tilesets.push(ts);
        self.loaded.insert(key, self.tilesets.len() - 1);
        Ok(self.tilesets.len() - 1)
    }

    fn layer(&mut self, l: &JLayer, gids: &Gids, depth: usize) -> Result<DocLayer, String> {
        let file = self.map_path.display().to_string();
        if depth > super::limits::MAX_GROUP_DEPTH {
            return Err(format!("{file}: {}", super::limits::group_depth_error()));
        }
        let kind = match l.kind.as_str() {
            "tilelayer" => {
                let mut cells = Vec::new();
                if l.chunks.is_empty() {
                    let data = l
                        .data
                        .as_ref()
                        .ok_or_else(|| format!("{file}: tile layer `{}` has no `data`", l.name))?;
                    let raw = decode(data, l, (l.width, l.height), &file)?;
                    let width = l.width.max(1);
                    push_cells(&mut cells, &raw, IVec2::ZERO, width, gids);
                } else {
                    for c in &l.chunks {
                        let raw = decode(&c.data, l, (c.width, c.height), &file)?;
                        push_cells(&mut cells, &raw, IVec2::new(c.x, c.y), c.width.max(1), gids);
                    }
                    cells.sort_by_key(|(c, _)| (c.y, c.x));
                }
                DocLayerKind::Tiles(cells)
            }
            "objectgroup" => DocLayerKind::Objects(
                l.objects
                    .iter()
                    .map(|o| self.object(o, gids))
                    .collect::<Result<_, _>>()?,
            ),
            "imagelayer" => DocLayerKind::Image,
            "group" => DocLayerKind::Group(
                l.layers
                    .iter()
                    .map(|c| self.layer(c, gids, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(format!(
                    "{file}: layer `{}` has unknown type `{other}`",
                    l.name
                ));
            }
        };
        Ok(DocLayer {
            id: l.id,
            name: l.name.clone(),
            class: l.class.clone(),
            visible: l.visible,
            opacity: l.opacity,
            offset: Vec2::new(l.offsetx, l.offsety),
            properties: props(&l.properties),
            kind,
        })
    }

    fn object(&mut self, o: &JObject, gids: &Gids) -> Result<DocObject, String> {
        let mut merged = o.clone();
        let mut tile_gids: Option<&Gids> = Some(gids);
        let template;
        if let Some(source) = &o.template {
            template = self.template(source)?;
            let (base, base_gids) = &template;
            // The instance overrides the template field by field, properties by name.
            merged = override_object(base.clone(), o.clone());
            if o.gid.is_none() && base.gid.is_some() {
                tile_gids = base_gids.as_ref();
            }
        }
        let o = &merged;
        let tile = match (o.gid, tile_gids) {
            (Some(raw), Some(g)) => g.tile(raw),
            _ => None,
        };
        let (w, h) = (o.width.unwrap_or(0.0), o.height.unwrap_or(0.0));
        let shape = if let Some(points) = &o.polygon {
            Shape::Polygon(points.iter().map(|p| Vec2::new(p.x, p.y)).collect())
        } else if let Some(points) = &o.polyline {
            Shape::Polyline(points.iter().map(|p| Vec2::new(p.x, p.y)).collect())
        } else if o.ellipse == Some(true) {
            Shape::Ellipse {
                width: w,
                height: h,
            }
        } else if o.point == Some(true) {
            Shape::Point
        } else if o.text.is_some() || o.capsule == Some(true) {
            Shape::Other {
                width: w,
                height: h,
            }
        } else {
            Shape::Rect {
                width: w,
                height: h,
            }
        };
        Ok(DocObject {
            id: o.id.unwrap_or(0),
            name: o.name.clone().unwrap_or_default(),
            class: o
                .class
                .clone()
                .or_else(|| o.kind.clone())
                .unwrap_or_default(),
            x: o.x.unwrap_or(0.0),
            y: o.y.unwrap_or(0.0),
            rotation: o.rotation.unwrap_or(0.0),
            visible: o.visible.unwrap_or(true),
            shape,
            tile,
            properties: o.properties.as_deref().map(props).unwrap_or_default(),
        })
    }

    fn template(&mut self, source: &str) -> Result<(JObject, Option<Gids>), String> {
        let path = relative_to(self.map_path, Path::new(source));
        let key = path.to_string_lossy().into_owned();
        if let Some(cached) = self.templates.get(&key) {
            return Ok(cached.clone());
        }
        if !source.ends_with(".tj") && !source.ends_with(".json") {
            return Err(format!(
                "{}: template `{source}` is not a JSON template; save it as `.tj` (Tiled: File > Export As Template)",
                self.map_path.display()
            ));
        }
        let bytes = read(self.files, &path, "the template")?;
        let t: JTemplate = parse(&path, &bytes)?;
        let gids = match &t.tileset {
            Some(r) => Some(self.tileset_refs(&path, std::slice::from_ref(r))?),
            None => None,
        };
        let template = (t.object, gids);
        self.templates.insert(key, template.clone());
        Ok(template)
    }
}

fn override_object(base: JObject, inst: JObject) -> JObject {
    let mut props: Vec<JProp> = base.properties.unwrap_or_default();
    for p in inst.properties.into_iter().flatten() {
        props.retain(|q| q.name != p.name);
        props.push(p);
    }
    JObject {
        id: inst.id.or(base.id),
        name: inst.name.or(base.name),
        class: inst.class.or(base.class),
        kind: inst.kind.or(base.kind),
        x: inst.x.or(base.x),
        y: inst.y.or(base.y),
        width: inst.width.or(base.width),
        height: inst.height.or(base.height),
        rotation: inst.rotation.or(base.rotation),
        visible: inst.visible.or(base.visible),
        gid: inst.gid.or(base.gid),
        ellipse: inst.ellipse.or(base.ellipse),
        point: inst.point.or(base.point),
        capsule: inst.capsule.or(base.capsule),
        polygon: inst.polygon.or(base.polygon),
        polyline: inst.polyline.or(base.polyline),
        text: inst.text.or(base.text),
        template: None,
        properties: Some(props),
    }
}

fn push_cells(
    cells: &mut Vec<(IVec2, TileRef)>,
    raw: &[u32],
    origin: IVec2,
    width: u32,
    gids: &Gids,
) {
    for (i, &g) in raw.iter().enumerate() {
        if let Some(t) = gids.tile(g) {
            let at = IVec2::new((i as u32 % width) as i32, (i as u32 / width) as i32);
            cells.push((origin + at, t));
        }
    }
}

/// Decodes a layer's or chunk's `data`: a CSV array, or base64 with optional
/// compression. The data must hold exactly `size` (width × height) tiles; compressed
/// data is inflated only up to that many bytes, so a small file cannot expand into a
/// huge one.
fn decode(data: &Value, l: &JLayer, size: (u32, u32), file: &str) -> Result<Vec<u32>, String> {
    let bad = |what: String| format!("{file}: tile layer `{}`: {what}", l.name);
    let (w, h) = size;
    let expected = u64::from(w) * u64::from(h);
    if expected > super::limits::MAX_TILES {
        return Err(bad(format!(
            "it is {w}x{h} tiles; at most {} million tiles are supported",
            super::limits::MAX_TILES / 1_000_000
        )));
    }
    let tiles = decode_tiles(data, l, expected * 4, &bad)?;
    if tiles.len() as u64 != expected {
        return Err(bad(format!(
            "its data has {} tiles, but its declared size {w}x{h} needs {expected}",
            tiles.len()
        )));
    }
    Ok(tiles)
}

fn decode_tiles(
    data: &Value,
    l: &JLayer,
    max_bytes: u64,
    bad: &dyn Fn(String) -> String,
) -> Result<Vec<u32>, String> {
    match l.encoding.as_deref().unwrap_or("csv") {
        "csv" => data
            .as_array()
            .ok_or_else(|| bad("`data` should be an array of tile ids".into()))?
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad(format!("`{v}` is not a tile id")))
            })
            .collect(),
        "base64" => {
            let text = data
                .as_str()
                .ok_or_else(|| bad("base64 `data` should be a string".into()))?;
            let packed = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| bad(format!("bad base64 data: {e}")))?;
            let bytes = decompress(&packed, l.compression.as_deref().unwrap_or(""), max_bytes)
                .map_err(bad)?;
            if bytes.len() % 4 != 0 {
                return Err(bad(format!(
                    "decoded data is {} bytes, not a whole number of 4-byte tile ids",
                    bytes.len()
                )));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        }
        other => Err(bad(format!("unknown encoding `{other}`"))),
    }
}

/// Inflates at most `max` bytes.
fn decompress(packed: &[u8], compression: &str, max: u64) -> Result<Vec<u8>, String> {
    match compression {
        "" => Ok(packed.to_vec()),
        "zlib" => read_bounded(flate2::read::ZlibDecoder::new(packed), max, "zlib"),
        "gzip" => read_bounded(flate2::read::GzDecoder::new(packed), max, "gzip"),
        "zstd" => zstd_decode(packed, max),
        other => Err(format!("unknown compression `{other}`")),
    }
}

/// Reads at most `max` bytes; one more is read to notice data that is too long.
fn read_bounded(reader: impl Read, max: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("bad {what} data: {e}"))?;
    if out.len() as u64 > max {
        return Err(format!(
            "the {what} data inflates to more than the {max} bytes its declared size needs"
        ));
    }
    Ok(out)
}

#[cfg(not(target_arch = "wasm32"))]
fn zstd_decode(packed: &[u8], max: u64) -> Result<Vec<u8>, String> {
    let decoder =
        zstd::stream::read::Decoder::new(packed).map_err(|e| format!("bad zstd data: {e}"))?;
    read_bounded(decoder, max, "zstd")
}

#[cfg(target_arch = "wasm32")]
fn zstd_decode(_packed: &[u8], _max: u64) -> Result<Vec<u8>, String> {
    Err("zstd-compressed layers are read by the server, not in the browser".into())
}

fn tileset(t: &JTileset, source: &Path) -> DocTileset {
    let resolve = |img: &str| {
        relative_to(source, Path::new(img))
            .to_string_lossy()
            .replace('\\', "/")
    };
    DocTileset {
        name: t.name.clone(),
        source: source.to_string_lossy().into_owned(),
        image: t.image.as_deref().map(resolve),
        columns: t.columns,
        tile_count: t.tilecount,
        tile_width: t.tilewidth,
        tile_height: t.tileheight,
        margin: t.margin,
        spacing: t.spacing,
        properties: props(&t.properties),
        tiles: t
            .tiles
            .iter()
            .map(|tile| {
                (
                    tile.id,
                    DocTile {
                        class: tile.class.clone(),
                        properties: props(&tile.properties),
                        image: tile.image.as_deref().map(resolve),
                        image_width: tile.imagewidth,
                        image_height: tile.imageheight,
                    },
                )
            })
            .collect(),
    }
}

fn props(list: &[JProp]) -> Props {
    list.iter()
        .map(|p| {
            (
                p.name.clone(),
                prop(
                    p.kind.as_deref().unwrap_or("string"),
                    &p.propertytype,
                    &p.value,
                ),
            )
        })
        .collect()
}

/// Converts one JSON property. A value that does not fit its declared type is kept as a
/// string, so validation can report it instead of the whole map failing to load.
fn prop(kind: &str, class: &str, v: &Value) -> Prop {
    match (kind, v) {
        ("bool", Value::Bool(b)) => Prop::Bool(*b),
        ("int", Value::Number(n)) if n.as_i64().is_some() => Prop::Int(n.as_i64().unwrap_or(0)),
        ("float", Value::Number(n)) => Prop::Float(n.as_f64().unwrap_or(0.0)),
        ("color", Value::String(s)) => Prop::Color(s.clone()),
        ("file", Value::String(s)) => Prop::File(s.clone()),
        ("object", Value::Number(n)) => Prop::Object(n.as_u64().unwrap_or(0) as u32),
        ("class", Value::Object(members)) => Prop::Class {
            class: class.to_string(),
            members: members
                .iter()
                .map(|(k, v)| (k.clone(), inferred(v)))
                .collect(),
        },
        ("list", Value::Array(items)) => Prop::List(items.iter().map(inferred).collect()),
        (_, Value::String(s)) => Prop::String(s.clone()),
        (_, other) => Prop::String(other.to_string()),
    }
}

/// Class members in JSON carry no type of their own; take the JSON value's.
fn inferred(v: &Value) -> Prop {
    match v {
        Value::Bool(b) => Prop::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Prop::Int(i),
            None => Prop::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Prop::String(s.clone()),
        Value::Object(m) => Prop::Class {
            class: String::new(),
            members: m.iter().map(|(k, v)| (k.clone(), inferred(v))).collect(),
        },
        Value::Array(items) => Prop::List(items.iter().map(inferred).collect()),
        Value::Null => Prop::String(String::new()),
    }
}
