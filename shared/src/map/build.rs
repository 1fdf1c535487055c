//! From what the file says ([`Doc`]) to what the game uses ([`MapData`]): layer
//! flattening, infinite maps, the WorkAdventure conventions and validation.

use std::collections::HashSet;
use std::path::Path;

use bevy::math::{IVec2, Rect, Vec2};

use super::doc::*;
use super::zones::{self, Area, PropReader, Zone, bounds_of};
use super::*;
use crate::collision::merge_solid_cells;

/// A layer with what it inherits from its groups.
#[derive(Clone)]
struct Flat<'a> {
    layer: &'a DocLayer,
    /// "`walls`" or "`rooms/meeting`" for a layer in a group.
    path: String,
    visible: bool,
    opacity: f32,
    offset: Vec2,
    above: bool,
    /// Zone and collision properties inherited from groups, overridden by the layer's own.
    props: Props,
    order: u32,
}

fn flatten<'a>(layers: &'a [DocLayer], parent: Option<&Flat<'a>>, out: &mut Vec<Flat<'a>>) {
    for layer in layers {
        let mut props = parent.map(|p| p.props.clone()).unwrap_or_default();
        props.extend(layer.properties.clone());
        let flat = Flat {
            layer,
            path: match parent {
                Some(p) => format!("{}/{}", p.path, layer.name),
                None => layer.name.clone(),
            },
            visible: layer.visible && parent.is_none_or(|p| p.visible),
            opacity: layer.opacity * parent.map_or(1.0, |p| p.opacity),
            offset: layer.offset + parent.map_or(Vec2::ZERO, |p| p.offset),
            above: layer.name == "above"
                || matches!(layer.properties.get("above"), Some(Prop::Bool(true)))
                || parent.is_some_and(|p| p.above),
            props,
            order: out.len() as u32,
        };
        out.push(flat);
        if let DocLayerKind::Group(children) = &layer.kind {
            let group = out[out.len() - 1].clone();
            flatten(children, Some(&group), out);
        }
    }
}

/// Collects problems for one map file.
struct Report {
    file: String,
    problems: Vec<Problem>,
}

impl Report {
    fn error(&mut self, place: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::error(&self.file, place, message));
    }

    fn warning(&mut self, place: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::warning(&self.file, place, message));
    }
}

fn layer_place(path: &str) -> String {
    format!("layer `{path}`")
}

fn object_place(layer: &str, o: &DocObject) -> String {
    if o.name.is_empty() {
        format!("layer `{layer}`, object id {}", o.id)
    } else {
        format!("layer `{layer}`, object `{}` (id {})", o.name, o.id)
    }
}

fn is_true(props: &Props, name: &str) -> bool {
    matches!(props.get(name), Some(Prop::Bool(true)))
}

/// Checks that the layer-level flags we read are bools.
fn check_flags(report: &mut Report, place: &str, props: &Props) {
    let mut r = PropReader::new(props);
    for flag in ["collides", "start", "startLayer", "above"] {
        r.bool(flag);
    }
    for e in r.errors {
        report.error(place, e);
    }
}

/// An object's outline in map pixels, with rotation applied.
enum Outline {
    Rect(Rect),
    Ellipse { center: Vec2, radii: Vec2 },
    Polygon(Vec<Vec2>),
    Polyline(Vec<Vec2>),
    Point(Vec2),
}

fn rotate(points: Vec<Vec2>, pivot: Vec2, degrees: f32) -> Vec<Vec2> {
    if degrees == 0.0 {
        return points;
    }
    let (s, c) = degrees.to_radians().sin_cos();
    points
        .into_iter()
        .map(|p| {
            let d = p - pivot;
            pivot + Vec2::new(d.x * c - d.y * s, d.x * s + d.y * c)
        })
        .collect()
}

fn rect_outline(min: Vec2, size: Vec2, pivot: Vec2, rotation: f32) -> Outline {
    let r = Rect::from_corners(min, min + size);
    if rotation == 0.0 {
        return Outline::Rect(r);
    }
    let corners = vec![
        r.min,
        Vec2::new(r.max.x, r.min.y),
        r.max,
        Vec2::new(r.min.x, r.max.y),
    ];
    Outline::Polygon(rotate(corners, pivot, rotation))
}

/// An ellipse as a polygon, for rotated ellipses.
fn ellipse_points(center: Vec2, radii: Vec2, n: usize) -> Vec<Vec2> {
    (0..n)
        .map(|i| {
            let a = i as f32 / n as f32 * std::f32::consts::TAU;
            center + Vec2::new(a.cos() * radii.x, a.sin() * radii.y)
        })
        .collect()
}

fn outline(o: &DocObject, at: Vec2, tile_size: Option<Vec2>) -> Outline {
    let rot = o.rotation;
    if let Some(size) = tile_size {
        // Tile objects hang from their bottom-left corner.
        return rect_outline(at - Vec2::new(0.0, size.y), size, at, rot);
    }
    match &o.shape {
        Shape::Rect { width, height } | Shape::Other { width, height } => {
            rect_outline(at, Vec2::new(*width, *height), at, rot)
        }
        Shape::Ellipse { width, height } => {
            let radii = Vec2::new(width / 2.0, height / 2.0);
            let center = at + radii;
            if rot == 0.0 {
                Outline::Ellipse { center, radii }
            } else {
                Outline::Polygon(rotate(ellipse_points(center, radii, 24), at, rot))
            }
        }
        Shape::Point => Outline::Point(at),
        Shape::Polygon(points) => {
            Outline::Polygon(rotate(points.iter().map(|p| at + *p).collect(), at, rot))
        }
        Shape::Polyline(points) => {
            Outline::Polyline(rotate(points.iter().map(|p| at + *p).collect(), at, rot))
        }
    }
}

impl Outline {
    fn center(&self) -> Vec2 {
        match self {
            Outline::Rect(r) => r.center(),
            Outline::Ellipse { center, .. } => *center,
            Outline::Polygon(p) | Outline::Polyline(p) => bounds_of(p.iter().copied()).center(),
            Outline::Point(p) => *p,
        }
    }

    fn area(&self) -> Option<Area> {
        match self {
            Outline::Rect(r) => Some(Area::Rect(*r)),
            Outline::Ellipse { center, radii } => Some(Area::Ellipse {
                center: *center,
                radii: *radii,
            }),
            Outline::Polygon(p) => Some(Area::Polygon(p.clone())),
            Outline::Point(p) => Some(Area::Point(*p)),
            Outline::Polyline(_) => None,
        }
    }

    fn solid(&self) -> Result<SolidShape, &'static str> {
        match self {
            Outline::Rect(r) if r.width() > 0.0 && r.height() > 0.0 => Ok(SolidShape::Rect(*r)),
            Outline::Ellipse { center, radii } if radii.x > 0.0 && radii.y > 0.0 => {
                if (radii.x - radii.y).abs() < 0.01 {
                    Ok(SolidShape::Circle {
                        center: *center,
                        radius: radii.x,
                    })
                } else {
                    Ok(SolidShape::Polygon(ellipse_points(*center, *radii, 24)))
                }
            }
            Outline::Polygon(p) if p.len() >= 3 => Ok(SolidShape::Polygon(p.clone())),
            Outline::Polyline(p) if p.len() >= 2 => Ok(SolidShape::Polyline(p.clone())),
            Outline::Point(_) => Err("a collider must have an area; a point blocks nothing"),
            _ => Err("a collider must have a size; this shape is empty"),
        }
    }
}

pub(super) fn build(path: &Path, doc: &Doc, files: &mut dyn MapFiles) -> Loaded {
    let mut report = Report {
        file: path.display().to_string(),
        problems: Vec::new(),
    };
    let map = build_map(path, doc, files, &mut report);
    Loaded {
        map,
        problems: report.problems,
    }
}

fn build_map(
    path: &Path,
    doc: &Doc,
    files: &mut dyn MapFiles,
    report: &mut Report,
) -> Option<MapData> {
    if doc.orientation != "orthogonal" {
        report.error(
            "",
            format!(
                "{} maps are not supported; Tavern draws and collides orthogonal maps only (Map > Map Properties > Orientation)",
                doc.orientation
            ),
        );
        return None;
    }
    if doc.tile_width == 0 || doc.tile_height == 0 {
        report.error("", "the map's tile size is zero");
        return None;
    }
    let tile = Vec2::new(doc.tile_width as f32, doc.tile_height as f32);
    let mut flat = Vec::new();
    flatten(&doc.layers, None, &mut flat);

    // Infinite maps become finite ones covering every tile, shifted to start at (0, 0).
    let (origin, width, height) = if doc.infinite {
        let cells = flat.iter().flat_map(|f| match &f.layer.kind {
            DocLayerKind::Tiles(cells) => cells.as_slice(),
            _ => &[],
        });
        let (mut min, mut max) = (IVec2::MAX, IVec2::MIN);
        for (c, _) in cells {
            min = min.min(*c);
            max = max.max(*c);
        }
        if min.x > max.x {
            report.error("", "the infinite map has no tiles at all");
            return None;
        }
        // In 64 bits: chunks far apart must not wrap around.
        let span =
            |lo: i32, hi: i32| u32::try_from(i64::from(hi) - i64::from(lo) + 1).unwrap_or(u32::MAX);
        (min, span(min.x, max.x), span(min.y, max.y))
    } else {
        (IVec2::ZERO, doc.width, doc.height)
    };
    if width == 0 || height == 0 {
        report.error("", "the map is empty (width or height is 0)");
        return None;
    }
    if let Err(e) = super::limits::check_size(width, height, doc.tile_width, doc.tile_height) {
        report.error("", e);
        return None;
    }
    let shift = -origin.as_vec2() * tile;

    // Tilesets: our own global ids, one after the other.
    let mut tilesets = Vec::new();
    let mut first_gid = 1u32;
    let mut solid_tiles = HashSet::new();
    for ts in &doc.tilesets {
        let place = format!("tileset `{}` ({})", ts.name, ts.source);
        if let Some(image) = &ts.image
            && !files.exists(Path::new(image))
        {
            report.error(&place, format!("the tileset image `{image}` is missing"));
        }
        let mut tile_images = Vec::new();
        let mut max_id = ts.tile_count;
        for (id, t) in &ts.tiles {
            max_id = max_id.max(id + 1);
            let tile_place = format!("{place}, tile {id}");
            let mut r = PropReader::new(&t.properties);
            if r.bool("collides") == Some(true) {
                solid_tiles.insert((tilesets.len(), *id));
            }
            for e in r.errors {
                report.error(&tile_place, e);
            }
            if let Some(image) = &t.image {
                if !files.exists(Path::new(image)) {
                    report.error(&tile_place, format!("the tile image `{image}` is missing"));
                }
                tile_images.push(TileImage {
                    id: *id,
                    image: file_name(image),
                    url: None,
                    path: image.clone(),
                    width: t.image_width,
                    height: t.image_height,
                });
            }
        }
        tilesets.push(TilesetInfo {
            name: ts.name.clone(),
            first_gid,
            image: ts.image.as_deref().map(file_name),
            image_url: None,
            image_path: ts.image.clone(),
            columns: ts.columns,
            tile_count: max_id,
            tile_width: ts.tile_width,
            tile_height: ts.tile_height,
            margin: ts.margin,
            spacing: ts.spacing,
            tile_images,
        });
        first_gid += max_id.max(1);
    }
    let gid_of = |t: &TileRef| tilesets[t.tileset].first_gid + t.id;

    let cells = (width * height) as usize;
    let mut solid = vec![false; cells];
    let mut layers = Vec::new();
    let mut sprites = Vec::new();
    let mut solid_shapes = Vec::new();
    let mut spawns = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut zones_out = Vec::new();
    let mut spawn_places: Vec<(Vec2, String)> = Vec::new();

    for f in &flat {
        let place = layer_place(&f.path);
        check_flags(report, &place, &f.layer.properties);
        let layer_collides = is_true(&f.props, "collides");
        let is_entry =
            is_true(&f.layer.properties, "start") || is_true(&f.layer.properties, "startLayer");
        match &f.layer.kind {
            DocLayerKind::Tiles(doc_cells) => {
                let shift_cells = (f.offset / tile).round();
                if (shift_cells * tile - f.offset).abs().max_element() > 0.01 {
                    report.warning(
                        &place,
                        format!(
                            "the layer is offset by ({}, {}) px, not whole tiles; it is drawn there but collides and spawns at ({}, {}) tiles",
                            f.offset.x, f.offset.y, shift_cells.x, shift_cells.y
                        ),
                    );
                }
                let shift_cells = shift_cells.as_ivec2() - origin;
                let mut tiles = vec![0u32; cells];
                let mut covered = vec![false; cells];
                let mut points = Vec::new();
                let mut bad_ids = 0;
                for (c, t) in doc_cells {
                    let c = *c + shift_cells;
                    if c.x < 0 || c.y < 0 || c.x >= width as i32 || c.y >= height as i32 {
                        continue;
                    }
                    if t.tileset >= tilesets.len() || t.id >= tilesets[t.tileset].tile_count {
                        bad_ids += 1;
                        continue;
                    }
                    let i = (c.y as u32 * width + c.x as u32) as usize;
                    tiles[i] = gid_of(t) | t.flips;
                    covered[i] = true;
                    if layer_collides || solid_tiles.contains(&(t.tileset, t.id)) {
                        solid[i] = true;
                    }
                    if f.layer.name == "start" || is_entry {
                        points.push((c.as_vec2() + Vec2::splat(0.5)) * tile);
                    }
                }
                if bad_ids > 0 {
                    report.warning(
                        &place,
                        format!(
                            "{bad_ids} tiles refer to no tile of any tileset; they are left empty"
                        ),
                    );
                }
                for p in &points {
                    spawn_places.push((*p, place.clone()));
                }
                if f.layer.name == "start" {
                    spawns.extend(points.iter().copied());
                }
                if is_entry || f.layer.name == "start" {
                    entries.push(Entry {
                        name: f.layer.name.clone(),
                        points,
                    });
                }
                if zones::is_zone(&f.props) {
                    let rects: Vec<Rect> = merge_solid_cells(width, height, |c| {
                        covered[(c.y as u32 * width + c.x as u32) as usize]
                    })
                    .into_iter()
                    .map(|(min, max)| Rect {
                        min: min.as_vec2() * tile,
                        max: max.as_vec2() * tile,
                    })
                    .collect();
                    let area = Area::Rects(rects);
                    add_zone(
                        report,
                        &mut zones_out,
                        &f.layer.name,
                        &place,
                        &f.props,
                        area,
                        false,
                    );
                }
                layers.push(TileLayerData {
                    name: f.layer.name.clone(),
                    visible: f.visible,
                    opacity: f.opacity,
                    offset: f.offset,
                    above: f.above,
                    order: f.order,
                    tiles,
                });
            }
            DocLayerKind::Objects(objects) => {
                for o in objects {
                    let oplace = object_place(&f.path, o);
                    let mut props = f.props.clone();
                    props.extend(o.properties.clone());
                    check_flags(report, &oplace, &o.properties);
                    let at = Vec2::new(o.x, o.y) + f.offset + shift;
                    let tile_size = o.tile.map(|t| match &o.shape {
                        Shape::Rect { width, height } if *width > 0.0 && *height > 0.0 => {
                            Vec2::new(*width, *height)
                        }
                        _ => doc.tilesets.get(t.tileset).map_or(tile, |ts| {
                            Vec2::new(ts.tile_width as f32, ts.tile_height as f32)
                        }),
                    });
                    let shape = outline(o, at, tile_size);
                    if let (Some(t), Some(size)) = (o.tile, tile_size)
                        && t.tileset < tilesets.len()
                    {
                        sprites.push(TileSprite {
                            gid: gid_of(&t) | t.flips,
                            position: at,
                            size,
                            rotation: o.rotation,
                            visible: f.visible && o.visible,
                            opacity: f.opacity,
                            above: f.above,
                            order: f.order,
                        });
                    }
                    if o.class == "collider" || layer_collides || is_true(&o.properties, "collides")
                    {
                        match shape.solid() {
                            Ok(s) => solid_shapes.push(s),
                            Err(why) => report.error(&oplace, why),
                        }
                    }
                    if o.class == "spawn" {
                        spawns.push(shape.center());
                        spawn_places.push((shape.center(), oplace.clone()));
                    }
                    if is_true(&o.properties, "start") || is_true(&o.properties, "startLayer") {
                        if o.name.is_empty() {
                            report.error(&oplace, "an entry point (`start: true`) needs a name: exits refer to it by name");
                        } else {
                            spawn_places.push((shape.center(), oplace.clone()));
                            match entries.iter_mut().find(|e| e.name == o.name) {
                                Some(e) => e.points.push(shape.center()),
                                None => entries.push(Entry {
                                    name: o.name.clone(),
                                    points: vec![shape.center()],
                                }),
                            }
                        }
                    }
                    // An object is a zone by its own properties or class; it takes its
                    // layer's (or group's) zone properties only if it has an area, so
                    // spawn points and markers on a zone layer stay what they are.
                    let own = o.class == "area" || zones::is_zone(&o.properties);
                    let inherited =
                        zones::is_zone(&f.props) && shape.area().is_some_and(|a| a.has_extent());
                    if own || inherited {
                        let name = if o.name.is_empty() {
                            f.layer.name.clone()
                        } else {
                            o.name.clone()
                        };
                        match shape.area() {
                            Some(area) => add_zone(report, &mut zones_out, &name, &oplace, &props, area, o.class == "area"),
                            None => report.error(&oplace, "a zone must have an area; a polyline encloses nothing (draw a rectangle, ellipse or polygon)"),
                        }
                    }
                }
            }
            DocLayerKind::Image | DocLayerKind::Group(_) => {}
        }
    }

    if spawns.is_empty()
        && let Some(first) = entries.iter().find(|e| !e.points.is_empty())
    {
        spawns = first.points.clone();
    }
    let mut props = PropReader::new(&doc.properties);
    let hearing_radius = props.float("hearingRadius").and_then(|r| {
        let max = crate::voice::MAX_HEARING_RADIUS;
        if (1.0..=f64::from(max)).contains(&r) {
            Some(r as f32)
        } else {
            props.errors.push(format!(
                "property `hearingRadius` should be between 1 and {max} pixels, not {r}"
            ));
            None
        }
    });
    for e in props.errors {
        report.error("", e);
    }
    let data = MapData {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        width,
        height,
        tile_width: doc.tile_width,
        tile_height: doc.tile_height,
        tilesets,
        layer_count: flat.len() as u32,
        layers,
        sprites,
        solid,
        solid_shapes,
        spawns,
        entries,
        zones: zones_out,
        hearing_radius,
    };
    if data.spawns.is_empty() {
        report.error(
            "",
            "the map has no spawn point; add a tile layer named `start` with a tile where players appear, or an object of class `spawn`",
        );
    }
    for (place, problem) in super::rooms::problems(&data) {
        report.error(&place, problem);
    }
    let mut in_wall: Vec<(String, Vec<Vec2>)> = Vec::new();
    for (p, place) in spawn_places {
        let blocked = data.is_solid_cell(data.cell_at(p))
            || data
                .solid_shapes
                .iter()
                .any(|s| matches!(s, SolidShape::Rect(r) if r.contains(p)));
        if blocked {
            match in_wall.iter_mut().find(|(pl, _)| *pl == place) {
                Some((_, ps)) => ps.push(p),
                None => in_wall.push((place, vec![p])),
            }
        }
    }
    for (place, points) in in_wall {
        let shown: Vec<String> = points
            .iter()
            .take(3)
            .map(|p| format!("({}, {}) px", p.x, p.y))
            .collect();
        let more = if points.len() > 3 {
            format!(" and {} more", points.len() - 3)
        } else {
            String::new()
        };
        report.error(
            &place,
            format!(
                "spawn point at {}{more} is inside a solid tile or collider; players would start stuck",
                shown.join(", ")
            ),
        );
    }
    Some(data)
}

fn add_zone(
    report: &mut Report,
    out: &mut Vec<Zone>,
    name: &str,
    place: &str,
    props: &Props,
    area: Area,
    declared_area: bool,
) {
    let (effects, errors) = zones::effects(props);
    for e in errors {
        report.error(place, e);
    }
    if effects.is_empty() {
        if declared_area {
            report.warning(
                place,
                format!(
                    "this `area` has none of the zone properties ({}), so it does nothing",
                    zones::ZONE_PROPERTIES.join(", ")
                ),
            );
        }
        return;
    }
    if !area.has_extent() && !effects.point_ok() {
        report.error(
            place,
            format!(
                "zone ({}) has no area: draw it as a rectangle, ellipse or polygon with a size, or paint tiles on the layer",
                effects.kinds().join(", ")
            ),
        );
        return;
    }
    out.push(Zone {
        name: name.to_string(),
        place: place.to_string(),
        area,
        effects,
    });
}
