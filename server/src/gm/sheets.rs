//! What the HTTP API stored reaches the table at once: a character sheet or a shared
//! file is kept by the game and sent to everyone in its campaign's room; a deleted
//! campaign is forgotten.

use bevy::prelude::*;
use tavern_shared::gm::SheetsChanged;

use super::session::Table;
use super::{TableMail, TableMailbox};
use crate::net::to_client;

pub fn plugin(app: &mut App) {
    app.add_systems(Update, read_mail);
}

fn read_mail(
    mailbox: Res<TableMailbox>,
    mut table: Table,
    mut ai: Option<ResMut<super::ai::AiTables>>,
) {
    for mail in mailbox.take() {
        match mail {
            TableMail::Sheet { room, sheet } => {
                table.tables.keep_sheet(&room, sheet.clone());
                let update = SheetsChanged {
                    sheets: vec![sheet],
                };
                for client in table.members(&room) {
                    table.sheets.write(to_client(client, update.clone()));
                }
            }
            TableMail::Asset { room, asset } => super::handouts::shared(&mut table, room, asset),
            TableMail::Deleted { room } => {
                if let Some(ai) = &mut ai {
                    ai.forget(&room);
                }
                table.tables.assets.remove(&room);
                table.tables.shown.remove(&room);
                table.tables.sheets.remove(&room);
                table.tables.status.remove(&room);
                table.tables.paused.remove(&room);
                table.tables.muted.remove(&room);
                table.tables.last_roll.remove(&room);
            }
        }
    }
}
