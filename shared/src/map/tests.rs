//! Map loading tests on small inline maps. The fixtures in `tests/fixtures/maps`
//! (Tiled's own output, every encoding and shape) are covered by `tests/maps.rs`.

use std::collections::HashMap;

use super::*;

/// Files held in memory, for maps written inside a test.
#[derive(Default)]
pub struct MemFiles(pub HashMap<String, Vec<u8>>);

impl MemFiles {
    pub fn with(mut self, path: &str, text: &str) -> Self {
        self.0.insert(path.to_string(), text.as_bytes().to_vec());
        self
    }
}

impl MapFiles for MemFiles {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        let key = path.to_string_lossy().replace('\\', "/");
        self.0.get(&key).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("no file {key}"))
        })
    }

    fn exists(&mut self, path: &Path) -> bool {
        self.0
            .contains_key(&path.to_string_lossy().replace('\\', "/"))
    }
}

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

fn files(map: &str) -> MemFiles {
    MemFiles::default()
        .with("maps/test.tmx", map)
        .with("maps/t.tsx", TSX)
        .with("maps/tiles.png", "png")
}

fn load(map: &str) -> Loaded {
    load_map(Path::new("maps/test.tmx"), &mut files(map))
}

fn errors(loaded: &Loaded) -> Vec<String> {
    loaded
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn loads_solid_tiles_spawns_and_tilesets() {
    let (m, warnings) = load(&tmx(
        "1,2,1,\n1,1,2",
        r#"<object id="1" type="spawn" x="16" y="48"><point/></object>"#,
    ))
    .into_result()
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((m.width, m.height, m.tile_width), (3, 2, 32));
    assert_eq!(m.solid, vec![false, true, false, false, false, true]);
    assert_eq!(m.spawns, vec![Vec2::new(16.0, 48.0)]);
    assert_eq!(m.tilesets[0].image.as_deref(), Some("tiles.png"));
    assert_eq!(m.layers[0].tiles, vec![1, 2, 1, 1, 1, 2]);
    assert_eq!(m.name, "test");
}

#[test]
fn a_map_without_spawn_is_rejected_with_its_file_named() {
    let loaded = load(&tmx("1,1,1,\n1,1,1", ""));
    let errs = errors(&loaded);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("error: maps/test.tmx: the map has no spawn point"),
        "{errs:?}"
    );
    assert!(loaded.into_result().is_err());
}

#[test]
fn a_spawn_inside_a_wall_is_rejected() {
    let loaded = load(&tmx(
        "1,2,1,\n1,1,1",
        r#"<object id="1" name="gate" type="spawn" x="40" y="10"><point/></object>"#,
    ));
    let errs = errors(&loaded);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("layer `objects`, object `gate` (id 1): spawn point at (40, 10) px is inside a solid tile"), "{errs:?}");
}

#[test]
fn a_missing_tileset_names_the_file() {
    let bad = tmx("1,1,1,\n1,1,1", "").replace("t.tsx", "missing.tsx");
    let errs = errors(&load(&bad));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("maps/test.tmx") && errs[0].contains("missing.tsx"),
        "{errs:?}"
    );
}

#[test]
fn a_missing_tileset_image_is_an_error() {
    let map = tmx(
        "1,1,1,\n1,1,1",
        r#"<object id="1" type="spawn" x="16" y="16"><point/></object>"#,
    );
    let mut f = files(&map);
    f.0.remove("maps/tiles.png");
    let loaded = load_map(Path::new("maps/test.tmx"), &mut f);
    let errs = errors(&loaded);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("tileset `t` (maps/t.tsx): the tileset image `maps/tiles.png` is missing"),
        "{errs:?}"
    );
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

#[test]
fn relative_paths_fold_parent_directories() {
    assert_eq!(
        relative_to(Path::new("maps/town.tmx"), Path::new("../assets/t.png")),
        PathBuf::from("assets/t.png")
    );
    assert_eq!(
        relative_to(Path::new("/w/maps/a/town.tmx"), Path::new("./b.tsx")),
        PathBuf::from("/w/maps/a/b.tsx")
    );
}

/// A 4x3 JSON map with an embedded tileset (tile 2 collides), a start tile at (0, 0),
/// and the given object layer objects and extra layers.
fn json_map(objects: &str, extra_layers: &str) -> String {
    format!(
        r#"{{"type":"map","orientation":"orthogonal","width":4,"height":3,"tilewidth":16,"tileheight":16,"infinite":false,
 "tilesets":[{{"firstgid":1,"name":"t","tilewidth":16,"tileheight":16,"tilecount":2,"columns":2,"image":"t.png",
   "tiles":[{{"id":1,"properties":[{{"name":"collides","type":"bool","value":true}}]}}]}}],
 "layers":[{{"type":"tilelayer","id":1,"name":"ground","width":4,"height":3,"data":[1,1,1,1,1,1,1,1,1,1,1,1]}},
  {{"type":"tilelayer","id":2,"name":"start","width":4,"height":3,"visible":false,"data":[1,0,0,0,0,0,0,0,0,0,0,0]}}
  {extra_layers},
  {{"type":"objectgroup","id":3,"name":"objs","objects":[{objects}]}}]}}"#
    )
}

fn load_json(text: &str) -> Loaded {
    let mut files = MemFiles::default()
        .with("maps/j.tmj", text)
        .with("maps/t.png", "png");
    load_map(Path::new("maps/j.tmj"), &mut files)
}

fn messages(loaded: &Loaded) -> Vec<String> {
    loaded.problems.iter().map(|p| p.to_string()).collect()
}

#[test]
fn designers_are_warned_about_areas_that_do_nothing_and_odd_offsets() {
    let loaded = load_json(&json_map(
        r#"{"id":1,"name":"plaza","type":"area","x":16,"y":16,"width":32,"height":16}"#,
        r#",{"type":"tilelayer","id":4,"name":"shifted","width":4,"height":3,"offsetx":8,"offsety":0,"data":[0,0,0,0,0,1,0,0,0,0,0,0]}"#,
    ));
    let all = messages(&loaded);
    assert!(loaded.problems.iter().all(|p| !p.is_error()), "{all:#?}");
    assert!(
        all.iter().any(|m| m.starts_with("warning: maps/j.tmj: layer `objs`, object `plaza` (id 1): this `area` has none of the zone properties")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|m| m
                .contains("layer `shifted`: the layer is offset by (8, 0) px, not whole tiles")),
        "{all:#?}"
    );
    let (map, warnings) = loaded.into_result().unwrap();
    assert_eq!(warnings.len(), 2);
    assert!(map.zones.is_empty());
}

#[test]
fn colliders_and_entries_that_cannot_work_are_errors() {
    let loaded = load_json(&json_map(
        r#"{"id":1,"name":"post","type":"collider","x":40,"y":40,"point":true},
           {"id":2,"name":"","x":24,"y":24,"point":true,"properties":[{"name":"start","type":"bool","value":true}]},
           {"id":3,"name":"door","x":8,"y":8,"point":true,"properties":[{"name":"start","type":"string","value":"yes"}]}"#,
        "",
    ));
    let all = messages(&loaded);
    assert!(
        all.iter().any(|m| m.contains(
            "object `post` (id 1): a collider must have an area; a point blocks nothing"
        )),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|m| m.contains("object id 2: an entry point (`start: true`) needs a name")),
        "{all:#?}"
    );
    assert!(
        all.iter().any(|m| m.contains(
            "object `door` (id 3): property `start` should be a bool, but it is a string (\"yes\")"
        )),
        "{all:#?}"
    );
    assert!(loaded.into_result().is_err());
}

#[test]
fn collider_shapes_and_layer_collides_make_things_solid() {
    let (map, _) = load_json(&json_map(
        r#"{"id":1,"name":"rock","type":"collider","x":32,"y":16,"width":16,"height":16,"ellipse":true},
           {"id":2,"name":"wedge","type":"collider","x":0,"y":32,"polygon":[{"x":0,"y":0},{"x":16,"y":0},{"x":0,"y":16}]}"#,
        r#",{"type":"tilelayer","id":5,"name":"cliffs","width":4,"height":3,"properties":[{"name":"collides","type":"bool","value":true}],"data":[0,0,0,1,0,0,0,0,0,0,0,0]}"#,
    ))
    .into_result()
    .unwrap();
    assert!(
        map.is_solid_cell(IVec2::new(3, 0)),
        "a collides layer makes its tiles solid"
    );
    assert!(!map.is_solid_cell(IVec2::new(2, 0)));
    assert_eq!(
        map.solid_shapes[0],
        SolidShape::Circle {
            center: Vec2::new(40.0, 24.0),
            radius: 8.0
        }
    );
    assert_eq!(
        map.solid_shapes[1],
        SolidShape::Polygon(vec![
            Vec2::new(0.0, 32.0),
            Vec2::new(16.0, 32.0),
            Vec2::new(0.0, 48.0)
        ])
    );
    let world = crate::collision::CollisionWorld::from_map(&map);
    assert!(!world.is_free(Vec2::new(40.0, 24.0), 1.0));
    assert!(!world.is_free(Vec2::new(4.0, 36.0), 1.0));
    assert!(world.is_free(Vec2::new(24.0, 40.0), 1.0));
}

#[test]
fn a_map_sets_how_far_voices_carry_and_a_bad_value_is_named() {
    let with = |value: &str| {
        json_map("", "").replacen(
            r#""infinite":false,"#,
            &format!(
                r#""infinite":false,"properties":[{{"name":"hearingRadius","type":"float","value":{value}}}],"#
            ),
            1,
        )
    };
    let (map, _) = load_json(&with("160")).into_result().unwrap();
    assert_eq!(map.hearing_radius, Some(160.0));
    let (plain, _) = load_json(&json_map("", "")).into_result().unwrap();
    assert_eq!(plain.hearing_radius, None);
    let loaded = load_json(&with("0"));
    let all = messages(&loaded);
    assert!(
        all.iter().any(|m| m.contains(
            "maps/j.tmj: property `hearingRadius` should be between 1 and 2000 pixels, not 0"
        )),
        "{all:#?}"
    );
    assert!(loaded.into_result().is_err());
}
