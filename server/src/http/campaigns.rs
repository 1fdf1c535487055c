//! Campaigns over HTTP: character sheets (`GET`/`PUT
//! /api/campaigns/{room}/characters/{account}`, the list of them) and deleting a
//! campaign. The GM may write any sheet of the campaign, a player only their own; a
//! write names the version it was based on and is refused with 409 and the current
//! sheet when someone saved in between. Accepted sheets reach the room at once.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tavern_shared::gm::{PutSheet, SheetConflict, StoredSheet};

use super::limits::TokenOwner;
use super::{ApiState, error, json_body};
use crate::gm::TableMail;
use crate::rooms::{JoinRefusal, Room, RoomId};
use crate::store::{ChatStore, StaleSheet};

/// The account id of an identity `account:ID`; `None` for guests.
pub fn account_of(identity: &str) -> Option<i64> {
    identity.strip_prefix("account:")?.parse().ok()
}

pub(super) fn store(state: &ApiState) -> Result<&ChatStore, Box<Response>> {
    state.store.as_ref().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server keeps no database, so it has no campaigns",
        ))
    })
}

pub(super) fn unavailable(what: &str, e: sqlx::Error) -> Box<Response> {
    tracing::error!("{what}: {e}");
    Box::new(error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{what} cannot be done right now; try again"),
    ))
}

/// The campaign room `id`, or the 404 saying there is none.
pub(super) fn campaign(state: &ApiState, id: &str) -> Result<Room, Box<Response>> {
    match state.rooms.get(id) {
        Some(room) if room.campaign.is_some() => Ok(room),
        Some(_) => Err(Box::new(error(
            StatusCode::NOT_FOUND,
            format!("room {id} is not a campaign (make one with \"campaign\": true)"),
        ))),
        None => Err(Box::new(error(
            StatusCode::NOT_FOUND,
            JoinRefusal::NoSuchRoom.to_string(),
        ))),
    }
}

/// Whether `caller` may read the campaign's `what` (sheets, files): its GM, a player in
/// the room now, or one with a sheet in it; else the 403.
pub(super) async fn may_read(
    state: &ApiState,
    store: &ChatStore,
    room: &Room,
    caller: &TokenOwner,
    what: &str,
) -> Result<(), Box<Response>> {
    if room.is_gm(&caller.identity)
        || state
            .players
            .in_room(&room.id)
            .iter()
            .any(|(_, identity)| *identity == caller.identity)
    {
        return Ok(());
    }
    if let Some(account) = account_of(&caller.identity) {
        let sheet = store
            .sheet(&room.id.0, account)
            .await
            .map_err(|e| unavailable("reading the sheet", e))?;
        if sheet.is_some() {
            return Ok(());
        }
    }
    Err(Box::new(error(
        StatusCode::FORBIDDEN,
        format!("only the campaign's GM and its players can read {what}"),
    )))
}

/// What a read of campaign `id`'s `what` answers, for its GM and players ([`may_read`]):
/// `read` of the store for the room, as JSON.
pub(super) async fn read_campaign<T: serde::Serialize, F>(
    state: &ApiState,
    id: &str,
    headers: &HeaderMap,
    what: &str,
    read: impl FnOnce(ChatStore, String) -> F,
) -> Response
where
    F: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let result = async {
        let caller = state.caller(headers)?;
        let room = campaign(state, id)?;
        let store = store(state)?;
        may_read(state, store, &room, &caller, what).await?;
        read(store.clone(), room.id.0.to_string())
            .await
            .map_err(|e| unavailable(&format!("reading {what}"), e))
    };
    match result.await {
        Ok(found) => axum::Json(found).into_response(),
        Err(r) => *r,
    }
}

/// `GET /api/campaigns/{room}/characters`: every sheet of the campaign.
pub async fn list_sheets(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    read_campaign(
        &state,
        &id,
        &headers,
        "its character sheets",
        |store, room| async move { store.sheets(&room).await },
    )
    .await
}

/// The account named in a sheet's path: a number, and a registered account; else 404.
async fn sheet_account(store: &ChatStore, account: &str) -> Result<i64, Box<Response>> {
    let id: i64 = account.parse().map_err(|_| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            format!(
                "`{account}` is not an account id (a number, as `gm_account` and the roster give)"
            ),
        ))
    })?;
    let name = store
        .account_name(id)
        .await
        .map_err(|e| unavailable("finding the account", e))?;
    match name {
        Some(_) => Ok(id),
        None => Err(Box::new(error(
            StatusCode::NOT_FOUND,
            format!("there is no account {id}"),
        ))),
    }
}

/// `GET /api/campaigns/{room}/characters/{account}`: that player's sheet.
pub async fn get_sheet(
    State(state): State<Arc<ApiState>>,
    Path((id, account)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let caller = state.caller(&headers)?;
        let room = campaign(&state, &id)?;
        let store = store(&state)?;
        may_read(&state, store, &room, &caller, "its character sheets").await?;
        let account = sheet_account(store, &account).await?;
        store
            .sheet(&room.id.0, account)
            .await
            .map_err(|e| unavailable("reading the sheet", e))?
            .ok_or_else(|| {
                Box::new(error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "account {account} has no character sheet in this campaign yet; PUT one with \"version\": 0"
                    ),
                ))
            })
    };
    match result.await {
        Ok(sheet) => axum::Json(sheet).into_response(),
        Err(r) => *r,
    }
}

/// `PUT /api/campaigns/{room}/characters/{account} {version, sheet}`: writes the sheet
/// if it is still at `version` (201 for a new one, 200 else); 409 with the current
/// sheet if not; 403 unless the caller is the GM or the sheet's player; 422 naming
/// the field out of range.
pub async fn put_sheet(
    State(state): State<Arc<ApiState>>,
    Path((id, account)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let result = async {
        let caller = state.caller(&headers)?;
        let room = campaign(&state, &id)?;
        let store = store(&state)?;
        let account = sheet_account(store, &account).await?;
        let Some(writer) = account_of(&caller.identity) else {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "guests have no character sheets; register an account (POST /api/accounts)",
            )));
        };
        if writer != account && !room.is_gm(&caller.identity) {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "only the GM can edit another player's character sheet",
            )));
        }
        let example = r#"{"version": 0, "sheet": {"name": "Ada", "class": "Fighter", "level": 1, "abilities": {"strength": 15, "dexterity": 14, "constitution": 13, "intelligence": 10, "wisdom": 12, "charisma": 8}, "hit_points": 12, "max_hit_points": 12, "armor_class": 16}}"#;
        let request: PutSheet = json_body(&headers, body, "sheet", example)?;
        if request.version < 0 {
            return Err(Box::new(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "version must be 0 (a new sheet) or more, not {}",
                    request.version
                ),
            )));
        }
        if let Err(e) = request.sheet.check() {
            return Err(Box::new(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("sheet.{e}"),
            )));
        }
        let written = store
            .put_sheet(&room.id.0, account, request.version, &request.sheet, writer)
            .await
            .map_err(|e| unavailable("saving the sheet", e))?;
        Ok(written.map(|sheet| (room.id, sheet)))
    };
    match result.await {
        Ok(Ok((room, sheet))) => {
            let status = if sheet.version == 1 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            tracing::info!(%room, account = sheet.account, version = sheet.version, by = sheet.updated_by, "character sheet saved");
            state.table_mail.post(TableMail::Sheet {
                room,
                sheet: sheet.clone(),
            });
            (status, axum::Json::<StoredSheet>(sheet)).into_response()
        }
        Ok(Err(StaleSheet(current))) => {
            let error = match &current {
                Some(c) => format!(
                    "the sheet changed since you read it (it is at version {}, saved by account {}); merge your edit into it and send that version",
                    c.version, c.updated_by
                ),
                None => "there is no sheet yet; write it with \"version\": 0".to_string(),
            };
            (
                StatusCode::CONFLICT,
                axum::Json(SheetConflict { error, current }),
            )
                .into_response()
        }
        Err(r) => *r,
    }
}

/// `DELETE /api/campaigns/{room}`: the GM closes the campaign for good: its players
/// are sent away, its sheets, bans and shared files deleted (a file another campaign
/// shares too stays).
pub async fn delete_campaign(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let caller = state.caller(&headers)?;
        let room = campaign(&state, &id)?;
        if !room.is_gm(&caller.identity) {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "only the campaign's GM can delete it",
            )));
        }
        let store = store(&state)?;
        let files = store
            .assets(&room.id.0)
            .await
            .map_err(|e| unavailable("deleting the campaign", e))?;
        store
            .delete_campaign(&room.id.0)
            .await
            .map_err(|e| unavailable("deleting the campaign", e))?;
        Ok((room.id, files))
    };
    match result.await {
        Ok((room, files)) => {
            super::campaign_files::forget_files(&state, files).await;
            let members = state
                .players
                .in_room(&room)
                .into_iter()
                .map(|(_, identity)| identity)
                .collect();
            state.rooms.remove(&room.0, members);
            state
                .table_mail
                .post(TableMail::Deleted { room: room.clone() });
            tracing::info!(%room, "campaign deleted");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => *r,
    }
}

/// A campaign room made from what the store keeps.
pub fn room_of(c: &crate::store::StoredCampaign) -> Room {
    let mut room = Room::new(
        RoomId::from(c.room.as_str()),
        c.name.clone(),
        c.map.clone(),
        c.max_players,
    );
    room.private = c.private;
    room.password = c.password_hash.clone();
    room.owner = Some(format!("account:{}", c.gm_account));
    room.banned = c.banned.iter().cloned().collect();
    room.campaign = Some(crate::rooms::directory::Campaign {
        gm_account: c.gm_account,
        gm_name: c.gm_name.clone(),
        status: c.status,
        scene: c.scene.clone(),
        turn_secs: c.turn_secs,
    });
    room
}
