//! Movement and collision costs: one avatar step against the sample map, and building the
//! collision world of a large random map.

use std::hint::black_box;

use bevy::math::Vec2;
use criterion::{Criterion, criterion_group, criterion_main};
use tavern_server::config::repo_path;
use tavern_server::world::load_one;
use tavern_shared::collision::CollisionWorld;
use tavern_shared::input::{Buttons, InputFrame, Stick};
use tavern_shared::map::MapData;
use tavern_shared::movement::{MoveState, TICK_DT, step};

fn bench_step(c: &mut Criterion) {
    let map = load_one(&repo_path("maps/town.tmx"))
        .expect("sample map loads")
        .data;
    let world = CollisionWorld::from_map(&map);
    let frames: Vec<InputFrame> = (0..64)
        .map(|i| InputFrame {
            stick: Stick::from_vec(Vec2::from_angle(i as f32 * 0.7)),
            buttons: if i % 3 == 0 {
                Buttons::RUN
            } else {
                Buttons::NONE
            },
        })
        .collect();
    c.bench_function("step 1000 avatars one tick (town)", |b| {
        let mut states: Vec<MoveState> = (0..1000)
            .map(|i| MoveState::at(map.spawns[i % map.spawns.len()]))
            .collect();
        let mut tick = 0usize;
        b.iter(|| {
            tick += 1;
            for (i, s) in states.iter_mut().enumerate() {
                *s = step(*s, frames[(i + tick / 30) % frames.len()], TICK_DT, &world);
            }
            black_box(&states);
        })
    });
}

fn bench_build(c: &mut Criterion) {
    // 200x200 tiles, about 40% solid, from a fixed pattern.
    let rows: Vec<String> = (0..200)
        .map(|y| {
            (0..200)
                .map(|x| {
                    if (x * 7 + y * 13 + x * y) % 5 < 2 {
                        '#'
                    } else {
                        '.'
                    }
                })
                .collect()
        })
        .collect();
    let mut rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    rows[0] = "S";
    let map = MapData::from_ascii("big", 32, &rows);
    c.bench_function("collision world of a 200x200 map, 40% solid", |b| {
        b.iter(|| black_box(CollisionWorld::from_map(black_box(&map))))
    });
}

criterion_group!(benches, bench_step, bench_build);
criterion_main!(benches);
