//! The game master's table: campaign rooms' sessions (start, pause, resume, end; a
//! paused room stands still) and their character sheets, pushed to the room as they
//! change. Campaigns live in the store; the room directory holds what the HTTP API
//! shows of them, and [`Tables`] what the game enforces.

pub mod actions;
pub mod ai;
pub mod bucket;
pub mod encounter;
pub mod files;
pub mod freeze;
pub mod handouts;
pub mod media;
pub mod session;
pub mod sheets;

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;
use tavern_shared::gm::assets::SharedAsset;
use tavern_shared::gm::{CampaignStatus, StoredSheet};

use crate::rooms::RoomId;

pub use freeze::Frozen;

/// What the table's rules say about a player using an ability: refused while its room
/// is paused, or in an encounter out of its turn or after its action.
#[derive(bevy::ecs::system::SystemParam)]
pub struct Rules<'w, 's> {
    frozen: Query<'w, 's, (), With<Frozen>>,
    /// Absent in apps without the table (the combat benchmark).
    encounters: Option<ResMut<'w, encounter::Encounters>>,
}

impl Rules<'_, '_> {
    /// Why the avatar `caster` (body `body` in `room`) may not act now, if it may not.
    pub fn refuse(&self, caster: Entity, room: &RoomId, body: u32) -> Option<String> {
        if let Some(why) = self
            .encounters
            .as_ref()
            .and_then(|e| e.refuse_action(room, body))
        {
            return Some(why);
        }
        self.frozen
            .contains(caster)
            .then(|| freeze::PAUSED.to_string())
    }

    /// The body took its action.
    pub fn acted(&mut self, room: &RoomId, body: u32) {
        if let Some(encounters) = &mut self.encounters {
            encounters.acted(room, body);
        }
    }
}

/// What the game knows of the campaigns being played: each session's status (as the
/// last GM command left it), which rooms are paused, and the sheets of each campaign.
#[derive(Resource, Debug, Default)]
pub struct Tables {
    status: HashMap<RoomId, CampaignStatus>,
    paused: HashSet<RoomId>,
    sheets: HashMap<RoomId, Vec<StoredSheet>>,
    /// Identities the GM muted, per room (until unmuted, or the server restarts).
    muted: HashMap<RoomId, HashSet<String>>,
    /// The last roll made for the whole table, per room: who, and the roll as said.
    last_roll: HashMap<RoomId, (String, String)>,
    /// The files shared with each campaign, oldest first.
    assets: HashMap<RoomId, Vec<SharedAsset>>,
    /// The handout each room is shown now.
    shown: HashMap<RoomId, SharedAsset>,
}

impl Tables {
    /// The game's tables for the campaigns in `rooms` (as loaded from the store) with
    /// their sheets and shared files.
    pub fn new(
        campaigns: impl IntoIterator<Item = (RoomId, CampaignStatus)>,
        sheets: HashMap<RoomId, Vec<StoredSheet>>,
        assets: HashMap<RoomId, Vec<SharedAsset>>,
    ) -> Self {
        let mut tables = Tables {
            sheets,
            assets,
            ..Default::default()
        };
        for (room, status) in campaigns {
            tables.set(room, status);
        }
        tables
    }

    fn set(&mut self, room: RoomId, status: CampaignStatus) {
        if status.frozen() {
            self.paused.insert(room.clone());
        } else {
            self.paused.remove(&room);
        }
        self.status.insert(room, status);
    }

    /// Whether nothing in `room` moves now.
    pub fn is_paused(&self, room: &RoomId) -> bool {
        self.paused.contains(room)
    }

    /// Notes the last roll made at `room`'s table (the one a GM override changes).
    pub fn note_roll(&mut self, room: &RoomId, who: &str, text: &str) {
        self.last_roll
            .insert(room.clone(), (who.to_string(), text.to_string()));
    }

    /// Whether the GM muted `identity` in `room`.
    pub fn is_muted(&self, room: &RoomId, identity: &str) -> bool {
        self.muted.get(room).is_some_and(|m| m.contains(identity))
    }

    fn set_muted(&mut self, room: &RoomId, identity: &str, muted: bool) {
        let set = self.muted.entry(room.clone()).or_default();
        if muted {
            set.insert(identity.to_string());
        } else {
            set.remove(identity);
        }
    }

    /// The sheets of a campaign.
    pub fn sheets(&self, room: &RoomId) -> &[StoredSheet] {
        self.sheets.get(room).map_or(&[], Vec::as_slice)
    }

    /// The files shared with a campaign, oldest first.
    pub fn assets(&self, room: &RoomId) -> &[SharedAsset] {
        self.assets.get(room).map_or(&[], Vec::as_slice)
    }

    /// The handout `room` is shown now.
    pub fn shown(&self, room: &RoomId) -> Option<&SharedAsset> {
        self.shown.get(room)
    }

    /// Keeps a sheet just written (replacing the older version it was based on).
    fn keep_sheet(&mut self, room: &RoomId, sheet: StoredSheet) {
        let sheets = self.sheets.entry(room.clone()).or_default();
        match sheets.iter_mut().find(|s| s.account == sheet.account) {
            Some(old) if old.version < sheet.version => *old = sheet,
            Some(_) => {}
            None => {
                sheets.push(sheet);
                sheets.sort_by_key(|s| s.account);
            }
        }
    }
}

/// Says `text` at the table of `room` on behalf of `who` (its connection, identity and
/// name), stored with the room's dice and sent to everyone in the room once stored;
/// `false` when nothing is stored here.
pub fn say_at_table(
    chat: Option<&crate::chat::ChatWorker>,
    players: &crate::players::PlayerDirectory,
    room: &RoomId,
    (sender, identity, name): (Entity, &str, &str),
    text: String,
) -> bool {
    let Some(chat) = chat else {
        return false;
    };
    let audience = players
        .in_room(room)
        .into_iter()
        .map(|(_, identity)| identity)
        .collect();
    chat.table_line(sender, room, (identity, name), audience, text)
}

/// What the HTTP API tells the game about campaigns: sheets written, files shared,
/// campaigns gone.
#[derive(Debug, Clone)]
pub enum TableMail {
    Sheet { room: RoomId, sheet: StoredSheet },
    Asset { room: RoomId, asset: SharedAsset },
    Deleted { room: RoomId },
}

/// Mail from the HTTP threads to the game, read once a frame.
pub type TableMailbox = crate::mailbox::Mailbox<TableMail>;

pub fn plugin(app: &mut App) {
    app.init_resource::<Tables>()
        .init_resource::<TableMailbox>()
        .add_plugins((
            freeze::plugin,
            session::plugin,
            actions::plugin,
            encounter::plugin,
            sheets::plugin,
            ai::plugin,
        ));
}
