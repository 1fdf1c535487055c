//! The client's side of the game master's table: the campaign's state as the server
//! last said ([`TableState`]), what it said about GM commands ([`TableNotice`]), and
//! the campaign's character sheets, kept by account. It decides nothing.

use std::collections::{BTreeMap, VecDeque};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::gm::{SheetsChanged, StoredSheet, TableNotice, TableState};

use crate::PlaySystems;

/// Notices kept for showing.
const KEEP: usize = 32;

/// The campaign of the player's room; empty in rooms that are not campaigns.
#[derive(Resource, Debug, Default, Clone)]
pub struct Table {
    pub state: Option<TableState>,
    /// What the server said about the table, newest last, with the time (seconds
    /// since start) it came.
    pub notices: VecDeque<(f64, String)>,
    /// The campaign's sheets by account id, at their newest version.
    pub sheets: BTreeMap<i64, StoredSheet>,
}

impl Table {
    /// What the banner at the top says now ("Paused by the GM"), if anything.
    pub fn banner(&self) -> Option<&'static str> {
        self.state.as_ref().and_then(|s| s.status.banner())
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Table>()
        .add_systems(PreUpdate, receive.in_set(PlaySystems::Receive))
        .add_systems(
            OnExit(ClientState::Connected),
            |mut table: ResMut<Table>| {
                table.state = None;
            },
        );
}

fn receive(
    time: Res<Time>,
    mut states: MessageReader<TableState>,
    mut notices: MessageReader<TableNotice>,
    mut sheets: MessageReader<SheetsChanged>,
    mut table: ResMut<Table>,
) {
    let now = time.elapsed_secs_f64();
    for state in states.read() {
        table.state = Some(state.clone());
    }
    for notice in notices.read() {
        info!(text = %notice.text, "table");
        table.notices.push_back((now, notice.text.clone()));
        if table.notices.len() > KEEP {
            table.notices.pop_front();
        }
    }
    for changed in sheets.read() {
        for sheet in &changed.sheets {
            let newer = table
                .sheets
                .get(&sheet.account)
                .is_none_or(|s| s.version < sheet.version);
            if newer {
                table.sheets.insert(sheet.account, sheet.clone());
            }
        }
    }
}
