//! What a Tiled map says, independent of the file format it was saved in.
//!
//! The TMX reader ([`super::tmx`]) and the JSON reader ([`super::json`]) both produce a
//! [`Doc`]; [`super::build`] turns a `Doc` into the game's [`super::MapData`] and applies the
//! WorkAdventure conventions once, whatever the format.

use std::collections::BTreeMap;

use bevy::math::{IVec2, Vec2};

/// Tiled's flip bits in a global tile id.
pub const FLIP_H: u32 = 0x8000_0000;
pub const FLIP_V: u32 = 0x4000_0000;
pub const FLIP_D: u32 = 0x2000_0000;
/// Hexagonal 120° rotation bit; meaningless for orthogonal maps but must be masked off.
pub const FLIP_HEX: u32 = 0x1000_0000;
pub const FLIP_MASK: u32 = FLIP_H | FLIP_V | FLIP_D | FLIP_HEX;

/// A custom property's value, with the type Tiled saved it with.
#[derive(Clone, Debug, PartialEq)]
pub enum Prop {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// `#AARRGGBB` or `#RRGGBB`, as Tiled writes it.
    Color(String),
    /// A path relative to the file the property is in.
    File(String),
    /// An object id, 0 when unset.
    Object(u32),
    Class {
        class: String,
        members: Props,
    },
    List(Vec<Prop>),
}

impl Prop {
    /// The type's name as Tiled's property editor shows it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Prop::String(_) => "string",
            Prop::Int(_) => "int",
            Prop::Float(_) => "float",
            Prop::Bool(_) => "bool",
            Prop::Color(_) => "color",
            Prop::File(_) => "file",
            Prop::Object(_) => "object",
            Prop::Class { .. } => "class",
            Prop::List(_) => "list",
        }
    }
}

/// Custom properties by name. Sorted, so reports list them in a stable order.
pub type Props = BTreeMap<String, Prop>;

/// One map as saved by Tiled.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Doc {
    pub orientation: String,
    /// Size in tiles (ignored for infinite maps, whose size comes from their chunks).
    pub width: u32,
    pub height: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub infinite: bool,
    pub class: String,
    pub properties: Props,
    pub tilesets: Vec<DocTileset>,
    pub layers: Vec<DocLayer>,
}

/// A tileset, embedded or external. Tiles are referred to by `(tileset index, local id)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocTileset {
    pub name: String,
    /// The file the tileset came from (the map's own path for embedded tilesets).
    pub source: String,
    /// The tileset image's path as resolved against `source`; `None` for image collections.
    pub image: Option<String>,
    pub columns: u32,
    pub tile_count: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub margin: u32,
    pub spacing: u32,
    pub properties: Props,
    /// Tiles that have something of their own: properties, a class or (in image
    /// collections) an image.
    pub tiles: BTreeMap<u32, DocTile>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocTile {
    pub class: String,
    pub properties: Props,
    /// Image of a tile in an image-collection tileset, resolved like [`DocTileset::image`].
    pub image: Option<String>,
    pub image_width: u32,
    pub image_height: u32,
}

/// A placed tile: which tileset, which tile in it, and how it is flipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRef {
    pub tileset: usize,
    pub id: u32,
    /// [`FLIP_H`] | [`FLIP_V`] | [`FLIP_D`] bits.
    pub flips: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocLayer {
    pub id: u32,
    pub name: String,
    pub class: String,
    pub visible: bool,
    pub opacity: f32,
    /// Pixel offset of this layer (not including its parents').
    pub offset: Vec2,
    pub properties: Props,
    pub kind: DocLayerKind,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum DocLayerKind {
    /// Non-empty cells, in tile coordinates (may be negative in infinite maps).
    Tiles(Vec<(IVec2, TileRef)>),
    Objects(Vec<DocObject>),
    #[default]
    Image,
    Group(Vec<DocLayer>),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocObject {
    pub id: u32,
    pub name: String,
    /// `class` (Tiled 1.9+) or the older `type`.
    pub class: String,
    pub x: f32,
    pub y: f32,
    /// Degrees clockwise around `(x, y)`.
    pub rotation: f32,
    pub visible: bool,
    pub shape: Shape,
    /// The tile a tile object shows.
    pub tile: Option<TileRef>,
    pub properties: Props,
}

/// An object's shape, relative to the object's `(x, y)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Shape {
    Rect {
        width: f32,
        height: f32,
    },
    Ellipse {
        width: f32,
        height: f32,
    },
    #[default]
    Point,
    Polygon(Vec<Vec2>),
    Polyline(Vec<Vec2>),
    /// Text objects, capsules and anything else that is drawn but has no area for us.
    Other {
        width: f32,
        height: f32,
    },
}

/// Splits a raw global id into the id without flip bits and the flip bits.
pub fn split_gid(raw: u32) -> (u32, u32) {
    (raw & !FLIP_MASK, raw & (FLIP_H | FLIP_V | FLIP_D))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_bits_are_split_from_the_gid() {
        assert_eq!(split_gid(FLIP_H | FLIP_D | 7), (7, FLIP_H | FLIP_D));
        assert_eq!(split_gid(FLIP_HEX | 3), (3, 0));
        assert_eq!(split_gid(12), (12, 0));
    }
}
