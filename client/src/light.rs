//! Light bots for load tests: a real player's connection without a player's client.
//!
//! Each light bot logs in over HTTP, holds its own netcode connection over UDP, decodes
//! everything the server sends it (the avatar stream, and the rest with replicon), so its
//! bytes and the avatars it holds are what a player would get, acknowledges it, and sends
//! real inputs from a
//! wandering brain: one per 60 Hz tick, in batches with the unacknowledged ones repeated.
//! It leaves out what a load test does not need: no rendering, no prediction, no
//! interpolation, no chat; its app is a handful of systems on a single-threaded
//! executor, updated [`LIGHT_HZ`] times a second.

use std::collections::VecDeque;
use std::time::Instant;

use bevy::app::MainScheduleOrder;
use bevy::ecs::schedule::{ScheduleLabel, Schedules, SingleThreadedExecutor};
use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use bevy::time::TimePlugin;
use bevy_replicon::prelude::*;
use bevy_replicon_renet2::RepliconRenetPlugins;
use bevy_replicon_renet2::renet2::RenetClient;
use tavern_shared::avatar::{AvatarState, InputAck};
use tavern_shared::input::{ARRIVAL_SEQ_GAP, InputBatch, InputFrame, MAX_FRAMES_PER_BATCH};
use tavern_shared::movement::TICK_HZ;
use tavern_shared::protocol::EnterMap;

use crate::PlaySystems;
use crate::bot::Brain;
use crate::connection::{ConnectionStatus, ServerTarget};

/// Updates a second of each light bot: often enough to acknowledge what arrives
/// within one server send interval at the default 20 Hz.
pub const LIGHT_HZ: u32 = 30;

/// Inputs kept unacknowledged at most (10 s); past that the bot stops generating.
const MAX_UNACKED: usize = 600;

/// What the light bot sends.
#[derive(Resource, Debug)]
struct Driver {
    brain: Brain,
    /// Whether the bot sends inputs at all (`--still`: it stands where it spawned).
    moving: bool,
    started: Option<Instant>,
    generated: u64,
    next_seq: u32,
    unacked: VecDeque<(u32, InputFrame)>,
}

/// What a light bot has received.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct Seen {
    /// Other avatars it holds now.
    pub avatars: usize,
    /// Other avatars' state updates applied, since the start.
    pub updates: u64,
}

/// One light bot: a small Bevy app of its own (replicon's client state is per world).
pub struct LightBot {
    pub app: App,
}

impl LightBot {
    pub fn new(url: &str, name: &str, brain: Brain, moving: bool) -> LightBot {
        let mut app = App::new();
        app.add_plugins((TimePlugin, StatesPlugin))
            .add_plugins((RepliconPlugins, RepliconRenetPlugins))
            .add_plugins(tavern_shared::protocol_plugin)
            .configure_sets(
                PreUpdate,
                (PlaySystems::Connection, PlaySystems::Stream)
                    .chain()
                    .after(ClientSystems::Receive),
            )
            .add_plugins((crate::connection::plugin, crate::stream::plugin))
            .insert_resource(ServerTarget {
                url: url.to_string(),
                name: name.to_string(),
            })
            .insert_resource(Driver {
                brain,
                moving,
                started: None,
                generated: 0,
                next_seq: 1,
                unacked: VecDeque::new(),
            })
            .init_resource::<Seen>()
            .add_systems(PreUpdate, observe.after(PlaySystems::Stream))
            .add_systems(PostUpdate, drive.before(ClientSystems::Send));
        app.finish();
        app.cleanup();
        // Only the phases a light bot has systems in: no fixed-step loop, no Update,
        // no Last.
        app.world_mut()
            .resource_mut::<MainScheduleOrder>()
            .labels
            .retain(|label| {
                *label != RunFixedMainLoop.intern()
                    && *label != Update.intern()
                    && *label != SpawnScene.intern()
                    && *label != Last.intern()
            });
        // Hundreds of these run in one thread: no task pool hops.
        let mut schedules = app.world_mut().resource_mut::<Schedules>();
        for (_, schedule) in schedules.iter_mut() {
            schedule.set_executor(SingleThreadedExecutor::new());
        }
        LightBot { app }
    }

    pub fn update(&mut self) {
        self.app.update();
    }

    pub fn status(&self) -> &ConnectionStatus {
        self.app.world().resource::<ConnectionStatus>()
    }

    pub fn is_connected(&self) -> bool {
        *self.status() == ConnectionStatus::Connected
    }

    pub fn seen(&self) -> Seen {
        *self.app.world().resource::<Seen>()
    }

    /// Round trip (s) and bytes per second down and up, once connected.
    pub fn network(&self) -> Option<(f64, f64, f64)> {
        network(self.app.world())
    }
}

/// Says goodbye like a full bot, so the server frees the place at once.
impl Drop for LightBot {
    fn drop(&mut self) {
        crate::bot::disconnect(self.app.world_mut());
    }
}

/// A connection's round trip (s) and bytes per second down and up, once connected.
pub(crate) fn network(world: &World) -> Option<(f64, f64, f64)> {
    let client = world.get_resource::<RenetClient>()?;
    client.is_connected().then(|| {
        let info = client.network_info();
        (
            info.rtt,
            info.bytes_received_per_second,
            info.bytes_sent_per_second,
        )
    })
}

fn observe(
    others: Query<(), (With<AvatarState>, Without<InputAck>)>,
    changed: Query<(), (Changed<AvatarState>, Without<InputAck>)>,
    mut seen: ResMut<Seen>,
) {
    seen.avatars = others.count();
    seen.updates += changed.iter().count() as u64;
}

/// Generates one input per 60 Hz tick of real time since the avatar was placed, and
/// sends the unacknowledged ones (oldest first, as many as a batch holds).
fn drive(
    mut driver: ResMut<Driver>,
    own: Query<&InputAck>,
    mut entered: MessageReader<EnterMap>,
    mut writer: MessageWriter<InputBatch>,
) {
    let arrived = entered.read().any(|e| e.arrival.is_some());
    let Ok(ack) = own.single() else {
        return;
    };
    let d = &mut *driver;
    if !d.moving {
        return;
    }
    let now = Instant::now();
    if d.started.is_none() {
        d.started = Some(now);
        d.next_seq = ack.0 + 1;
    }
    if arrived {
        // Moved to another map: the server skips ahead, as for a full client.
        d.unacked.clear();
        d.next_seq += ARRIVAL_SEQ_GAP;
    }
    let started = d.started.unwrap_or(now);
    let due = ((now - started).as_secs_f64() * TICK_HZ) as u64;
    while d.generated < due {
        d.generated += 1;
        if d.unacked.len() < MAX_UNACKED {
            let frame = d.brain.next();
            d.unacked.push_back((d.next_seq, frame));
            d.next_seq += 1;
        }
    }
    while d.unacked.front().is_some_and(|(seq, _)| *seq <= ack.0) {
        d.unacked.pop_front();
    }
    if let Some(&(first_seq, _)) = d.unacked.front() {
        writer.write(InputBatch {
            first_seq,
            frames: d
                .unacked
                .iter()
                .take(MAX_FRAMES_PER_BATCH)
                .map(|(_, f)| *f)
                .collect(),
        });
    }
}
