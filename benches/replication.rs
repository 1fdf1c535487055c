//! The hot part of replication that scales: one send of the avatar stream, with every
//! avatar moving, to as many players as avatars, about 20 avatars within the view
//! radius of each. Measured: the grid of the avatars, each player's plan (who came
//! into view, who left, which states it lacks) and encoding what goes on the wire;
//! each player then acknowledges everything, as over a clean link.

use std::hint::black_box;

use bevy::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tavern_server::interest::{Seen, Snapshot, StreamTag, Viewer};
use tavern_server::world::MapId;
use tavern_server::zones::Presence;
use tavern_shared::avatar::AvatarState;
use tavern_shared::movement::quantize;
use tavern_shared::stream::{Actor, StatesAck};

/// The default view radius.
const RADIUS: f32 = 800.0;

/// The side of a square map where `n` avatars put about 20 within 800 px of each:
/// n * pi * 800^2 / side^2 = 20.
fn side(n: usize) -> f32 {
    (n as f32 * std::f32::consts::PI * RADIUS * RADIUS / 20.0).sqrt()
}

fn bench_stream(c: &mut Criterion) {
    for n in [500, 2000] {
        stream_send(c, n);
    }
}

fn stream_send(c: &mut Criterion, n: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let side = side(n);
    let mut states: Vec<AvatarState> = (0..n)
        .map(|_| {
            AvatarState::at(Vec2::new(
                rng.random_range(0.0..side),
                rng.random_range(0.0..side),
            ))
        })
        .collect();
    let mut dirs: Vec<Vec2> = (0..n)
        .map(|_| Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU)))
        .collect();
    let mut viewers: Vec<Viewer> = (0..n)
        .map(|i| Viewer::new(StreamTag(i as u32 + 1)))
        .collect();
    let presence = Presence {
        map: MapId(0),
        private: None,
    };
    let names: Vec<String> = (0..n).map(|i| format!("bot-{i}")).collect();
    let actors: Vec<Actor> = (0..n).map(|i| Actor::Player(i as u64)).collect();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut bytes = 0usize;
    let mut sends = 0usize;
    let mut in_view = 0usize;
    c.bench_function(
        &format!("avatar stream: {n} moving avatars to {n} players, ~20 in view, one send"),
        |b| {
            b.iter(|| {
                sends += 1;
                for (state, dir) in states.iter_mut().zip(&mut dirs) {
                    // Three ticks of walking (a send at 20 Hz), bouncing off the edges.
                    let next = state.motion.pos + *dir * 2.7 * 3.0;
                    if next.x < 0.0 || next.x > side {
                        dir.x = -dir.x;
                    }
                    if next.y < 0.0 || next.y > side {
                        dir.y = -dir.y;
                    }
                    state.motion.pos = quantize(next.clamp(Vec2::ZERO, Vec2::splat(side)));
                    state.motion.moving = true;
                }
                let seen = states
                    .iter()
                    .enumerate()
                    .map(|(i, state)| Seen {
                        id: i as u32 + 1,
                        actor: &actors[i],
                        name: &names[i],
                        state: *state,
                        last_input: sends as u32,
                        vitals: Default::default(),
                        warps: 0,
                        held: false,
                        presence,
                        look: 0,
                    })
                    .collect();
                let snapshot = Snapshot::new(RADIUS, seen);
                for viewer in &mut viewers {
                    let plan = viewer.plan(&snapshot, 2);
                    let mut ack = StatesAck::default();
                    if let Some(roster) = &plan.roster {
                        bytes += postcard::to_slice(roster, &mut buffer).unwrap().len();
                    }
                    for packet in &plan.states {
                        bytes += postcard::to_slice(packet, &mut buffer).unwrap().len();
                        ack.record(packet.seq);
                    }
                    viewer.acknowledge(&ack);
                    in_view += viewer.in_view();
                }
                black_box(&viewers);
            })
        },
    );
    if sends > 0 {
        let per = (sends * n) as f64;
        eprintln!(
            "avatar stream, {n} players: {:.1} avatars in view, {:.0} bytes of messages per player per send",
            in_view as f64 / per,
            bytes as f64 / per,
        );
    }
}

criterion_group!(benches, bench_stream);
criterion_main!(benches);
