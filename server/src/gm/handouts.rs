//! Files shared at the table: each file the GM uploads is announced to everyone in the
//! campaign's room; the GM shows an image to all (a full-screen handout; `/show` with
//! no name takes it away) and plays a sound for all, started together
//! ([`SOUND_LEAD_MS`] after it is sent). A player arriving is given the files and the
//! handout shown. Only the GM may show or play (checked in [`super::actions`]).

use tavern_shared::gm::assets::{
    AssetKind, AssetsShared, PlaySound, SOUND_LEAD_MS, SharedAsset, ShowHandout,
};

use super::session::Table;
use crate::net::to_client;
use crate::rooms::RoomId;

/// A file the HTTP API stored for `room`: kept, and everyone there is told.
pub fn shared(table: &mut Table, room: RoomId, asset: SharedAsset) {
    let list = table.tables.assets.entry(room.clone()).or_default();
    if list.iter().any(|a| a.hash == asset.hash) {
        return;
    }
    list.push(asset.clone());
    let update = AssetsShared {
        assets: vec![asset],
    };
    for client in table.members(&room) {
        table.assets.write(to_client(client, update.clone()));
    }
}

/// A player arriving in `room`: every file shared there, and the handout shown.
pub fn welcome(table: &mut Table, room: &RoomId, client: bevy::prelude::Entity) {
    let assets = table.tables.assets(room).to_vec();
    if !assets.is_empty() {
        table
            .assets
            .write(to_client(client, AssetsShared { assets }));
    }
    if let Some(shown) = table.tables.shown(room).cloned() {
        let by = table
            .rooms
            .get(&room.0)
            .and_then(|r| r.campaign)
            .map(|c| c.gm_name)
            .unwrap_or_default();
        table.handouts.write(to_client(
            client,
            ShowHandout {
                asset: Some(shown),
                by,
            },
        ));
    }
}

/// The file of `room` that `key` names (its name or the start of its hash), of `kind`;
/// or why there is none.
fn find(table: &Table, room: &RoomId, key: &str, kind: AssetKind) -> Result<SharedAsset, String> {
    let assets = table.tables.assets(room);
    let Some(asset) = assets.iter().find(|a| a.is_named(key)) else {
        let names: Vec<&str> = assets.iter().map(|a| a.name.as_str()).collect();
        return Err(if names.is_empty() {
            "no file is shared with this table yet (upload one: POST /api/campaigns/ROOM/assets)"
                .to_string()
        } else {
            format!(
                "no shared file is called `{key}` (shared: {})",
                names.join(", ")
            )
        });
    };
    if asset.kind != kind {
        return Err(match asset.kind {
            AssetKind::Image => format!("{} is an image: /show it", asset.name),
            AssetKind::Audio => format!("{} is a sound: /play it", asset.name),
        });
    }
    Ok(asset.clone())
}

/// The GM `gm_name` shows the image `key` to `room` (`None`: puts the handout away);
/// what the table is told.
pub fn show(
    table: &mut Table,
    room: &RoomId,
    key: Option<&str>,
    gm_name: &str,
) -> Result<String, String> {
    let asset = match key {
        Some(key) => Some(find(table, room, key, AssetKind::Image)?),
        None => None,
    };
    let told = match &asset {
        Some(a) => {
            table.tables.shown.insert(room.clone(), a.clone());
            format!("{gm_name} shows {}", a.name)
        }
        None => {
            if table.tables.shown.remove(room).is_none() {
                return Err("no handout is shown".into());
            }
            format!("{gm_name} put the handout away")
        }
    };
    let message = ShowHandout {
        asset,
        by: gm_name.to_string(),
    };
    for client in table.members(room) {
        table.handouts.write(to_client(client, message.clone()));
    }
    Ok(told)
}

/// The GM `gm_name` plays the sound `key` for `room`; what the table is told.
pub fn play(table: &mut Table, room: &RoomId, key: &str, gm_name: &str) -> Result<String, String> {
    let asset = find(table, room, key, AssetKind::Audio)?;
    let told = format!("{gm_name} plays {}", asset.name);
    let message = PlaySound {
        asset,
        lead_ms: SOUND_LEAD_MS,
        by: gm_name.to_string(),
    };
    for client in table.members(room) {
        table.sounds.write(to_client(client, message.clone()));
    }
    Ok(told)
}
