//! The admin API, on when the server has `--admin-token`: every request carries it as
//! `Authorization: Bearer TOKEN` (compared in constant time). Lists of nodes, rooms and
//! players; a player sent away with a reason; a system message to a room or everyone.
//! `tavern-server admin ...` calls it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiState, error, json_body};
use crate::admin::{AdminMail, Draining};
use crate::store::bans::{ServerBan, ban_now};

/// Longest reason or message, in characters.
const MAX_TEXT: usize = 500;

/// Equal byte strings, compared in time that depends only on their lengths.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the bearer token: 404 when the admin API is off, 401 without the right one.
fn authorize(state: &ApiState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(token) = &state.admin_token else {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "the admin API is off (start the server with --admin-token or TAVERN_ADMIN_TOKEN)",
        )));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same_secret(given.trim().as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(Box::new(unauthorized("the admin token is wrong"))),
        None => Err(Box::new(unauthorized(
            "send the admin token as `Authorization: Bearer TOKEN`",
        ))),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"tavern-admin\""),
    );
    response
}

/// An admin request's JSON body, once the token is checked; or the answer saying why
/// not.
fn admin_body<T: serde::de::DeserializeOwned>(
    state: &ApiState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    what: &str,
    example: &str,
) -> Result<T, Box<Response>> {
    authorize(state, headers)?;
    json_body(headers, body, what, example)
}

/// A text an admin sends: at most [`MAX_TEXT`] characters, no control characters.
fn check_text(what: &str, text: &str, empty_ok: bool) -> Result<(), Box<Response>> {
    let bad = (!empty_ok && text.trim().is_empty())
        || text.chars().count() > MAX_TEXT
        || text.chars().any(char::is_control);
    if bad {
        let empty = if empty_ok { "" } else { "not empty, " };
        return Err(Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what}: {empty}at most {MAX_TEXT} characters, no control characters"),
        )));
    }
    Ok(())
}

/// A player as the admin sees it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AdminPlayer {
    pub client_id: u64,
    pub name: String,
    /// The account's name, or the guest's session.
    pub identity: String,
    pub room: String,
    pub map: String,
    pub x: f32,
    pub y: f32,
    pub status: tavern_shared::api::PlayerStatus,
}

/// `GET /api/admin/players`: everyone on this server, with room and identity.
pub async fn players(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return *r;
    }
    let list: Vec<AdminPlayer> = state
        .players
        .everyone()
        .into_iter()
        .map(|(p, room, identity)| AdminPlayer {
            client_id: p.client_id,
            name: p.name,
            identity,
            room: room.0.to_string(),
            map: p.map,
            x: p.x,
            y: p.y,
            status: p.status,
        })
        .collect();
    axum::Json(list).into_response()
}

/// `GET /api/admin/rooms`: every room, private ones too.
pub async fn rooms(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return *r;
    }
    axum::Json(state.rooms.all()).into_response()
}

/// `GET /api/admin/nodes`: the server nodes: every live one in Redis (`--redis-url`),
/// else this one.
pub async fn nodes(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return *r;
    }
    let Some(fleet) = &state.fleet else {
        let transports = crate::fleet::transports(&state);
        return axum::Json(json!([{
            "id": "local",
            "players": state.players.len(),
            "rooms": state.rooms.len(),
            "draining": state.draining.is_on(),
            "transports": transports,
        }]))
        .into_response();
    };
    match fleet.nodes().await {
        Ok(nodes) => axum::Json(nodes).into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Redis does not answer, so the other nodes are unknown: {e}"),
        ),
    }
}

#[derive(Deserialize)]
struct Kick {
    client_id: u64,
    #[serde(default)]
    reason: String,
}

/// A kick's or ban's request, checked: authorized, the reason fit to show, the player
/// on this server (with its identity); or the answer saying why not.
fn player_request(
    state: &ApiState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    what: &str,
) -> Result<(Kick, (tavern_shared::api::PlayerInfo, String)), Box<Response>> {
    let example = r#"{"client_id": 17, "reason": "spamming the well"}"#;
    let request: Kick = admin_body(state, headers, body, what, example)?;
    check_text("reason", &request.reason, true)?;
    let found = state
        .players
        .everyone()
        .into_iter()
        .find(|(p, _, _)| p.client_id == request.client_id)
        .map(|(p, _, identity)| (p, identity));
    match found {
        Some(found) => Ok((request, found)),
        None => Err(Box::new(error(
            StatusCode::NOT_FOUND,
            format!("no player {} is on this server", request.client_id),
        ))),
    }
}

/// `POST /api/admin/kick {client_id, reason?}`: the player is sent away, told the
/// reason (202: the game does it on its next frame); 404 when nobody has that id.
pub async fn kick(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let (request, _) = match player_request(&state, &headers, body, "kick") {
        Ok(found) => found,
        Err(r) => return *r,
    };
    tracing::info!(client_id = request.client_id, reason = %request.reason, "admin kick");
    let why = if request.reason.is_empty() {
        "an admin sent you away".to_string()
    } else {
        format!("an admin sent you away: {}", request.reason)
    };
    state.admin_mail.post(AdminMail::Kick {
        client_id: request.client_id,
        why,
    });
    StatusCode::ACCEPTED.into_response()
}

#[derive(Deserialize)]
struct Broadcast {
    text: String,
    #[serde(default)]
    room: Option<String>,
}

/// `POST /api/admin/broadcast {text, room?}`: a system message to the players of a
/// room (404 when there is no such room), or to everyone (202).
pub async fn broadcast(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let example = r#"{"text": "Restarting in 5 minutes", "room": "town"}"#;
    let request: Broadcast = match admin_body(&state, &headers, body, "broadcast", example) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if let Err(r) = check_text("text", &request.text, false) {
        return *r;
    }
    if let Some(room) = &request.room
        && state.rooms.get(room).is_none()
    {
        return error(StatusCode::NOT_FOUND, format!("there is no room `{room}`"));
    }
    state.admin_mail.post(AdminMail::Broadcast {
        room: request.room,
        text: request.text,
    });
    StatusCode::ACCEPTED.into_response()
}

#[derive(Deserialize)]
struct Drain {
    /// Seconds until the server stops anyway.
    #[serde(default = "default_deadline")]
    deadline_secs: u64,
    #[serde(default)]
    message: Option<String>,
}

fn default_deadline() -> u64 {
    300
}

/// Longest drain, in seconds (a day).
const MAX_DEADLINE_SECS: u64 = 86_400;

/// `POST /api/admin/drain {deadline_secs?, message?}`: the server takes no new players
/// or rooms (logins and joins are answered 503, `/healthz` says `draining`), tells
/// everyone `message` (by default that it is closing and they may rejoin), and stops
/// once the last player has left or after `deadline_secs` (default 300), exiting 0.
pub async fn drain(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let example = r#"{"deadline_secs": 300, "message": "Moving to a new server: log in again"}"#;
    let request: Drain = match admin_body(&state, &headers, body, "drain", example) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if request.deadline_secs > MAX_DEADLINE_SECS {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("deadline_secs: at most {MAX_DEADLINE_SECS}"),
        );
    }
    let message = request.message.unwrap_or_else(|| {
        "This server is closing for maintenance: log in again to carry on elsewhere".into()
    });
    if let Err(r) = check_text("message", &message, false) {
        return *r;
    }
    let deadline = std::time::Duration::from_secs(request.deadline_secs);
    state.draining.start(deadline);
    tracing::warn!(
        deadline_secs = request.deadline_secs,
        players = state.players.len(),
        "draining: no new players; stopping when empty or at the deadline"
    );
    state.admin_mail.post(AdminMail::Broadcast {
        room: None,
        text: message,
    });
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"players": state.players.len(), "deadline_secs": request.deadline_secs})),
    )
        .into_response()
}

/// The answer to a login, join or new room while the server drains.
pub fn refuse_if_draining(draining: &Draining) -> Result<(), Box<Response>> {
    if draining.is_on() {
        return Err(Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server is closing: it takes no new players (try again shortly)",
        )));
    }
    Ok(())
}

/// What a banned player is told.
fn banned(reason: &str) -> String {
    if reason.is_empty() {
        "you are banned from this server".to_string()
    } else {
        format!("you are banned from this server: {reason}")
    }
}

/// Who is banned from the server, by identity (read from the database at start).
#[derive(Debug, Clone, Default)]
pub struct Bans(Arc<std::sync::RwLock<std::collections::BTreeMap<String, ServerBan>>>);

impl Bans {
    pub fn new(bans: Vec<ServerBan>) -> Self {
        Bans(Arc::new(std::sync::RwLock::new(
            bans.into_iter().map(|b| (b.identity.clone(), b)).collect(),
        )))
    }

    fn map(&self) -> std::sync::RwLockReadGuard<'_, std::collections::BTreeMap<String, ServerBan>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn change(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, std::collections::BTreeMap<String, ServerBan>> {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// 403 with the reason when `identity` is banned.
    pub fn refuse(&self, identity: &str) -> Result<(), Box<Response>> {
        match self.map().get(identity) {
            Some(ban) => Err(Box::new(error(StatusCode::FORBIDDEN, banned(&ban.reason)))),
            None => Ok(()),
        }
    }
}

/// `POST /api/admin/ban {client_id, reason?}`: bans the player's identity (its account,
/// or its guest session) from the server, stored before anything else, and sends it
/// away with the reason (202); its logins are then refused (403, with the reason).
pub async fn ban(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let (request, (player, identity)) = match player_request(&state, &headers, body, "ban") {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let ban = ban_now(&identity, &player.name, &request.reason);
    if let Some(store) = &state.store
        && let Err(e) = store.ban_from_server(&ban).await
    {
        tracing::error!(%identity, "cannot store a ban: {e}");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the ban cannot be saved right now; try again",
        );
    }
    state.bans.change().insert(identity.clone(), ban);
    tracing::info!(%identity, name = %player.name, reason = %request.reason, "banned from the server");
    state.admin_mail.post(AdminMail::Kick {
        client_id: request.client_id,
        why: banned(&request.reason),
    });
    StatusCode::ACCEPTED.into_response()
}

/// `GET /api/admin/bans`: every ban, oldest first.
pub async fn list_bans(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return *r;
    }
    let mut bans: Vec<ServerBan> = state.bans.map().values().cloned().collect();
    bans.sort_by_key(|b| b.banned_at_ms);
    axum::Json(bans).into_response()
}

/// `DELETE /api/admin/bans/{identity}`: lifts a ban (204), 404 when there is none.
pub async fn unban(
    State(state): State<Arc<ApiState>>,
    Path(identity): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return *r;
    }
    if !state.bans.map().contains_key(&identity) {
        return error(StatusCode::NOT_FOUND, format!("`{identity}` is not banned"));
    }
    if let Some(store) = &state.store
        && let Err(e) = store.unban_from_server(&identity).await
    {
        tracing::error!(%identity, "cannot lift a ban: {e}");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the ban cannot be lifted right now; try again",
        );
    }
    state.bans.change().remove(&identity);
    tracing::info!(%identity, "ban lifted");
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3creT"));
        assert!(!same_secret(b"s3cret", b"s3cre"));
        assert!(!same_secret(b"", b"x"));
    }
}
