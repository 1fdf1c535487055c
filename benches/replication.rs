//! The hot parts of replication that scales: the interest grid for 2,000 avatars, and
//! one replication tick of 2,000 moving avatars to 2,000 clients with about 20 avatars
//! in view of each (replicon's server and Tavern's filters, without a transport: the
//! messages are built and then dropped, and clients never acknowledge, so every
//! moving avatar in view is sent each tick, as for real moving avatars).

use std::hint::black_box;

use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use bevy_replicon::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tavern_server::interest::{AckTo, REACH, ViewCell, cell_of, cell_size, in_view};
use tavern_shared::avatar::{AvatarState, InputAck, PlayerId};
use tavern_shared::movement::{MoveState, quantize};

const AVATARS: usize = 2000;
/// The default view radius.
const RADIUS: f32 = 800.0;

/// The side of a square map where `n` avatars put about 20 within 800 px of each:
/// n * pi * 800^2 / side^2 = 20.
fn side(n: usize) -> f32 {
    (n as f32 * std::f32::consts::PI * RADIUS * RADIUS / 20.0).sqrt()
}

fn positions(n: usize, seed: u64) -> Vec<Vec2> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let side = side(n);
    (0..n)
        .map(|_| Vec2::new(rng.random_range(0.0..side), rng.random_range(0.0..side)))
        .collect()
}

fn bench_interest(c: &mut Criterion) {
    let mut pos = positions(AVATARS, 1);
    let mut cells: Vec<IVec2> = pos
        .iter()
        .map(|p| cell_of(*p, cell_size(RADIUS), None))
        .collect();
    c.bench_function("interest: cells of 2,000 moving avatars, one tick", |b| {
        let mut tick = 0u32;
        b.iter(|| {
            tick += 1;
            let step = Vec2::from_angle(tick as f32 * 0.01) * 2.7;
            for (p, cell) in pos.iter_mut().zip(cells.iter_mut()) {
                *p += step;
                *cell = cell_of(*p, cell_size(RADIUS), Some(*cell));
            }
            black_box(&cells);
        })
    });
    c.bench_function("interest: who sees whom among 2,000 avatars (grid)", |b| {
        b.iter(|| {
            let mut grid: std::collections::HashMap<IVec2, Vec<usize>> =
                std::collections::HashMap::new();
            for (i, cell) in cells.iter().enumerate() {
                grid.entry(*cell).or_default().push(i);
            }
            let mut pairs = 0usize;
            for cell in &cells {
                for dx in -REACH..=REACH {
                    for dy in -REACH..=REACH {
                        let near = *cell + IVec2::new(dx, dy);
                        if let Some(list) = grid.get(&near) {
                            pairs += list.iter().filter(|j| in_view(*cell, cells[**j])).count();
                        }
                    }
                }
            }
            black_box(pairs)
        })
    });
}

/// A replicon server with `n` authorized clients, each owning one avatar.
fn server_with_clients(n: usize) -> (App, Vec<Entity>) {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        StatesPlugin,
        RepliconPlugins.set(ServerPlugin::new(PostUpdate)),
    ))
    .add_plugins(tavern_shared::protocol_plugin)
    .add_visibility_filter::<ViewCell>()
    .add_visibility_filter::<AckTo>();
    app.finish();
    app.world_mut()
        .resource_mut::<NextState<ServerState>>()
        .set(ServerState::Running);
    app.update();
    let mut avatars = Vec::with_capacity(n);
    for (i, p) in positions(n, 2).into_iter().enumerate() {
        let cell = ViewCell(cell_of(p, cell_size(RADIUS), None));
        let client = app
            .world_mut()
            .spawn((ConnectedClient { max_size: 1200 }, AuthorizedClient, cell))
            .id();
        let avatar = app
            .world_mut()
            .spawn((
                PlayerId(i as u64),
                AvatarState {
                    motion: MoveState::at(p),
                },
                InputAck(0),
                AckTo(client),
                cell,
            ))
            .id();
        avatars.push(avatar);
    }
    // The first sends are the spawns; what is measured is steady movement.
    for _ in 0..3 {
        app.update();
        app.world_mut()
            .resource_mut::<ServerMessages>()
            .drain_sent()
            .for_each(drop);
    }
    (app, avatars)
}

fn bench_replication(c: &mut Criterion) {
    for n in [500, AVATARS] {
        replication_send(c, n);
    }
}

/// One send: every avatar moves a step, then replicon builds every client's messages.
fn replication_send(c: &mut Criterion, n: usize) {
    let (mut app, avatars) = server_with_clients(n);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let dirs: Vec<Vec2> = (0..n)
        .map(|_| Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU)))
        .collect();
    let mut bytes = 0usize;
    let mut ticks = 0usize;
    c.bench_function(
        &format!("replication: {n} moving avatars to {n} clients, ~20 in view, one send"),
        |b| {
            b.iter(|| {
                ticks += 1;
                for (avatar, dir) in avatars.iter().zip(&dirs) {
                    let mut entity = app.world_mut().entity_mut(*avatar);
                    let mut state = entity.get_mut::<AvatarState>().unwrap();
                    state.motion.pos = quantize(state.motion.pos + *dir * 2.7 * 3.0);
                    state.motion.moving = true;
                    let pos = state.motion.pos;
                    let old = *entity.get::<ViewCell>().unwrap();
                    let cell = ViewCell(cell_of(pos, cell_size(RADIUS), Some(old.0)));
                    if cell != old {
                        let owner = entity.get::<AckTo>().unwrap().0;
                        entity.insert(cell);
                        app.world_mut().entity_mut(owner).insert(cell);
                    }
                }
                app.update();
                let mut messages = app.world_mut().resource_mut::<ServerMessages>();
                bytes += messages
                    .drain_sent()
                    .map(|(_, _, m)| m.len())
                    .sum::<usize>();
            })
        },
    );
    if ticks > 0 {
        eprintln!(
            "replication, {n} clients: {:.0} bytes of replicon messages per client per send",
            bytes as f64 / ticks as f64 / n as f64
        );
    }
}

criterion_group!(benches, bench_interest, bench_replication);
criterion_main!(benches);
