//! The session of a campaign room: the GM starts, pauses, resumes and ends it (chat
//! commands or the GM panel); anyone else is told "only the GM can …" and nothing
//! changes. A change is stored before the table is told; everyone in the room gets the
//! new [`TableState`] (and each player its own on arrival).

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::DisplayName;
use tavern_shared::gm::{CampaignStatus, GmCommand, SheetsChanged, TableNotice, TableState};

use super::Tables;
use crate::combat::loot::PlayerKey;
use crate::journal::{Audience, Happening, Journal};
use crate::net::to_client;
use crate::players::{Controls, InRoom};
use crate::rooms::{RoomDirectory, RoomId};

/// A status change accepted from the GM, on its way to the store.
#[derive(Debug, Clone)]
pub struct Change {
    pub room: RoomId,
    pub command: GmCommand,
    pub status: CampaignStatus,
    /// What the status was (restored if storing fails).
    pub before: CampaignStatus,
    /// The GM's connection and name.
    pub gm: Entity,
    pub gm_name: String,
}

/// The game side of the campaigns' storage task. Without it (headless tests), changes
/// apply at once.
#[derive(Resource)]
pub struct GmWorker {
    jobs: tokio::sync::mpsc::UnboundedSender<Change>,
    done: std::sync::Mutex<std::sync::mpsc::Receiver<(Change, Result<(), String>)>>,
}

/// Starts the task that stores status changes in order, each before it is announced.
pub fn spawn_worker(runtime: &tokio::runtime::Handle, store: crate::store::ChatStore) -> GmWorker {
    let (jobs, mut incoming) = tokio::sync::mpsc::unbounded_channel::<Change>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        while let Some(change) = incoming.recv().await {
            let result = store
                .set_campaign_status(&change.room.0, change.status)
                .await
                .map_err(|e| e.to_string());
            if done_tx.send((change, result)).is_err() {
                break;
            }
        }
    });
    GmWorker {
        jobs,
        done: std::sync::Mutex::new(done_rx),
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
    avatars: Query<'w, 's, (&'static PlayerKey, &'static DisplayName)>,
    states: MessageWriter<'w, ToClients<TableState>>,
    notices: MessageWriter<'w, ToClients<TableNotice>>,
    pub sheets: MessageWriter<'w, ToClients<SheetsChanged>>,
}

impl Table<'_, '_> {
    /// The identity and name of the player on connection `client`, and its room.
    pub fn who(&self, client: Entity) -> Option<(RoomId, String, String)> {
        let (_, room, controls) = self.clients.get(client).ok()?;
        let (key, name) = self.avatars.get(controls.0).ok()?;
        Some((room.0.clone(), key.0.clone(), name.0.clone()))
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
            let you_are_gm = self
                .who(client)
                .is_some_and(|(_, identity, _)| identity == gm);
            self.states.write(to_client(
                client,
                TableState {
                    room: room.0.to_string(),
                    status: campaign.status,
                    gm_account: campaign.gm_account,
                    gm: campaign.gm_name.clone(),
                    you_are_gm,
                    max_players: info.max_players,
                },
            ));
        }
    }

    /// Everyone in `room` hears `text`.
    pub fn announce(&mut self, room: &RoomId, text: &str) {
        for client in self.members(room) {
            self.notice(client, text);
        }
    }
}

/// Checks each GM command and, when the GM may give it, sends the change to be stored.
fn receive_commands(
    mut received: MessageReader<FromClient<GmCommand>>,
    mut table: Table,
    worker: Option<Res<GmWorker>>,
    mut applied: Local<Vec<Change>>,
    mut journal: ResMut<Journal>,
) {
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let command = *message;
        let Some((room, identity, name)) = table.who(client) else {
            continue;
        };
        let Some(campaign) = table.rooms.get(&room.0).and_then(|r| r.campaign) else {
            table.notice(
                client,
                "this room is not a campaign; GM commands work at a campaign's table",
            );
            continue;
        };
        if campaign.gm_identity() != identity {
            table.notice(client, command.refused());
            continue;
        }
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
            command,
            status,
            before,
            gm: client,
            gm_name: name,
        };
        match &worker {
            Some(worker) => {
                if let Err(e) = worker.jobs.send(change) {
                    error!("the campaign storage task has stopped");
                    let change = e.0;
                    table
                        .tables
                        .status
                        .insert(change.room.clone(), change.before);
                    table.notice(client, "the server cannot save the campaign right now");
                }
            }
            None => applied.push(change),
        }
    }
    for change in applied.drain(..) {
        apply(change, &mut table, &mut journal);
    }
}

/// Announces the changes that have been stored (and takes back those that could not be).
fn finish_changes(worker: Option<Res<GmWorker>>, mut table: Table, mut journal: ResMut<Journal>) {
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
            Ok(()) => apply(change, &mut table, &mut journal),
            Err(e) => {
                error!(room = %change.room, error = %e, "cannot store the campaign's status");
                table
                    .tables
                    .status
                    .insert(change.room.clone(), change.before);
                table.notice(
                    change.gm,
                    format!(
                        "could not {}: the server cannot save the campaign",
                        change.command.word()
                    ),
                );
            }
        }
    }
}

/// A stored change takes effect: the room freezes or thaws, and everyone in it is told.
fn apply(change: Change, table: &mut Table, journal: &mut Journal) {
    table
        .rooms
        .set_campaign_status(&change.room.0, change.status);
    table.tables.set(change.room.clone(), change.status);
    let members = table.members(&change.room);
    table.send_state(&change.room, &members);
    let text = change.command.announcement(&change.gm_name);
    table.announce(&change.room, &text);
    info!(room = %change.room, status = %change.status, gm = %change.gm_name, "campaign session");
    journal.push(Happening {
        room: change.room,
        audience: Audience::Room,
        kind: "session".into(),
        text,
        line: None,
    });
}

/// A player arriving in a campaign room (or coming back to it) is told where the
/// session stands and given the campaign's character sheets.
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
    }
}
