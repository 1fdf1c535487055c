//! Players joining and leaving: an avatar per authorized connection, named from the
//! connect token, placed on a spawn point, and removed when the connection ends.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon::shared::backend::connected_client::NetworkId;
use bevy_replicon_renet2::netcode::NetcodeServerTransport;
use tavern_shared::api::{PlayerInfo, PlayerStatus};
use tavern_shared::avatar::{AvatarState, DisplayName, InZones, InputAck, PlayerId};
use tavern_shared::chat::ChatDelivery;
use tavern_shared::combat::Vitals;
use tavern_shared::movement::MoveState;
use tavern_shared::protocol::EnterMap;
use tavern_shared::stream::Actor;

use crate::combat::abilities::PendingUses;
use crate::combat::damage::Afflicted;
use crate::combat::loot::{Inventory, InventoryWorker, Job, PendingPickups, PlayerKey};
use crate::combat::{Fighter, Past, Warps};
use crate::http::from_user_data;
use crate::interest::{StreamIds, Viewer};
use crate::journal::{Audience, Happening, Journal};
use crate::movement::InputQueue;
use crate::net::rate::SendRate;
use crate::net::to_client;
use crate::reconnect::{Away, ReconnectGrace};
use crate::rooms::{RoomDirectory, RoomId};
use crate::world::{Maps, OnMap};
use crate::zones::{Owner, Presence};

/// On a connection: the avatar it controls.
#[derive(Component, Debug, Clone, Copy)]
pub struct Controls(pub Entity);

/// On a connection: the room its player is in.
#[derive(Component, Debug, Clone)]
pub struct InRoom(pub RoomId);

/// Who is connected and where they stand, shared with the HTTP API.
#[derive(Resource, Clone, Debug, Default)]
pub struct PlayerDirectory(Arc<RwLock<BTreeMap<u64, Listed>>>);

/// One player in the directory: what the API shows, whose it is, and where it may be
/// seen from.
#[derive(Debug, Clone)]
struct Listed {
    info: PlayerInfo,
    identity: String,
    room: RoomId,
    avatar: Entity,
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

    /// Every player with its room and identity (the admin's list), by client id.
    pub fn everyone(&self) -> Vec<(PlayerInfo, RoomId, String)> {
        let players = self.0.read().unwrap_or_else(PoisonError::into_inner);
        players
            .values()
            .map(|l| (l.info.clone(), l.room.clone(), l.identity.clone()))
            .collect()
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

    /// The players in room `room`, each with its identity.
    pub fn in_room(&self, room: &RoomId) -> Vec<(tavern_shared::api::RoomPlayer, String)> {
        let players = self.0.read().unwrap_or_else(PoisonError::into_inner);
        players
            .values()
            .filter(|l| l.room == *room)
            .map(|l| {
                (
                    tavern_shared::api::RoomPlayer {
                        client_id: l.info.client_id,
                        name: l.info.name.clone(),
                        map: l.info.map.clone(),
                        status: l.info.status,
                    },
                    l.identity.clone(),
                )
            })
            .collect()
    }

    /// The identities of the players in room `room` called `name` (compared by
    /// [`tavern_shared::avatar::name_key`]).
    pub fn called(&self, room: &str, name: &str) -> Vec<String> {
        let key = tavern_shared::avatar::name_key(name);
        let players = self.0.read().unwrap_or_else(PoisonError::into_inner);
        players
            .values()
            .filter(|l| &*l.room.0 == room && tavern_shared::avatar::name_key(&l.info.name) == key)
            .map(|l| l.identity.clone())
            .collect()
    }

    /// The avatar of the player on connection `client_id`.
    pub fn avatar_of(&self, client_id: u64) -> Option<Entity> {
        let players = self.0.read().unwrap_or_else(PoisonError::into_inner);
        players.get(&client_id).map(|l| l.avatar)
    }

    /// Shows the player of `client_id` as online, away or reconnecting.
    pub fn set_status(&self, client_id: u64, status: PlayerStatus) {
        if let Some(listed) = self.write().get_mut(&client_id) {
            listed.info.status = status;
        }
    }

    /// The player of connection `old` came back on connection `new`.
    fn resume(&self, old: u64, new: u64) {
        let mut players = self.write();
        if let Some(mut listed) = players.remove(&old) {
            listed.info.client_id = new;
            listed.info.status = PlayerStatus::Online;
            listed.info.last_input = 0;
            players.insert(new, listed);
        }
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

/// What a connection brings into the game.
#[derive(SystemParam)]
struct Arrival<'w, 's> {
    clients: Query<'w, 's, &'static NetworkId>,
    transport: Option<Res<'w, NetcodeServerTransport>>,
    directory: Res<'w, PlayerDirectory>,
    rooms: Res<'w, RoomDirectory>,
    rate: Res<'w, SendRate>,
    hearing: Res<'w, crate::voice::HearingRadius>,
    ids: ResMut<'w, StreamIds>,
    content: Option<Res<'w, crate::content::ContentHandle>>,
    inventories: Option<Res<'w, InventoryWorker>>,
    enter: MessageWriter<'w, ToClients<EnterMap>>,
    delivery: MessageWriter<'w, ToClients<ChatDelivery>>,
    journal: ResMut<'w, Journal>,
    /// Avatars already in the game, with whose they are.
    avatars: Query<
        'w,
        's,
        (
            Entity,
            &'static PlayerKey,
            &'static PlayerId,
            &'static OnMap,
            Option<&'static Owner>,
            &'static AvatarState,
            &'static Presence,
            Option<&'static Away>,
        ),
    >,
}

impl Arrival<'_, '_> {
    /// Gives connection `client` its avatar: what the connection plays with (inputs,
    /// abilities, pickups, the avatar stream, its room), the map the avatar is on
    /// (`resumed_at`: where it waited for its player to come back), and what it holds,
    /// read from the store (written on every change; stored jobs run in order, so any
    /// pickup after this adds to it).
    fn attach(
        &mut self,
        commands: &mut Commands,
        client: Entity,
        avatar: Entity,
        identity: &str,
        (presence, tag, room): (Presence, crate::interest::StreamTag, &RoomId),
        map: &tavern_shared::map::MapData,
        resumed_at: Option<Vec2>,
    ) {
        commands.entity(client).insert((
            Controls(avatar),
            InputQueue::default(),
            PendingUses::default(),
            PendingPickups::default(),
            presence,
            Viewer::new(tag),
            InRoom(room.clone()),
        ));
        self.enter.write(to_client(
            client,
            EnterMap {
                map: map.clone(),
                arrival: resumed_at,
                send_hz: self.rate.hz,
                resumed: resumed_at.is_some(),
                hearing_radius: self.hearing.of(map),
            },
        ));
        if let Some(worker) = &self.inventories {
            worker.send(Job::Load {
                avatar,
                key: identity.to_string(),
            });
        }
    }
}

fn spawn_avatar(
    add: On<Add, AuthorizedClient>,
    mut commands: Commands,
    mut maps: ResMut<Maps>,
    mut a: Arrival,
) {
    let client = add.entity;
    let Ok(network_id) = a.clients.get(client) else {
        return;
    };
    let client_id = network_id.get();
    let ticket = a
        .transport
        .as_ref()
        .and_then(|t| t.user_data(client_id))
        .and_then(|data| from_user_data(&data));
    let Some(ticket) = ticket else {
        warn!(
            client_id,
            "connection without a valid name in its token; disconnecting"
        );
        commands.entity(client).despawn();
        return;
    };
    let (name, identity, look) = (ticket.name, ticket.identity, ticket.look);
    let room = RoomId::from(ticket.room.as_str());
    // The same player (account or guest session) already has an avatar: a dropped
    // connection coming back, or a second login, which wins over the first.
    let earlier = a.avatars.iter().find(|(_, key, ..)| key.0 == identity).map(
        |(avatar, _, id, on, owner, state, presence, away)| {
            (
                avatar,
                id.0,
                on.0,
                owner.map(|o| o.0),
                *state,
                *presence,
                away.map(|a| a.since),
            )
        },
    );
    if let Some((avatar, old_id, on, old_owner, state, presence, away)) = earlier {
        if let (None, Some(old_owner)) = (away, old_owner) {
            crate::reconnect::replace(
                &mut commands,
                old_owner,
                &mut a.delivery,
                tavern_shared::protocol::REPLACED_NOTICE,
            );
        }
        if maps.get(on).room == room {
            if !a.rooms.resumed(&room.0, client_id, &identity) {
                warn!(client_id, %room, "the room closed (or banned the player) before it came back; disconnecting");
                leave_now(
                    &mut commands,
                    avatar,
                    old_id,
                    &room,
                    &a.directory,
                    &a.rooms,
                    &mut a.journal,
                );
                commands.entity(client).despawn();
                return;
            }
            let tag = a.ids.issue();
            commands
                .entity(avatar)
                .insert((
                    PlayerId(client_id),
                    Actor::Player(client_id),
                    // The look of this login (a reloaded page may choose another).
                    look,
                    tag,
                    Owner(client),
                    InputAck(0),
                    crate::presence::Activity::default(),
                ))
                .remove::<Away>();
            // Before the connection is handed its avatar: no chat history is resent
            // to one coming back (its catch-up brings what it missed).
            commands.entity(client).insert(crate::journal::CameBack {
                away: away.map_or(std::time::Duration::ZERO, |since| since.elapsed()),
            });
            let place = maps.get(on);
            a.attach(
                &mut commands,
                client,
                avatar,
                &identity,
                (presence, tag, &room),
                &place.data,
                Some(state.motion.pos),
            );
            a.journal.push(Happening {
                room: room.clone(),
                audience: Audience::Room,
                kind: "back".into(),
                text: format!("{name} is back"),
                line: None,
            });
            a.directory.resume(old_id, client_id);
            info!(client_id, old_client_id = old_id, %name, %room, "player came back to its avatar");
            return;
        }
        // Its avatar is in another room: it leaves there.
        let old_room = maps.get(on).room.clone();
        leave_now(
            &mut commands,
            avatar,
            old_id,
            &old_room,
            &a.directory,
            &a.rooms,
            &mut a.journal,
        );
    }
    let Some(room_map) = a.rooms.arrived(&room.0, client_id, &identity) else {
        warn!(client_id, %room, "the room closed (or banned the player) before it arrived; disconnecting");
        commands.entity(client).despawn();
        return;
    };
    let file = maps.by_name(&room_map).unwrap_or(maps.start);
    let start = maps.open(&room, file);
    let spawn = maps.get_mut(start).take_spawn();
    let presence = Presence {
        map: start,
        private: None,
    };
    let tag = a.ids.issue();
    // The content loader makes sure `player` stats exist.
    let vitals = a
        .content
        .as_ref()
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
            PlayerId(client_id),
            DisplayName(name.clone()),
            look,
            AvatarState::new(MoveState::at(spawn)),
            InputAck(0),
            vitals,
            Actor::Player(client_id),
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
            crate::presence::Activity::default(),
            Owner(client),
            presence,
        ))
        .id();
    a.attach(
        &mut commands,
        client,
        avatar,
        &identity,
        (presence, tag, &room),
        &maps.get(start).data,
        None,
    );
    let now = {
        let mut players = a.directory.write();
        players.insert(
            client_id,
            Listed {
                info: PlayerInfo {
                    client_id,
                    name: name.clone(),
                    map: maps.get(start).data.name.clone(),
                    x: spawn.x,
                    y: spawn.y,
                    last_input: 0,
                    status: PlayerStatus::Online,
                },
                identity: identity.clone(),
                room: room.clone(),
                avatar,
                presence: Some(presence),
            },
        );
        players.len()
    };
    a.journal.push(Happening {
        room: room.clone(),
        audience: Audience::Room,
        kind: "joined".into(),
        text: format!("{name} joined"),
        line: None,
    });
    info!(client_id, %name, %room, x = spawn.x, y = spawn.y, players = now, "player joined");
}

/// A connection ended: its avatar waits for the player to come back (for the
/// reconnect grace), or leaves at once without one.
fn despawn_avatar(
    remove: On<Remove, ConnectedClient>,
    mut commands: Commands,
    clients: Query<(&Controls, Option<&NetworkId>, &InRoom)>,
    names: Query<&DisplayName>,
    directory: Res<PlayerDirectory>,
    rooms: Res<RoomDirectory>,
    grace: Res<ReconnectGrace>,
    mut journal: ResMut<Journal>,
) {
    let Ok((controls, network_id, room)) = clients.get(remove.entity) else {
        return;
    };
    let Some(client_id) = network_id.map(|n| n.get()) else {
        return;
    };
    let name = names
        .get(controls.0)
        .map(|n| n.0.clone())
        .unwrap_or_default();
    if !grace.0.is_zero() && names.contains(controls.0) {
        // No connection owns it meanwhile: nothing is sent to the one that ended.
        commands
            .entity(controls.0)
            .insert(Away {
                since: std::time::Instant::now(),
            })
            .remove::<Owner>();
        directory.set_status(client_id, PlayerStatus::Reconnecting);
        journal.push(Happening {
            room: room.0.clone(),
            audience: Audience::Room,
            kind: "dropped".into(),
            text: format!("{name} lost the connection"),
            line: None,
        });
        info!(client_id, %name, room = %room.0, grace_secs = grace.0.as_secs(), "player dropped; its avatar waits for it");
        return;
    }
    leave_now(
        &mut commands,
        controls.0,
        client_id,
        &room.0,
        &directory,
        &rooms,
        &mut journal,
    );
    info!(client_id, %name, players = directory.len(), "player left");
}

/// An avatar leaves the game for good.
pub(crate) fn leave_now(
    commands: &mut Commands,
    avatar: Entity,
    client_id: u64,
    room: &RoomId,
    directory: &PlayerDirectory,
    rooms: &RoomDirectory,
    journal: &mut Journal,
) {
    if let Ok(mut e) = commands.get_entity(avatar) {
        e.despawn();
    }
    let listed = directory.write().remove(&client_id);
    if let Some(listed) = &listed {
        journal.push(Happening {
            room: room.clone(),
            audience: Audience::Room,
            kind: "left".into(),
            text: format!("{} left", listed.info.name),
            line: None,
        });
    }
    rooms.left(&room.0, listed.as_ref().map_or("", |l| l.identity.as_str()));
}
