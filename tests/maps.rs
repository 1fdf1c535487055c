//! Map loading against fixtures in the shapes Tiled saves (tests/fixtures/maps, written by
//! its generate.py): every encoding, infinite maps, nested groups with offsets, every
//! object shape, templates, typed properties; TMX and JSON must load to the same map.
//! Then validation messages, the sample world, and exit resolution across maps.

use std::path::{Path, PathBuf};

use bevy::math::{IVec2, Rect, Vec2};
use tavern_server::validate::validate;
use tavern_server::world::Maps;
use tavern_shared::map::doc::{FLIP_D, FLIP_H, FLIP_V, Prop};
use tavern_shared::map::{Area, FsFiles, Loaded, MapData, SolidShape, Trigger, load_map, read_doc};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/maps")
        .join(name)
}

fn repo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn load(name: &str) -> Loaded {
    load_map(&fixture(name), &mut FsFiles::default())
}

fn load_ok(name: &str) -> MapData {
    let loaded = load(name);
    let problems = loaded.problems.clone();
    let (map, warnings) = loaded
        .into_result()
        .unwrap_or_else(|e| panic!("{name} loads: {e}"));
    assert!(warnings.is_empty(), "{name}: {problems:?}");
    map
}

/// Both formats of one fixture, which must say exactly the same.
fn both(stem: &str) -> MapData {
    let tmx = load_ok(&format!("{stem}.tmx"));
    let tmj = load_ok(&format!("{stem}.tmj"));
    assert_eq!(tmx, tmj, "{stem}.tmx and {stem}.tmj load to the same map");
    tmx
}

#[test]
fn every_encoding_decodes_to_the_same_tiles_with_flips() {
    let map = both("encodings");
    let expected: Vec<u32> = vec![
        1,
        1,
        1,
        1,
        1,
        1, //
        1,
        2,
        1,
        1,
        4,
        1, //
        1,
        1,
        1,
        3 | FLIP_H,
        1,
        1, //
        1 | FLIP_V | FLIP_D,
        1,
        1,
        1,
        1,
        1,
    ];
    let names: Vec<&str> = map.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["csv", "base64", "zlib", "gzip", "zstd", "start"]);
    for layer in &map.layers[..5] {
        assert_eq!(layer.tiles, expected, "layer {}", layer.name);
    }
    let solid: Vec<usize> = (0..map.solid.len()).filter(|i| map.solid[*i]).collect();
    assert_eq!(solid, vec![7], "only the collides tile at (1, 1)");
    assert_eq!(map.spawns, vec![Vec2::new(8.0, 8.0)]);
    assert!(!map.layers[5].visible, "the start layer is hidden");
    assert_eq!(map.tilesets[0].image.as_deref(), Some("fixture.png"));
}

#[test]
fn infinite_maps_become_the_area_their_chunks_cover() {
    let map = both("infinite");
    assert_eq!((map.width, map.height), (4, 3));
    let ground = &map.layers[0].tiles;
    // Tiles at (-1,-1), (0,-1), (0,0), (1,0) and (2,1) move by (1, 1).
    assert_eq!(ground, &vec![1, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 3]);
    assert!(map.is_solid_cell(IVec2::new(2, 1)));
    assert_eq!(map.spawns, vec![Vec2::new(24.0, 24.0)]);
    let gate = map.entries.iter().find(|e| e.name == "gate").unwrap();
    assert_eq!(
        gate.points,
        vec![Vec2::new(8.0, 8.0)],
        "objects move with the tiles"
    );
}

#[test]
fn nested_groups_pass_offsets_opacity_visibility_and_properties_down() {
    let map = both("groups");
    let deep = map.layers.iter().find(|l| l.name == "deep").unwrap();
    assert_eq!(deep.offset, Vec2::new(16.0, 16.0));
    assert!((deep.opacity - 0.25).abs() < 1e-6);
    assert!(!deep.visible, "a hidden group hides its layers");
    let roof = map.layers.iter().find(|l| l.name == "roof").unwrap();
    assert!(
        roof.above,
        "layers in a group named `above` are drawn over avatars"
    );
    assert!(!map.layers[0].above);
    // The collides tile at (0, 0) of `deep` is offset by a whole tile each way.
    assert!(map.is_solid_cell(IVec2::new(1, 1)));
    assert!(!map.is_solid_cell(IVec2::new(0, 0)));
    assert_eq!(map.spawns, vec![Vec2::new(56.0, 24.0)]);
    // `silent` on the outer group makes the tiles of the layers inside it a zone; the
    // spawn point on the group's object layer stays a spawn point.
    assert_eq!(map.zones.len(), 1, "{:?}", map.zones);
    let zone = &map.zones[0];
    assert!(zone.effects.silent);
    assert_eq!(zone.area.bounds(), Rect::new(16.0, 16.0, 32.0, 32.0));
    let orders: Vec<u32> = map.layers.iter().map(|l| l.order).collect();
    assert!(orders.windows(2).all(|w| w[0] < w[1]), "{orders:?}");
}

#[test]
fn every_object_shape_templates_and_tile_objects() {
    let map = both("shapes");
    assert_eq!(map.spawns, vec![Vec2::new(136.0, 24.0)]);
    assert_eq!(map.solid_shapes.len(), 4, "{:?}", map.solid_shapes);
    assert_eq!(
        map.solid_shapes[0],
        SolidShape::Rect(Rect::new(16.0, 16.0, 32.0, 32.0))
    );
    assert_eq!(
        map.solid_shapes[1],
        SolidShape::Circle {
            center: Vec2::new(64.0, 16.0),
            radius: 16.0
        }
    );
    assert!(
        matches!(&map.solid_shapes[2], SolidShape::Polygon(p) if p.len() == 5 && p[1] == Vec2::new(32.0, 80.0))
    );
    assert!(
        matches!(&map.solid_shapes[3], SolidShape::Polyline(p) if p == &vec![Vec2::new(96.0, 64.0), Vec2::new(96.0, 112.0)])
    );

    let zone = |name: &str| map.zones.iter().find(|z| z.name == name).unwrap();
    let pond = zone("pond");
    assert_eq!(pond.effects.jitsi.as_ref().unwrap().room, "pond");
    assert_eq!(
        pond.effects.jitsi.as_ref().unwrap().trigger,
        Trigger::OnEnter
    );
    assert!(
        matches!(pond.area, Area::Ellipse { center, radii } if center == Vec2::new(80.0, 104.0) && radii == Vec2::new(16.0, 8.0))
    );
    assert!(zone("nook").effects.silent);
    assert!(zone("nook").area.contains(Vec2::new(128.0, 8.0)));
    // Rotated 90° clockwise around its top-left corner (40, 40).
    let turned = zone("turned");
    assert!(turned.effects.private);
    let b = turned.area.bounds();
    assert!(
        (b.min - Vec2::new(24.0, 40.0)).length() < 1e-3
            && (b.max - Vec2::new(40.0, 56.0)).length() < 1e-3,
        "{b:?}"
    );
    // A template instance: the template's class and property, the instance's name and place.
    let chest = zone("gold chest");
    assert_eq!(chest.effects.loot_chest.as_deref(), Some("small-chest"));
    assert_eq!(chest.area, Area::Point(Vec2::new(24.0, 64.0)));
    assert_eq!(map.zones.len(), 4);

    // Tile objects: flipped lamp, an image-collection idol, a torch from a tile template.
    assert_eq!(map.sprites.len(), 3);
    assert_eq!(map.sprites[0].gid, 4 | FLIP_H);
    assert_eq!(map.sprites[0].position, Vec2::new(64.0, 48.0));
    let icons = &map.tilesets[1];
    assert_eq!(map.sprites[1].gid, icons.first_gid + 1);
    assert_eq!(map.sprites[1].size, Vec2::new(16.0, 24.0));
    assert_eq!(icons.tile_images.len(), 2);
    assert_eq!(icons.tile_images[1].image, "icon-b.png");
    assert_eq!(
        (icons.tile_images[1].width, icons.tile_images[1].height),
        (16, 24)
    );
    assert_eq!(map.sprites[2].gid, 4);
    assert_eq!(map.sprites[2].position, Vec2::new(144.0, 48.0));
}

#[test]
fn typed_properties_of_every_kind_are_read_from_both_formats() {
    for file in ["shapes.tmx", "shapes.tmj"] {
        let doc = read_doc(&fixture(file), &mut FsFiles::default()).unwrap();
        let p = &doc.properties;
        assert_eq!(p["label"], Prop::String("hello".into()), "{file}");
        assert_eq!(p["count"], Prop::Int(7), "{file}");
        assert_eq!(p["ratio"], Prop::Float(0.25), "{file}");
        assert_eq!(p["on"], Prop::Bool(true), "{file}");
        assert_eq!(p["tint"], Prop::Color("#ff336699".into()), "{file}");
        assert_eq!(p["sound"], Prop::File("sounds/bell.ogg".into()), "{file}");
        assert_eq!(p["target"], Prop::Object(1), "{file}");
        let Prop::Class { class, members } = &p["stats"] else {
            panic!("{file}: stats is a class: {:?}", p["stats"]);
        };
        assert_eq!(class, "Stats");
        assert_eq!(members["hp"], Prop::Int(12));
        assert_eq!(members["name"], Prop::String("goblin".into()));
        // Layer class and properties, object class, tileset tile properties.
        let layer = &doc.layers[1];
        assert_eq!(layer.class, "props-layer", "{file}");
        assert_eq!(
            layer.properties["note"],
            Prop::String("layer property".into())
        );
        let tiledoc::DocLayerKind::Objects(objects) = &layer.kind else {
            panic!("{file}: shapes is an object layer");
        };
        let typed = objects.iter().find(|o| o.name == "typed").unwrap();
        assert_eq!(typed.class, "thing");
        assert_eq!(typed.properties.len(), 8, "{file}");
        let tile3 = &doc.tilesets[0].tiles[&3];
        assert_eq!(tile3.properties["glow"], Prop::Float(0.5));
        assert_eq!(doc.tilesets[0].tiles[&1].class, "wall");
    }
}

use tavern_shared::map::doc as tiledoc;

fn errors_of(name: &str) -> Vec<String> {
    let report = validate(&[fixture(name)]);
    assert_eq!(report.len(), 1);
    assert!(!report[0].ok, "{name} has errors");
    report[0].errors.clone()
}

fn assert_one(errors: &[String], needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "expected an error containing {needle:?} in {errors:#?}"
    );
}

#[test]
fn each_kind_of_problem_is_reported_in_plain_words_with_its_place() {
    let e = errors_of("bad/no_spawn.tmj");
    assert_one(
        &e,
        "bad/no_spawn.tmj: the map has no spawn point; add a tile layer named `start`",
    );

    let e = errors_of("bad/spawn_in_wall.tmj");
    assert_one(
        &e,
        "layer `start`: spawn point at (8, 8) px is inside a solid tile",
    );

    let e = errors_of("bad/bad_types.tmj");
    assert_eq!(e.len(), 3, "{e:#?}");
    assert_one(
        &e,
        "object `library` (id 1): property `audioVolume` should be a float, but it is a string (\"loud\")",
    );
    assert_one(
        &e,
        "object `library` (id 1): property `silent` should be a bool, but it is a string (\"yes\")",
    );
    assert_one(
        &e,
        "object `npc` (id 2): property `agentTrigger` should be `onenter` or `onaction`, not `sometimes`",
    );

    let e = errors_of("bad/zone_no_area.tmj");
    assert_one(&e, "object `meeting` (id 1): zone (jitsi) has no area");
    assert_one(
        &e,
        "object `gate` (id 2): a zone must have an area; a polyline encloses nothing",
    );

    let e = errors_of("bad/exits.tmj");
    assert_eq!(e.len(), 2, "the good exit is not reported: {e:#?}");
    assert_one(
        &e,
        "object `nowhere` (id 1): exit leads to `missing.tmj`, but there is no such file",
    );
    assert_one(
        &e,
        "object `wrong entry` (id 2): exit leads to entry `cellar` in `../infinite.tmj`, which has no such entry point (it has: start, gate)",
    );

    let e = errors_of("bad/missing_image.tmj");
    assert_one(&e, "tileset `fixture`");
    assert_one(&e, "the tileset image");
    assert_one(&e, "nowhere.png` is missing");

    let e = errors_of("bad/broken.tmj");
    assert_one(
        &e,
        "bad/broken.tmj: not valid Tiled JSON at `layers`: EOF while parsing",
    );

    let e = errors_of("bad/isometric.tmx");
    assert_one(&e, "isometric maps are not supported");

    let e = errors_of("bad/missing_tileset.tmx");
    assert_one(&e, "gone.tsx");

    let e = errors_of("bad/tsj_in_tmx.tmx");
    assert_one(&e, "fixture.tsj); a TMX map needs its tilesets in TSX");
}

/// One map's report out of `validate-map --json` output.
fn report_named<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
}

/// Every zone kind a map report lists.
fn zone_kinds(report: &serde_json::Value) -> Vec<String> {
    report["zones"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|z| z["kinds"].as_array().unwrap().iter())
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_sample_world_validates_and_reports_its_zones_and_exits() {
    let reports = validate(&[repo("maps")]);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(r.ok, "{}: {:#?}", r.file, r.errors);
        assert!(r.warnings.is_empty(), "{}: {:#?}", r.file, r.warnings);
    }
    let json = serde_json::to_value(&reports).unwrap();
    let town = report_named(&json, "town");
    assert_eq!(town["size"], serde_json::json!([40, 30]));
    assert_eq!(town["tile_size"], serde_json::json!([32, 32]));
    assert_eq!(town["exits"][0]["map"], "dungeon");
    assert_eq!(town["exits"][0]["entry"], "from-town");
    let kinds = zone_kinds(town);
    for kind in [
        "jitsi", "silent", "audio", "agent", "private", "exit", "website",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "town has a {kind} zone: {kinds:?}"
        );
    }
    let dungeon = report_named(&json, "dungeon");
    let kinds = zone_kinds(dungeon);
    for kind in ["room", "enemySpawn", "door", "lootChest", "boss", "exit"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "dungeon has a {kind} zone: {kinds:?}"
        );
    }
}

#[test]
fn exits_resolve_between_the_sample_maps_in_both_directions() {
    // Given only the town, the server follows its exit and loads the dungeon too.
    let maps = Maps::load(&[repo("maps/town.tmx")], None).unwrap();
    assert_eq!(maps.names(), vec!["town", "dungeon"]);
    let town = maps.file(maps.start);
    let exit = town
        .data
        .zones
        .iter()
        .find_map(|z| z.effects.exit.clone())
        .unwrap();
    let (target, points) = maps.exit_target(&exit).unwrap();
    assert_eq!(maps.file(target).data.name, "dungeon");
    assert_eq!(
        points,
        &[Vec2::new(80.0, 48.0)],
        "the dungeon's `from-town` entry"
    );
    let dungeon = maps.file(target);
    let back = dungeon
        .data
        .zones
        .iter()
        .find_map(|z| z.effects.exit.clone())
        .unwrap();
    let (home, points) = maps.exit_target(&back).unwrap();
    assert_eq!(home, maps.start);
    assert_eq!(
        points,
        &[Vec2::new(1136.0, 400.0)],
        "the town's `from-dungeon` entry"
    );
    // Arriving never lands inside the exit that leads straight back.
    for (map, exit_zone) in [(town, "Cellar stairs"), (dungeon, "Back to town")] {
        let zone = map.data.zones.iter().find(|z| z.name == exit_zone).unwrap();
        let other = if map.data.name == "town" {
            dungeon
        } else {
            town
        };
        for p in other.data.arrival_points(Some(if map.data.name == "town" {
            "from-town"
        } else {
            "from-dungeon"
        })) {
            assert!(!zone.area.contains(*p));
            assert!(
                other
                    .collision
                    .is_free(*p, tavern_shared::movement::AVATAR_RADIUS)
            );
        }
    }
    // Start map by name, and a clear error for one that is not there.
    let maps = Maps::load(&[repo("maps")], Some("dungeon")).unwrap();
    assert_eq!(maps.file(maps.start).data.name, "dungeon");
    let err = Maps::load(&[repo("maps")], Some("moon"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--start-map `moon`") && err.contains("town"),
        "{err}"
    );
    let err = Maps::load(&[fixture("bad/exits.tmj")], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.tmj"), "{err}");
}

/// Map files made to hurt the loader, as in the security review, each with what its
/// refusal must say. Written into `dir`.
pub fn hostile_maps(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    use base64::Engine;
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    let tileset = r#"<tileset firstgid="1" name="t" tilewidth="32" tileheight="32" tilecount="1" columns="1"/>"#;
    let mut out = Vec::new();
    let mut write = |name: &str, text: &[u8], says: &'static str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        out.push((path, says));
    };
    // 60000x60000 tiles declared, 2 tiles of data (330 bytes).
    write(
        "huge.tmx",
        format!(
            r#"<?xml version="1.0"?><map version="1.10" orientation="orthogonal" renderorder="right-down" width="60000" height="60000" tilewidth="32" tileheight="32" infinite="0">{tileset}<layer id="1" name="g" width="60000" height="60000"><data encoding="csv">1,1</data></layer></map>"#
        )
        .as_bytes(),
        "60000x60000 tiles",
    );
    // Within the size limit, but the data is shorter than the declared size.
    write(
        "short.tmx",
        format!(
            r#"<?xml version="1.0"?><map version="1.10" orientation="orthogonal" renderorder="right-down" width="100" height="100" tilewidth="32" tileheight="32" infinite="0">{tileset}<layer id="1" name="ground" width="100" height="100"><data encoding="csv">1,1</data></layer></map>"#
        )
        .as_bytes(),
        "ground",
    );
    // 5,000 nested groups (about 120 KB).
    let mut nested = format!(
        r#"<?xml version="1.0"?><map version="1.10" orientation="orthogonal" width="4" height="4" tilewidth="32" tileheight="32" infinite="0">{tileset}"#
    );
    nested.push_str(&"<group name=\"g\">".repeat(5000));
    nested.push_str(&"</group>".repeat(5000));
    nested.push_str("</map>");
    write("nested.tmx", nested.as_bytes(), "nested more than 64");
    // A JSON layer whose 4x4 tiles come as zlib data that inflates to 64 MB.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 64 * 1024 * 1024]).unwrap();
    let bomb = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
    let json_map = |layer: serde_json::Value| {
        serde_json::json!({
            "type": "map", "orientation": "orthogonal", "width": 4, "height": 4,
            "tilewidth": 32, "tileheight": 32, "infinite": false,
            "tilesets": [{"firstgid": 1, "name": "t", "tilewidth": 32, "tileheight": 32, "tilecount": 1, "columns": 1}],
            "layers": [layer]
        })
        .to_string()
    };
    write(
        "bomb.tmj",
        json_map(
            serde_json::json!({"type": "tilelayer", "name": "ground", "width": 4, "height": 4,
            "encoding": "base64", "compression": "zlib", "data": bomb}),
        )
        .as_bytes(),
        "inflates to more than the 64 bytes",
    );
    write(
        "mismatch.tmj",
        json_map(
            serde_json::json!({"type": "tilelayer", "name": "ground", "width": 4, "height": 4,
            "data": [1, 1, 1, 1, 1]}),
        )
        .as_bytes(),
        "has 5 tiles, but its declared size 4x4 needs 16",
    );
    let mut group = serde_json::json!({"type": "tilelayer", "name": "ground", "width": 4, "height": 4, "data": vec![1; 16]});
    for _ in 0..100 {
        group = serde_json::json!({"type": "group", "name": "g", "layers": [group]});
    }
    write("deep.tmj", json_map(group).as_bytes(), "nested");
    write(
        "wide-tiles.tmj",
        json_map(serde_json::json!({"type": "tilelayer", "name": "ground", "width": 4, "height": 4, "data": vec![1; 16]}))
            .replace("\"tilewidth\":32", "\"tilewidth\":100000")
            .as_bytes(),
        "at most 1024x1024",
    );
    out
}

#[test]
fn hostile_maps_are_refused_with_a_reason_and_nothing_breaks() {
    let dir = std::env::temp_dir().join(format!("tavern-hostile-{}", std::process::id()));
    for (path, says) in hostile_maps(&dir) {
        let loaded = load_map(&path, &mut FsFiles::default());
        assert!(loaded.map.is_none(), "{} is refused", path.display());
        let text: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains(says) && t.contains(&*path.to_string_lossy())),
            "{}: {text:?}",
            path.display()
        );
    }
    // validate-map lists them all and fails; the report is per file.
    let report = validate(std::slice::from_ref(&dir));
    assert_eq!(report.len(), 7, "{report:?}");
    assert!(
        report.iter().all(|r| !r.ok && !r.errors.is_empty()),
        "{report:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
