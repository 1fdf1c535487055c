//! The session of a campaign room: the GM starts, pauses, resumes and ends it (chat
//! commands or the GM panel); anyone else is told "only the GM can …" and nothing
//! changes. A change is stored before the table is told; everyone in the room gets the
//! new [`TableState`] (and each player its own on arrival).

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::DisplayName;
use tavern_shared::gm::assets::{AssetsShared, PlaySound, ShowHandout};
use tavern_shared::gm::{
    CampaignStatus, GmCommand, Scene, SentAway, SheetsChanged, TableNotice, TableState,
};

use super::Tables;
use crate::combat::loot::PlayerKey;
use crate::journal::{Audience, Happening, Journal};
use crate::net::to_client;
use crate::players::{Controls, InRoom};
use crate::rooms::directory::Campaign;
use crate::rooms::{RoomDirectory, RoomId};

/// What a GM command changes in the store.
#[derive(Debug, Clone)]
pub enum Stored {
    /// The session's status (`before` is restored if storing fails).
    Status {
        command: GmCommand,
        status: CampaignStatus,
        before: CampaignStatus,
    },
    /// A ban of a player (its connection and avatar), for a reason.
    Ban {
        identity: String,
        name: String,
        reason: String,
        client: Entity,
        avatar: Entity,
        player: u64,
    },
    Scene(Scene),
    /// An encounter turn's time limit, in seconds.
    TurnSecs(u32),
    /// The GM's seat, to this account (named so).
    Seat {
        account: i64,
        name: String,
    },
}

/// A GM command accepted, on its way to the store.
#[derive(Debug, Clone)]
pub struct Change {
    pub room: RoomId,
    /// The GM's connection and name.
    pub gm: Entity,
    pub gm_name: String,
    pub what: Stored,
}

/// The game side of the campaigns' storage task. Without it (headless tests), changes
/// apply at once.
#[derive(Resource)]
pub struct GmWorker {
    jobs: tokio::sync::mpsc::UnboundedSender<Change>,
    done: std::sync::Mutex<std::sync::mpsc::Receiver<(Change, Result<(), String>)>>,
}

/// Starts the task that stores the GM's changes in order, each before it is announced.
pub fn spawn_worker(runtime: &tokio::runtime::Handle, store: crate::store::ChatStore) -> GmWorker {
    let (jobs, mut incoming) = tokio::sync::mpsc::unbounded_channel::<Change>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        while let Some(change) = incoming.recv().await {
            let room = &change.room.0;
            let result = match &change.what {
                Stored::Status { status, .. } => store.set_campaign_status(room, *status).await,
                Stored::Ban {
                    identity, reason, ..
                } => store.ban_from_campaign(room, identity, reason).await,
                Stored::Scene(scene) => store.set_campaign_scene(room, scene).await,
                Stored::TurnSecs(secs) => store.set_campaign_turn_secs(room, *secs).await,
                Stored::Seat { account, .. } => store.set_campaign_gm(room, *account).await,
            };
            if done_tx
                .send((change, result.map_err(|e| e.to_string())))
                .is_err()
            {
                break;
            }
        }
    });
    GmWorker {
        jobs,
        done: std::sync::Mutex::new(done_rx),
    }
}

impl GmWorker {
    /// Sends a change to be stored; it comes back once stored (or not), or at once
    /// when the storage task has stopped.
    pub fn send(&self, change: Change) -> Result<(), Box<Change>> {
        self.jobs.send(change).map_err(|e| Box::new(e.0))
    }
}

pub fn plugin(app: &mut App) {
    app.add_systems(
        PreUpdate,
        receive_commands.in_set(crate::GameSystems::ReceiveInputs),
    )
    .add_systems(Update, (finish_changes, welcome).chain());
}

/// The room's table: who is in it, and how to tell them.
#[derive(SystemParam)]
pub struct Table<'w, 's> {
    pub rooms: Res<'w, RoomDirectory>,
    pub tables: ResMut<'w, Tables>,
    clients: Query<'w, 's, (Entity, &'static InRoom, &'static Controls)>,
    avatars: Query<
        'w,
        's,
        (
            &'static PlayerKey,
            &'static DisplayName,
            &'static tavern_shared::avatar::PlayerId,
        ),
    >,
    states: MessageWriter<'w, ToClients<TableState>>,
    notices: MessageWriter<'w, ToClients<TableNotice>>,
    pub sheets: MessageWriter<'w, ToClients<SheetsChanged>>,
    pub assets: MessageWriter<'w, ToClients<AssetsShared>>,
    pub handouts: MessageWriter<'w, ToClients<ShowHandout>>,
    pub sounds: MessageWriter<'w, ToClients<PlaySound>>,
    /// Where what the table is told is kept for catch-ups.
    pub journal: ResMut<'w, Journal>,
}

impl Table<'_, '_> {
    /// The identity and name of the player on connection `client`, and its room.
    pub fn who(&self, client: Entity) -> Option<(RoomId, String, String)> {
        let (_, room, controls) = self.clients.get(client).ok()?;
        let (key, name, _) = self.avatars.get(controls.0).ok()?;
        Some((room.0.clone(), key.0.clone(), name.0.clone()))
    }

    /// The avatar of connection `client`.
    pub fn find_client(&self, client: Entity) -> Option<Entity> {
        self.clients
            .get(client)
            .ok()
            .map(|(_, _, controls)| controls.0)
    }

    /// Player `id` in `room`: its connection, avatar, identity and name.
    pub fn find(&self, room: &RoomId, id: u64) -> Option<(Entity, Entity, String, String)> {
        self.clients
            .iter()
            .filter(|(_, r, _)| r.0 == *room)
            .find_map(|(client, _, controls)| {
                let (key, name, player) = self.avatars.get(controls.0).ok()?;
                (player.0 == id).then(|| (client, controls.0, key.0.clone(), name.0.clone()))
            })
    }

    /// Tells one player something about the table.
    pub fn notice(&mut self, client: Entity, text: impl Into<String>) {
        self.notices
            .write(to_client(client, TableNotice { text: text.into() }));
    }

    /// The connections in `room`.
    pub fn members(&self, room: &RoomId) -> Vec<Entity> {
        self.clients
            .iter()
            .filter(|(_, r, _)| r.0 == *room)
            .map(|(e, ..)| e)
            .collect()
    }

    /// Sends the campaign's state to `to` (connections in `room`); nothing if the room
    /// is not a campaign.
    pub fn send_state(&mut self, room: &RoomId, to: &[Entity]) {
        let Some(info) = self.rooms.get(&room.0) else {
            return;
        };
        let Some(campaign) = &info.campaign else {
            return;
        };
        let gm = campaign.gm_identity();
        for &client in to {
            let identity = self.who(client).map(|(_, identity, _)| identity);
            let you_are_gm = identity.as_deref() == Some(gm.as_str());
            let muted = identity
                .as_deref()
                .is_some_and(|i| self.tables.is_muted(room, i));
            self.states.write(to_client(
                client,
                TableState {
                    room: room.0.to_string(),
                    status: campaign.status,
                    gm_account: campaign.gm_account,
                    gm: campaign.gm_name.clone(),
                    you_are_gm,
                    your_account: identity
                        .as_deref()
                        .and_then(crate::http::campaigns::account_of),
                    max_players: info.max_players,
                    scene: campaign.scene.clone(),
                    muted,
                },
            ));
        }
    }

    /// Everyone in `room` hears `text`, and it goes into the room's events (a player
    /// back from a dropped link reads it in its catch-up).
    pub fn announce(&mut self, room: &RoomId, text: &str) {
        for client in self.members(room) {
            self.notice(client, text);
        }
        self.journal.push(Happening {
            room: room.clone(),
            audience: Audience::Room,
            kind: "table".into(),
            text: text.to_string(),
            line: None,
        });
    }
}

/// The GM giving a command on connection `client`: its room, campaign and name; or
/// `None`, the player told why not (`refused`: "only the GM can …").
pub fn the_gm(
    table: &mut Table,
    client: Entity,
    refused: impl FnOnce() -> String,
) -> Option<(RoomId, Campaign, String)> {
    let (room, identity, name) = table.who(client)?;
    let Some(campaign) = table.rooms.get(&room.0).and_then(|r| r.campaign) else {
        table.notice(
            client,
            "this room is not a campaign; GM commands work at a campaign's table",
        );
        return None;
    };
    if campaign.gm_identity() != identity {
        table.notice(client, refused());
        return None;
    }
    Some((room, campaign, name))
}

/// Sends a change to be stored, or applies it at once without a store.
pub fn submit(
    change: Change,
    worker: Option<&GmWorker>,
    table: &mut Table,
    world: &mut Consequences,
) {
    match worker {
        Some(worker) => {
            if let Err(change) = worker.send(change) {
                error!("the campaign storage task has stopped");
                failed(
                    *change,
                    "the server cannot save the campaign right now",
                    table,
                );
            }
        }
        None => apply(change, table, world),
    }
}

/// Checks each session command and, when the GM may give it, sends the change to be
/// stored.
fn receive_commands(
    mut received: MessageReader<FromClient<GmCommand>>,
    mut table: Table,
    worker: Option<Res<GmWorker>>,
    mut world: Consequences,
) {
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let command = *message;
        let Some((room, campaign, name)) = the_gm(&mut table, client, || command.refused()) else {
            continue;
        };
        // The status as the last accepted command left it (stored or on its way).
        let before = table
            .tables
            .status
            .get(&room)
            .copied()
            .unwrap_or(campaign.status);
        let status = match before.after(command) {
            Ok(status) => status,
            Err(why) => {
                table.notice(client, why);
                continue;
            }
        };
        table.tables.status.insert(room.clone(), status);
        let change = Change {
            room,
            gm: client,
            gm_name: name,
            what: Stored::Status {
                command,
                status,
                before,
            },
        };
        submit(change, worker.as_deref(), &mut table, &mut world);
    }
}

/// What carrying out a change may touch besides the table: sending players away.
#[derive(SystemParam)]
pub struct Consequences<'w, 's> {
    pub chat: Option<Res<'w, crate::chat::ChatWorker>>,
    pub players: Res<'w, crate::players::PlayerDirectory>,
    pub sent_away: MessageWriter<'w, ToClients<SentAway>>,
    pub delivery: MessageWriter<'w, ToClients<tavern_shared::chat::ChatDelivery>>,
    pub commands: Commands<'w, 's>,
}

impl Consequences<'_, '_> {
    /// Sends player `player` (connection `client`, avatar `avatar`) out of `room`, telling
    /// it why; its client does not come back by itself.
    pub fn send_away(
        &mut self,
        table: &mut Table,
        (client, avatar, player): (Entity, Entity, u64),
        room: &RoomId,
        reason: &str,
    ) {
        self.sent_away.write(to_client(
            client,
            SentAway {
                reason: reason.to_string(),
            },
        ));
        crate::reconnect::replace(&mut self.commands, client, &mut self.delivery, reason);
        crate::players::leave_now(
            &mut self.commands,
            avatar,
            player,
            room,
            &self.players,
            &table.rooms,
            &mut table.journal,
        );
    }
}

/// A change could not be stored: taken back, and the GM told.
fn failed(change: Change, why: &str, table: &mut Table) {
    if let Stored::Status { before, .. } = change.what {
        table.tables.status.insert(change.room.clone(), before);
    }
    table.notice(change.gm, why.to_string());
}

/// Announces the changes that have been stored (and takes back those that could not be).
fn finish_changes(worker: Option<Res<GmWorker>>, mut table: Table, mut world: Consequences) {
    let Some(worker) = worker else {
        return;
    };
    let done: Vec<_> = worker
        .done
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .try_iter()
        .collect();
    for (change, result) in done {
        match result {
            Ok(()) => apply(change, &mut table, &mut world),
            Err(e) => {
                error!(room = %change.room, error = %e, "cannot store a change to the campaign");
                failed(
                    change,
                    "the server cannot save the campaign; nothing changed",
                    &mut table,
                );
            }
        }
    }
}

/// A stored change takes effect, and everyone in the room is told.
fn apply(change: Change, table: &mut Table, world: &mut Consequences) {
    let Change {
        room,
        gm_name,
        what,
        ..
    } = change;
    let text = match what {
        Stored::Status {
            command, status, ..
        } => {
            table.rooms.update_campaign(&room.0, |c| c.status = status);
            table.tables.set(room.clone(), status);
            info!(%room, %status, gm = %gm_name, "campaign session");
            command.announcement(&gm_name)
        }
        Stored::Ban {
            identity,
            name,
            reason,
            client,
            avatar,
            player,
        } => {
            let why = if reason.is_empty() {
                format!("{gm_name} banned you from this campaign")
            } else {
                format!("{gm_name} banned you from this campaign: {reason}")
            };
            world.send_away(table, (client, avatar, player), &room, &why);
            // Kept from joining again, and from arriving with a token already held.
            table.rooms.ban(&room.0, &identity);
            info!(%room, %identity, %reason, "banned from the campaign");
            format!("{gm_name} banned {name}")
        }
        Stored::Scene(scene) => {
            table
                .rooms
                .update_campaign(&room.0, |c| c.scene = scene.clone());
            let line = scene.line();
            if line.is_empty() {
                format!("{gm_name} cleared the scene")
            } else {
                format!("{gm_name} set the scene: {line}")
            }
        }
        Stored::TurnSecs(secs) => {
            table.rooms.update_campaign(&room.0, |c| c.turn_secs = secs);
            format!("{gm_name} set encounter turns to {secs} s")
        }
        Stored::Seat { account, name } => {
            table.rooms.set_campaign_gm(&room.0, account, &name);
            info!(%room, account, "the GM's seat handed over");
            format!("{gm_name} handed the GM's seat to {name}")
        }
    };
    let members = table.members(&room);
    table.send_state(&room, &members);
    table.announce(&room, &text);
}

/// A player arriving in a campaign room (or coming back to it) is told where the
/// session stands and given the campaign's character sheets and shared files.
fn welcome(arrived: Query<(Entity, &InRoom), Added<InRoom>>, mut table: Table) {
    for (client, room) in &arrived {
        let room = room.0.clone();
        if table
            .rooms
            .get(&room.0)
            .is_none_or(|r| r.campaign.is_none())
        {
            continue;
        }
        table.send_state(&room, &[client]);
        let sheets = table.tables.sheets(&room).to_vec();
        table
            .sheets
            .write(to_client(client, SheetsChanged { sheets }));
        super::handouts::welcome(&mut table, &room, client);
    }
}
