//! Reconnection: when a player's connection drops, its avatar stays where it stood,
//! shown as reconnecting and no longer simulated, for `--reconnect-grace-secs`; a login
//! of the same player (account or guest session) in that time takes it back (see
//! `players`). After the grace it leaves. A second login of a player who is still
//! connected wins: the older connection is told why and closed.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon::shared::backend::connected_client::NetworkId;
use tavern_shared::avatar::PlayerId;
use tavern_shared::chat::{ChatChannel, ChatDelivery, ChatLine};
use tavern_shared::protocol::Goodbye;

use crate::net::to_client;
use crate::players::{Controls, PlayerDirectory, leave_now};
use crate::rooms::RoomDirectory;
use crate::world::{Maps, OnMap};

/// The default `--reconnect-grace-secs`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// How long a dropped player's avatar waits for it (0: it leaves at once).
#[derive(Resource, Debug, Clone, Copy)]
pub struct ReconnectGrace(pub Duration);

impl Default for ReconnectGrace {
    fn default() -> Self {
        ReconnectGrace(DEFAULT_GRACE)
    }
}

/// On an avatar whose player's connection dropped: since when.
#[derive(Component, Debug, Clone, Copy)]
pub struct Away {
    pub since: Instant,
}

/// On a connection a newer login of the same player replaced: closed once the reason
/// had time to reach it.
#[derive(Component, Debug, Clone, Copy)]
struct Replaced {
    at: Instant,
}

/// How long a replaced connection stays open for its reason to arrive.
const REPLACED_LINGER: Duration = Duration::from_millis(500);

pub fn plugin(app: &mut App) {
    app.init_resource::<ReconnectGrace>()
        .add_systems(
            PreUpdate,
            take_goodbyes.in_set(crate::GameSystems::ReceiveInputs),
        )
        .add_systems(Last, (expire_away, close_replaced));
}

/// A player who says goodbye leaves at once (no grace), and its connection is closed.
fn take_goodbyes(
    mut goodbyes: MessageReader<FromClient<Goodbye>>,
    clients: Query<(&Controls, &crate::players::InRoom, &NetworkId)>,
    directory: Res<PlayerDirectory>,
    rooms: Res<RoomDirectory>,
    mut journal: ResMut<crate::journal::Journal>,
    mut commands: Commands,
) {
    for goodbye in goodbyes.read() {
        let Some(client) = goodbye.client_id.entity() else {
            continue;
        };
        let Ok((controls, room, id)) = clients.get(client) else {
            continue;
        };
        leave_now(
            &mut commands,
            controls.0,
            id.get(),
            &room.0,
            &directory,
            &rooms,
            &mut journal,
        );
        commands.entity(client).remove::<Controls>().despawn();
        info!(client_id = id.get(), room = %room.0, "player said goodbye and left");
    }
}

/// Detaches connection `client` from its avatar (a newer one takes it), tells it
/// `why`, and closes it shortly after.
pub(crate) fn replace(
    commands: &mut Commands,
    client: Entity,
    delivery: &mut MessageWriter<ToClients<ChatDelivery>>,
    why: &str,
) {
    let Ok(mut entity) = commands.get_entity(client) else {
        return;
    };
    entity
        .remove::<(Controls, crate::interest::Viewer)>()
        .insert(Replaced {
            at: Instant::now() + REPLACED_LINGER,
        });
    delivery.write(to_client(
        client,
        ChatDelivery {
            lines: vec![ChatLine {
                id: 0,
                session: 0,
                channel: ChatChannel::System,
                from: "server".into(),
                text: why.to_string(),
                at_ms: crate::chat::now_ms(),
            }],
            history: false,
        },
    ));
}

fn close_replaced(replaced: Query<(Entity, &Replaced)>, mut commands: Commands) {
    let now = Instant::now();
    for (client, r) in &replaced {
        if now >= r.at {
            commands.entity(client).despawn();
        }
    }
}

/// Avatars whose player did not come back within the grace leave.
fn expire_away(
    grace: Res<ReconnectGrace>,
    away: Query<(Entity, &Away, &PlayerId, &OnMap)>,
    maps: Res<Maps>,
    directory: Res<PlayerDirectory>,
    rooms: Res<RoomDirectory>,
    mut journal: ResMut<crate::journal::Journal>,
    mut commands: Commands,
) {
    let now = Instant::now();
    for (avatar, since, id, on) in &away {
        if now.duration_since(since.since) < grace.0 {
            continue;
        }
        let room = maps.get(on.0).room.clone();
        leave_now(
            &mut commands,
            avatar,
            id.0,
            &room,
            &directory,
            &rooms,
            &mut journal,
        );
        info!(client_id = id.0, %room, "player did not come back in time; its avatar left");
    }
}
