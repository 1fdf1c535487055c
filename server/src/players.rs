//! Players joining and leaving: an avatar per authorized connection, named from the
//! connect token, placed on a spawn point, and removed when the connection ends.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon::shared::backend::connected_client::NetworkId;
use bevy_replicon_renet2::netcode::NetcodeServerTransport;
use tavern_shared::api::PlayerInfo;
use tavern_shared::avatar::{AvatarState, DisplayName, InZones, InputAck, PlayerId};
use tavern_shared::combat::Vitals;
use tavern_shared::movement::MoveState;
use tavern_shared::protocol::EnterMap;
use tavern_shared::stream::Actor;

use crate::combat::abilities::PendingUses;
use crate::combat::damage::Afflicted;
use crate::combat::loot::{Inventory, InventoryWorker, Job, PendingPickups, PlayerKey};
use crate::combat::{Fighter, Past, Warps};
use crate::http::name_from_user_data;
use crate::interest::{StreamIds, Viewer};
use crate::movement::InputQueue;
use crate::net::rate::SendRate;
use crate::net::to_client;
use crate::world::{Maps, OnMap};
use crate::zones::{Owner, Presence};

/// On a connection: the avatar it controls.
#[derive(Component, Debug, Clone, Copy)]
pub struct Controls(pub Entity);

/// Who is connected and where they stand, shared with the HTTP API.
#[derive(Resource, Clone, Debug, Default)]
pub struct PlayerDirectory(Arc<RwLock<BTreeMap<u64, Listed>>>);

/// One player in the directory: what the API shows, whose it is, and where it may be
/// seen from.
#[derive(Debug, Clone)]
struct Listed {
    info: PlayerInfo,
    identity: String,
    /// `None` until its avatar is placed.
    presence: Option<Presence>,
}

impl PlayerDirectory {
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every player, ordered by client id (the server's own view: tests, the embedded
    /// server; the API shows [`PlayerDirectory::visible_to`]).
    pub fn list(&self) -> Vec<PlayerInfo> {
        let players = self.0.read().unwrap_or_else(PoisonError::into_inner);
        players.values().map(|l| l.info.clone()).collect()
    }

    /// The players whoever is logged in as `identity` can see in the game from where
    /// its avatars stand (themselves included): nothing if it has none in the game.
    pub fn visible_to(&self, identity: &str) -> Vec<PlayerInfo> {
        let players = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let viewers: Vec<Presence> = players
            .values()
            .filter(|l| l.identity == identity)
            .filter_map(|l| l.presence)
            .collect();
        players
            .values()
            .filter(|l| {
                l.presence
                    .is_some_and(|p| viewers.iter().any(|v| crate::zones::can_see(v, &p)))
            })
            .map(|l| l.info.clone())
            .collect()
    }

    /// The identities of the players in the game called `name` (compared by
    /// [`tavern_shared::avatar::name_key`]).
    pub fn called(&self, name: &str) -> Vec<String> {
        let key = tavern_shared::avatar::name_key(name);
        let players = self.0.read().unwrap_or_else(PoisonError::into_inner);
        players
            .values()
            .filter(|l| tavern_shared::avatar::name_key(&l.info.name) == key)
            .map(|l| l.identity.clone())
            .collect()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, Listed>> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<PlayerDirectory>()
        .add_observer(spawn_avatar)
        .add_observer(despawn_avatar)
        .add_systems(FixedPostUpdate, publish_positions);
}

/// Copies moved avatars into the directory (only those that changed this tick).
fn publish_positions(
    avatars: Query<
        (&PlayerId, &AvatarState, &InputAck, &OnMap, &Presence),
        Or<(
            Changed<AvatarState>,
            Changed<InputAck>,
            Changed<OnMap>,
            Changed<Presence>,
        )>,
    >,
    maps: Res<Maps>,
    directory: Res<PlayerDirectory>,
) {
    if avatars.is_empty() {
        return;
    }
    let mut players = directory.write();
    for (id, state, ack, on, presence) in &avatars {
        if let Some(listed) = players.get_mut(&id.0) {
            listed.presence = Some(*presence);
            let info = &mut listed.info;
            let map = &maps.get(on.0).data.name;
            if info.map != *map {
                info.map.clone_from(map);
            }
            info.x = state.motion.pos.x;
            info.y = state.motion.pos.y;
            info.last_input = ack.0;
        }
    }
}

fn spawn_avatar(
    add: On<Add, AuthorizedClient>,
    mut commands: Commands,
    clients: Query<&NetworkId>,
    transport: Option<Res<NetcodeServerTransport>>,
    mut maps: ResMut<Maps>,
    directory: Res<PlayerDirectory>,
    rate: Res<SendRate>,
    mut ids: ResMut<StreamIds>,
    content: Option<Res<crate::content::ContentHandle>>,
    inventories: Option<Res<InventoryWorker>>,
    mut enter: MessageWriter<ToClients<EnterMap>>,
) {
    let client = add.entity;
    let Ok(network_id) = clients.get(client) else {
        return;
    };
    let name = transport
        .as_ref()
        .and_then(|t| t.user_data(network_id.get()))
        .and_then(|data| name_from_user_data(&data));
    let Some((name, identity)) = name else {
        warn!(
            client_id = network_id.get(),
            "connection without a valid name in its token; disconnecting"
        );
        commands.entity(client).despawn();
        return;
    };
    let start = maps.start;
    let spawn = maps.get_mut(start).take_spawn();
    let presence = Presence {
        map: start,
        private: None,
    };
    let tag = ids.issue();
    // The content loader makes sure `player` stats exist.
    let vitals = content
        .and_then(|c| {
            c.current()
                .content
                .combat_stats
                .get(tavern_shared::combat::PLAYER_STATS)
                .map(Vitals::full)
        })
        .unwrap_or_default();
    let avatar = commands
        .spawn((
            PlayerId(network_id.get()),
            DisplayName(name.clone()),
            AvatarState::new(MoveState::at(spawn)),
            InputAck(0),
            vitals,
            Actor::Player(network_id.get()),
            (
                Fighter::new(tavern_shared::combat::PLAYER_STATS),
                Warps::default(),
                Past::default(),
                Afflicted::default(),
                Inventory::default(),
                PlayerKey(identity.clone()),
            ),
            tag,
            OnMap(start),
            InZones::default(),
            Owner(client),
            presence,
        ))
        .id();
    // What this player held last time comes back (stored jobs run in order, so any
    // pickup after this adds to it).
    if let Some(worker) = inventories {
        worker.send(Job::Load {
            avatar,
            key: identity.clone(),
        });
    }
    commands.entity(client).insert((
        Controls(avatar),
        InputQueue::default(),
        PendingUses::default(),
        PendingPickups::default(),
        presence,
        Viewer::new(tag),
    ));
    enter.write(to_client(
        client,
        EnterMap {
            map: (*maps.get(start).data).clone(),
            arrival: None,
            send_hz: rate.hz,
        },
    ));
    let now = {
        let mut players = directory.write();
        players.insert(
            network_id.get(),
            Listed {
                info: PlayerInfo {
                    client_id: network_id.get(),
                    name: name.clone(),
                    map: maps.get(start).data.name.clone(),
                    x: spawn.x,
                    y: spawn.y,
                    last_input: 0,
                },
                identity: identity.clone(),
                presence: Some(presence),
            },
        );
        players.len()
    };
    info!(client_id = network_id.get(), %name, x = spawn.x, y = spawn.y, players = now, "player joined");
}

fn despawn_avatar(
    remove: On<Remove, ConnectedClient>,
    mut commands: Commands,
    clients: Query<(&Controls, Option<&NetworkId>)>,
    names: Query<&DisplayName>,
    directory: Res<PlayerDirectory>,
) {
    let Ok((controls, network_id)) = clients.get(remove.entity) else {
        return;
    };
    let name = names
        .get(controls.0)
        .map(|n| n.0.clone())
        .unwrap_or_default();
    commands.entity(controls.0).despawn();
    let now = {
        let mut players = directory.write();
        if let Some(id) = network_id {
            players.remove(&id.get());
        }
        players.len()
    };
    info!(client_id = network_id.map(|n| n.get()), %name, players = now, "player left");
}
