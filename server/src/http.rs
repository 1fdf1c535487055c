//! The HTTP API: guest login that mints netcode connect tokens (and an API token), the
//! player list, chat history, and a health check.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bevy_replicon_renet2::netcode::{ConnectToken, NETCODE_USER_DATA_BYTES};
use serde_json::json;
use tavern_shared::api::{LoginRequest, LoginResponse};
use tavern_shared::avatar::validate_name;
use tavern_shared::protocol::PROTOCOL_ID;

use crate::keys::NetcodeKey;
use crate::players::PlayerDirectory;
use crate::store::ChatStore;

/// Largest login body accepted, in bytes.
const MAX_BODY: usize = 4096;
/// How long a connect token may wait before it is used.
const TOKEN_EXPIRE_SECS: u64 = 120;
/// Seconds without packets before netcode drops a connection.
const CONNECTION_TIMEOUT_SECS: i32 = 10;

/// What the HTTP handlers share with the game.
#[derive(Debug)]
pub struct ApiState {
    pub key: NetcodeKey,
    /// The UDP address clients are told to connect to.
    pub public_addr: SocketAddr,
    next_client_id: AtomicU64,
    /// Players connected right now, kept up to date by the game.
    pub players: PlayerDirectory,
    /// API tokens handed out at login, and whose they are.
    tokens: Mutex<HashMap<String, String>>,
    /// Chat history, when the server keeps it.
    pub store: Option<ChatStore>,
}

impl ApiState {
    pub fn new(key: NetcodeKey, public_addr: SocketAddr, players: PlayerDirectory) -> Self {
        // Start client ids at a random point so ids from an earlier run are not reused.
        let seed: [u8; 8] = bevy_replicon_renet2::netcode::generate_random_bytes();
        let start = u64::from_le_bytes(seed) >> 16;
        ApiState {
            key,
            public_addr,
            next_client_id: AtomicU64::new(start.max(1)),
            players,
            tokens: Mutex::new(HashMap::new()),
            store: None,
        }
    }

    /// Who presented `headers`' bearer token, or the error to answer with.
    fn caller(&self, headers: &HeaderMap) -> Result<String, Box<Response>> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Box::new(error(
                    StatusCode::UNAUTHORIZED,
                    "send the api_token from POST /api/login as `Authorization: Bearer TOKEN`",
                ))
            })?;
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.get(token.trim()).cloned().ok_or_else(|| {
            Box::new(error(
                StatusCode::UNAUTHORIZED,
                "unknown API token; log in again with POST /api/login",
            ))
        })
    }
}

/// Query of `GET /api/chat/sessions/{id}/messages`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    before: Option<i64>,
    limit: Option<i64>,
}

/// The API's routes.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/players", get(list_players))
        .route("/api/chat/sessions", get(chat_sessions))
        .route("/api/chat/sessions/{id}/messages", get(chat_messages))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint; the API has POST /api/login, GET /api/players, GET /api/chat/sessions, GET /api/chat/sessions/{id}/messages and GET /healthz",
    )
}

async fn healthz(State(state): State<Arc<ApiState>>) -> Response {
    axum::Json(json!({
        "status": "ok",
        "players": state.players.len(),
    }))
    .into_response()
}

async fn list_players(State(state): State<Arc<ApiState>>) -> Response {
    axum::Json(state.players.list()).into_response()
}

async fn chat_sessions(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let user = match state.caller(&headers) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let Some(store) = &state.store else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server keeps no chat history",
        );
    };
    match store.sessions(&user).await {
        Ok(list) => axum::Json(list).into_response(),
        Err(e) => {
            tracing::error!("chat sessions for {user}: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the chat history cannot be read right now",
            )
        }
    }
}

async fn chat_messages(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let user = match state.caller(&headers) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let Ok(Query(page)) = page else {
        return error(
            StatusCode::BAD_REQUEST,
            "the query may have `before` (a message id) and `limit` (1 to 200), both integers",
        );
    };
    if page.limit.is_some_and(|l| !(1..=200).contains(&l)) {
        return error(StatusCode::BAD_REQUEST, "`limit` must be between 1 and 200");
    }
    let Some(store) = &state.store else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server keeps no chat history",
        );
    };
    match store
        .messages(id, &user, page.before, page.limit.unwrap_or(50))
        .await
    {
        Ok(Some(lines)) => axum::Json(lines).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no chat session {id} of yours"),
        ),
        Err(e) => {
            tracing::error!("chat messages of session {id} for {user}: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the chat history cannot be read right now",
            )
        }
    }
}

/// Packs a display name into netcode user data: a length byte, then UTF-8.
pub fn name_to_user_data(name: &str) -> [u8; NETCODE_USER_DATA_BYTES] {
    let mut data = [0u8; NETCODE_USER_DATA_BYTES];
    let bytes = name.as_bytes();
    let len = bytes.len().min(NETCODE_USER_DATA_BYTES - 1);
    data[0] = len as u8;
    data[1..=len].copy_from_slice(&bytes[..len]);
    data
}

/// Reads the display name back out of netcode user data.
pub fn name_from_user_data(data: &[u8; NETCODE_USER_DATA_BYTES]) -> Option<String> {
    let len = data[0] as usize;
    let name = std::str::from_utf8(data.get(1..=len)?).ok()?;
    validate_name(name).ok()?;
    Some(name.to_string())
}

async fn login(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !ct.to_str().unwrap_or("").starts_with("application/json")
    {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the login as JSON (Content-Type: application/json), e.g. {\"name\": \"Ada\"}",
        );
    }
    if body.len() > MAX_BODY {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the login body is {} bytes; at most {MAX_BODY}", body.len()),
        );
    }
    let request: LoginRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the login body must be JSON like {{\"name\": \"Ada\"}}: {e}"),
            );
        }
    };
    if let Err(e) = validate_name(&request.name) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid name: {e}"),
        );
    }
    let client_id = state.next_client_id.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let token = ConnectToken::generate(
        now,
        PROTOCOL_ID,
        TOKEN_EXPIRE_SECS,
        client_id,
        CONNECTION_TIMEOUT_SECS,
        0,
        vec![state.public_addr],
        Some(&name_to_user_data(&request.name)),
        &state.key,
    );
    let mut bytes = Vec::new();
    match token.map(|t| t.write(&mut bytes)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("token: {e}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("token: {e}")),
    }
    tracing::info!(client_id, name = %request.name, "guest login");
    let api_token = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(bevy_replicon_renet2::netcode::generate_random_bytes::<32>());
    state
        .tokens
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(api_token.clone(), request.name.clone());
    axum::Json(LoginResponse {
        client_id,
        name: request.name,
        token: STANDARD.encode(bytes),
        api_token,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_survive_the_trip_through_user_data() {
        for name in ["Ada", "Zoë the Bard 🎻", &"x".repeat(24)] {
            assert_eq!(
                name_from_user_data(&name_to_user_data(name)).as_deref(),
                Some(name)
            );
        }
        let mut bad = name_to_user_data("Ada");
        bad[0] = 0;
        assert_eq!(name_from_user_data(&bad), None, "empty names are refused");
    }
}
