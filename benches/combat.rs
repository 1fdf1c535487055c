//! The combat part of the server tick at scale: 200 monsters chasing 100 moving players
//! on the 200×200 benchmark arena (scattered walls), with the server's own combat
//! plugin: monsters' minds (aggro checks with line of sight, chases along budgeted A*
//! paths, attacks), hits, deaths, player respawns, regeneration and the position
//! history for lag compensation. Monsters notice players across the whole map here (a
//! bench content with a huge aggro radius), so every one of them is chasing.
//!
//! Besides Criterion's figures it prints the tick's p50, p99 and worst over 3,000 ticks
//! (50 s of game time) after 600 ticks of warm-up.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use bevy_replicon::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tavern_server::GameSystems;
use tavern_server::combat::damage::Afflicted;
use tavern_server::combat::{Fighter, Past, Warps};
use tavern_server::content::ContentHandle;
use tavern_server::interest::StreamIds;
use tavern_server::rooms::RoomId;
use tavern_server::world::{FileId, MapId, Maps, OnMap};
use tavern_server::zones::Presence;
use tavern_shared::avatar::{AvatarState, DisplayName, InputAck, PlayerId};
use tavern_shared::combat::Vitals;
use tavern_shared::map::zones::EnemySpawn;
use tavern_shared::map::{Area, Zone};
use tavern_shared::movement::{MoveState, TICK_DT, walk};
use tavern_shared::stream::Actor;

const PLAYERS: usize = 100;
const MONSTER_SPAWNS: usize = 20;
const PER_SPAWN: u32 = 10;

fn app() -> App {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/bench/arena.tmj");
    let mut arena = tavern_server::world::load_one(&path).expect("the arena loads");
    let data = std::sync::Arc::make_mut(&mut arena.data);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for i in 0..MONSTER_SPAWNS {
        let corner = Vec2::new(
            rng.random_range(200.0..6000.0),
            rng.random_range(200.0..6000.0),
        );
        data.zones.push(Zone {
            name: format!("pit {i}"),
            place: format!("bench pit {i}"),
            area: Area::Rect(Rect::from_corners(corner, corner + Vec2::splat(200.0))),
            effects: tavern_shared::map::Effects {
                enemy_spawn: Some(EnemySpawn {
                    enemy: "slime".into(),
                    count: PER_SPAWN,
                    respawn_secs: 5.0,
                }),
                ..Default::default()
            },
        });
    }
    let mut content =
        tavern_server::content::load(&tavern_server::content::default_dir()).expect("content");
    let slime = content.enemy_types.get_mut("slime").expect("slimes");
    slime.aggro_radius = 10_000.0;
    slime.leash_radius = 20_000.0;
    let player_stats = content.combat_stats["player"].clone();

    let mut app = App::new();
    app.add_plugins((MinimalPlugins, StatesPlugin))
        .add_plugins(RepliconPlugins.build().set(ServerPlugin {
            tick_schedule: None,
            ..default()
        }))
        .add_plugins(tavern_shared::protocol_plugin)
        .insert_resource({
            let mut maps = Maps::new(vec![arena], FileId(0));
            maps.open(&RoomId::from("arena"), FileId(0));
            maps
        })
        .insert_resource(ContentHandle::new(content))
        .insert_resource(tavern_server::net::rate::SendRate::new(20))
        .init_resource::<StreamIds>()
        .configure_sets(FixedUpdate, GameSystems::Combat)
        .add_plugins(tavern_server::combat::plugin)
        .insert_resource(tavern_server::combat::CombatRng::seeded(Some(9)));
    app.finish();
    app.cleanup();
    let spawns: Vec<Vec2> = app
        .world()
        .resource::<Maps>()
        .get(MapId(0))
        .data
        .spawns
        .clone();
    for i in 0..PLAYERS {
        let tag = app.world_mut().resource_mut::<StreamIds>().issue();
        app.world_mut().spawn((
            PlayerId(i as u64 + 1),
            DisplayName(format!("p{i}")),
            AvatarState::at(spawns[i * 16 % spawns.len()]),
            InputAck(0),
            Vitals::full(&player_stats),
            Actor::Player(i as u64 + 1),
            (
                Fighter::new("player"),
                Warps::default(),
                Past::default(),
                Afflicted::default(),
            ),
            tag,
            OnMap(MapId(0)),
            Presence {
                map: MapId(0),
                private: None,
            },
        ));
    }
    app
}

/// Players walk, each turning every second or two (outside the measured tick).
fn move_players(app: &mut App, rng: &mut ChaCha8Rng, dirs: &mut Vec<(Vec2, u32)>) {
    let world = app
        .world()
        .resource::<Maps>()
        .get(MapId(0))
        .collision
        .clone();
    let mut q = app
        .world_mut()
        .query_filtered::<&mut AvatarState, With<PlayerId>>();
    let mut states: Vec<Mut<AvatarState>> = q.iter_mut(app.world_mut()).collect();
    dirs.resize(states.len(), (Vec2::ZERO, 0));
    for (state, (dir, left)) in states.iter_mut().zip(dirs.iter_mut()) {
        if *left == 0 {
            *dir = Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU));
            *left = rng.random_range(60..120);
        }
        *left -= 1;
        if state.health == 0 {
            continue;
        }
        let motion: MoveState = walk(state.motion, *dir, 160.0, TICK_DT, &world);
        state.motion = motion;
    }
}

fn tick(app: &mut App) {
    app.world_mut().run_schedule(FixedUpdate);
}

fn bench_combat(c: &mut Criterion) {
    let mut app = app();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut dirs = Vec::new();
    for _ in 0..600 {
        move_players(&mut app, &mut rng, &mut dirs);
        tick(&mut app);
    }
    let mut times: Vec<Duration> = Vec::with_capacity(3000);
    for _ in 0..3000 {
        move_players(&mut app, &mut rng, &mut dirs);
        let start = Instant::now();
        tick(&mut app);
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let monsters = app
        .world_mut()
        .query::<&tavern_server::combat::monsters::Monster>()
        .iter(app.world())
        .count();
    let chasing = app
        .world_mut()
        .query::<&tavern_server::combat::monsters::Monster>()
        .iter(app.world())
        .filter(|m| matches!(m.mind, tavern_server::combat::monsters::Mind::Chase(_)))
        .count();
    let hurt = app
        .world_mut()
        .query_filtered::<&Vitals, With<PlayerId>>()
        .iter(app.world())
        .filter(|v| v.health < v.max_health)
        .count();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "combat tick, {PLAYERS} players ({hurt} hurt or dead at the end), {monsters} \
         monsters ({chasing} chasing): p50 {:.3} ms, p99 {:.3} ms, worst {:.3} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    c.bench_function("combat tick: 200 monsters chasing 100 players", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                move_players(&mut app, &mut rng, &mut dirs);
                let start = Instant::now();
                tick(&mut app);
                total += start.elapsed();
            }
            total
        });
    });
}

criterion_group!(benches, bench_combat);
criterion_main!(benches);
