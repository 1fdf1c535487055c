//! What the admin API (`/api/admin/...`, [`crate::http::admin`]) asks of the game: a
//! player sent away with a reason, a system message to a room or to everyone.

use bevy::prelude::*;
use tavern_shared::avatar::PlayerId;
use tavern_shared::chat::{ChatChannel, ChatDelivery, ChatLine};

use crate::gm::session::{Consequences, Table};
use crate::mailbox::Mailbox;
use crate::net::to_client;
use crate::players::{Controls, InRoom};

/// An admin's order, from the HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminMail {
    /// Send player `client_id` away, telling it `why`.
    Kick { client_id: u64, why: String },
    /// A system message to the players of `room`, or to everyone.
    Broadcast { room: Option<String>, text: String },
}

pub type AdminMailbox = Mailbox<AdminMail>;

/// Whether the server drains (an admin asked it to close: no new players, stop when
/// empty or at the deadline), shared by the HTTP API and the process.
#[derive(Debug, Clone, Default)]
pub struct Draining(std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>);

impl Draining {
    /// Starts draining, to stop after `deadline` at the latest (a second call sets the
    /// deadline anew).
    pub fn start(&self, deadline: std::time::Duration) {
        *self.lock() = Some(std::time::Instant::now() + deadline);
    }

    pub fn is_on(&self) -> bool {
        self.lock().is_some()
    }

    /// Whether a draining server should stop now: nobody left, or the deadline passed.
    pub fn done(&self, players: usize) -> bool {
        self.lock()
            .is_some_and(|deadline| players == 0 || std::time::Instant::now() >= deadline)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<std::time::Instant>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<AdminMailbox>()
        .add_systems(Update, read_mail);
}

fn read_mail(
    mailbox: Res<AdminMailbox>,
    mut table: Table,
    mut world: Consequences,
    clients: Query<(Entity, &InRoom, &Controls)>,
    avatars: Query<&PlayerId>,
) {
    for mail in mailbox.take() {
        match mail {
            AdminMail::Kick { client_id, why } => {
                let found = clients.iter().find_map(|(client, room, controls)| {
                    let player = avatars.get(controls.0).ok()?;
                    (player.0 == client_id).then(|| (client, controls.0, room.0.clone()))
                });
                let Some((client, avatar, room)) = found else {
                    continue;
                };
                info!(%room, client_id, %why, "sent away by an admin");
                world.send_away(&mut table, (client, avatar, client_id), &room, &why);
            }
            AdminMail::Broadcast { room, text } => {
                let line = ChatLine {
                    id: 0,
                    session: 0,
                    channel: ChatChannel::System,
                    from: "server".into(),
                    text,
                    at_ms: crate::chat::now_ms(),
                };
                let mut told = 0;
                for (client, in_room, _) in &clients {
                    if room.as_deref().is_some_and(|r| &*in_room.0.0 != r) {
                        continue;
                    }
                    told += 1;
                    world.delivery.write(to_client(
                        client,
                        ChatDelivery {
                            lines: vec![line.clone()],
                            history: false,
                        },
                    ));
                }
                info!(room = room.as_deref().unwrap_or("(all)"), told, text = %line.text, "admin broadcast");
            }
        }
    }
}
