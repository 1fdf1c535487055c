//! Loading a big map from disk: a 200×200 Tiled JSON map with about 40% solid tiles
//! (random, so merging has real work), parsed, converted, validated and turned into
//! collision shapes — everything the server does before players can walk on it.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tavern_shared::collision::CollisionWorld;
use tavern_shared::map::{FsFiles, load_map};

const SIZE: usize = 200;

fn write_map(dir: &std::path::Path) -> std::path::PathBuf {
    let mut rng = ChaCha8Rng::seed_from_u64(40);
    let walls: Vec<u32> = (0..SIZE * SIZE)
        .map(|_| if rng.random_bool(0.4) { 2 } else { 0 })
        .collect();
    let mut start = vec![0u32; SIZE * SIZE];
    let free = walls.iter().position(|w| *w == 0).expect("a free tile");
    start[free] = 1;
    let layer = |id: u32, name: &str, data: &[u32]| {
        json!({"type": "tilelayer", "id": id, "name": name, "width": SIZE, "height": SIZE,
               "x": 0, "y": 0, "opacity": 1, "visible": true, "data": data})
    };
    let map = json!({
        "type": "map", "orientation": "orthogonal", "width": SIZE, "height": SIZE,
        "tilewidth": 32, "tileheight": 32, "infinite": false,
        "tilesets": [{"firstgid": 1, "name": "t", "tilewidth": 32, "tileheight": 32,
                      "tilecount": 2, "columns": 2,
                      "tiles": [{"id": 1, "properties": [{"name": "collides", "type": "bool", "value": true}]}]}],
        "layers": [layer(1, "ground", &vec![1; SIZE * SIZE]), layer(2, "walls", &walls), layer(3, "start", &start)],
    });
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("big.tmj");
    std::fs::write(&path, serde_json::to_vec(&map).unwrap()).unwrap();
    path
}

fn bench_load(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("tavern-bench-maps-{}", std::process::id()));
    let path = write_map(&dir);
    let mut group = c.benchmark_group("200x200 map, 40% solid");
    group.sample_size(20);
    group.bench_function("load + validate (JSON)", |b| {
        b.iter(|| {
            black_box(
                load_map(&path, &mut FsFiles::default())
                    .into_result()
                    .unwrap(),
            )
        })
    });
    let (map, _) = load_map(&path, &mut FsFiles::default())
        .into_result()
        .unwrap();
    group.bench_function("collision build", |b| {
        b.iter(|| black_box(CollisionWorld::from_map(&map)))
    });
    group.finish();
    let world = CollisionWorld::from_map(&map);
    println!(
        "{} solid tiles merged into {} collider shapes",
        map.solid.iter().filter(|s| **s).count(),
        world.shape_count()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
