//! The network send rate: the simulation runs at 60 Hz, and replication (with the
//! messages queued since the last send) goes out `--send-hz` times a second, on
//! evenly spread ticks. Packets leave only on those ticks too, so the acknowledgements
//! of players' packets ride with the state instead of taking a datagram (and a system
//! call, and an encryption) of their own every tick.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon::server::server_tick::ServerTick;
use bevy_replicon_renet2::renet2::RenetSend;
use tavern_shared::movement::TICK_HZ;

/// Sends per second unless configured.
pub const DEFAULT_SEND_HZ: u8 = 20;

/// How many times a second state is sent (`--send-hz`, 10 to 60).
#[derive(Resource, Debug, Clone, Copy)]
pub struct SendRate {
    pub hz: u8,
    /// Simulation ticks since the last send, in sends: a send is due at 1.
    owed: f64,
}

impl SendRate {
    pub fn new(hz: u8) -> Self {
        SendRate {
            hz: hz.clamp(1, TICK_HZ as u8),
            // The first tick sends.
            owed: 1.0,
        }
    }

    /// Counts one simulation tick; whether state goes out on it.
    pub fn tick(&mut self) -> bool {
        let due = self.owed >= 1.0 - 1e-9;
        if due {
            self.owed -= 1.0;
        }
        self.owed += f64::from(self.hz) / TICK_HZ;
        due
    }
}

impl Default for SendRate {
    fn default() -> Self {
        SendRate::new(DEFAULT_SEND_HZ)
    }
}

/// The server is stopping: what is queued (the goodbyes) goes out at once.
#[derive(Resource, Debug, Default)]
pub struct Flush;

/// Something a player is waiting for (a chat line, a room event, a catch-up) was
/// queued this frame: it goes out now rather than at the next send tick.
#[derive(Resource, Debug, Default)]
pub struct Urgent(pub bool);

/// Replicon must be added with `tick_schedule: None`: this plugin decides the ticks.
pub fn plugin(app: &mut App) {
    app.init_resource::<SendRate>()
        .init_resource::<Urgent>()
        .add_systems(First, |mut urgent: ResMut<Urgent>| urgent.0 = false)
        .add_systems(
            FixedPostUpdate,
            count_tick
                .in_set(ServerSystems::IncrementTick)
                .run_if(in_state(ServerState::Running)),
        )
        .configure_sets(PostUpdate, RenetSend.run_if(send_due))
        .add_systems(
            PostUpdate,
            drop_orphan_messages
                .after(ServerSystems::Send)
                .before(ServerSystems::SendPackets),
        );
}

/// Drops what is addressed to a connection that closed this frame (its player's avatar
/// may stay, waiting for it to come back, and be written to before the news of the
/// closing reached every system): the transport would refuse it.
fn drop_orphan_messages(
    mut messages: ResMut<bevy_replicon::shared::backend::server_messages::ServerMessages>,
    clients: Query<(), With<ConnectedClient>>,
) {
    let mut dropped = 0;
    messages.retain_sent(|(client, ..)| {
        let keep = clients.contains(*client);
        dropped += usize::from(!keep);
        keep
    });
    if dropped > 0 {
        debug!(dropped, "messages to a closed connection dropped");
    }
}

/// Whether state goes out this frame: a send tick passed, something urgent is queued,
/// or the server is stopping.
pub fn send_due(tick: Res<ServerTick>, flush: Option<Res<Flush>>, urgent: Res<Urgent>) -> bool {
    tick.is_changed() || flush.is_some() || urgent.0
}

fn count_tick(
    mut rate: ResMut<SendRate>,
    mut server_tick: ResMut<ServerTick>,
    metrics: Res<crate::metrics::Metrics>,
) {
    if rate.tick() {
        server_tick.increment();
        metrics.replication_sends.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends_in(hz: u8, ticks: usize) -> Vec<usize> {
        let mut rate = SendRate::new(hz);
        (0..ticks).filter(|_| rate.tick()).collect()
    }

    #[test]
    fn sends_are_spread_evenly_over_the_ticks() {
        assert_eq!(sends_in(20, 12), vec![0, 3, 6, 9]);
        assert_eq!(sends_in(60, 4), vec![0, 1, 2, 3]);
        assert_eq!(sends_in(10, 13), vec![0, 6, 12]);
        // Rates that do not divide 60 still send exactly hz times a second.
        for hz in 10..=60 {
            assert_eq!(sends_in(hz, 600).len(), usize::from(hz) * 10, "{hz} Hz");
        }
        let gaps: Vec<usize> = sends_in(25, 60).windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (2..=3).contains(g)), "{gaps:?}");
    }
}
