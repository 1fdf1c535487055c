//! Logging in over the server's HTTP API to get a netcode connect token.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bevy_replicon_renet2::netcode::ConnectToken;
use tavern_shared::api::{ApiError, LoginRequest, LoginResponse};

use crate::http::{Request, send};

/// Why a login failed. `Refused` is final (the server said no); `Unreachable` may pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("`{0}` is not a server address; use the form http://host:port")]
    BadUrl(String),
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the server refused the login: {0}")]
    Refused(String),
    #[error("the server is busy: {0}")]
    Busy(String),
    #[error("the server sent a login answer this client cannot read: {0}")]
    BadAnswer(String),
}

impl LoginError {
    /// Whether trying again later could help.
    pub fn is_transient(&self) -> bool {
        matches!(self, LoginError::Unreachable { .. } | LoginError::Busy(_))
    }
}

/// A successful login: who we are and the token to connect with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: u64,
    pub name: String,
    pub token: ConnectToken,
    /// For the HTTP API (chat history).
    pub api_token: String,
    /// The guest session secret, to log in as the same player again.
    pub session: String,
    /// The room the token is for.
    pub room: String,
    /// The transport the token is for, and where to connect over it.
    pub transport: tavern_shared::api::Transport,
    pub address: String,
    /// WebTransport's self-signed certificate hash (hex), for the browser to check.
    pub cert_hash: Option<String>,
}

/// Checks and normalizes a server URL (`http://host:port`, no trailing slash).
pub fn normalize_url(url: &str) -> Result<String, LoginError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .ok_or_else(|| LoginError::BadUrl(url.to_string()))?;
    if rest.is_empty() || rest.contains('/') || rest.chars().any(char::is_whitespace) {
        return Err(LoginError::BadUrl(url.to_string()));
    }
    Ok(trimmed.to_string())
}

/// Logs in as a guest named `name` at the server's HTTP API; with the `session` a
/// previous login answered, as the same player (what it held comes back). Blocks
/// (tools and tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn login(url: &str, name: &str, session: Option<&str>) -> Result<Credentials, LoginError> {
    crate::http::wait(login_with(
        url,
        &LoginRequest {
            name: name.to_string(),
            session: session.map(str::to_string),
            password: None,
            room: None,
            room_password: None,
            transport: Default::default(),
            fallbacks: Vec::new(),
            look: None,
        },
    ))
}

/// Logs in with everything a login may carry: an account's password, a room to join
/// and its password.
pub async fn login_with(url: &str, request: &LoginRequest) -> Result<Credentials, LoginError> {
    let base = normalize_url(url)?;
    let answer: LoginResponse =
        api_call(Request::post(format!("{base}/api/login"), request)).await?;
    let bytes = STANDARD
        .decode(&answer.token)
        .map_err(|e| LoginError::BadAnswer(format!("token is not base64: {e}")))?;
    let token = ConnectToken::read(&mut bytes.as_slice())
        .map_err(|e| LoginError::BadAnswer(format!("token: {e}")))?;
    Ok(Credentials {
        client_id: answer.client_id,
        name: answer.name,
        token,
        api_token: answer.api_token,
        session: answer.session,
        room: answer.room,
        transport: answer.transport,
        address: answer.address,
        cert_hash: answer.cert_hash,
    })
}

/// An invitation: `tavern://HOST[:PORT]/room/ID` (the server `http://HOST:PORT` and the
/// room), or a bare room id (the server given elsewhere).
pub fn parse_invite(text: &str) -> Result<(Option<String>, String), String> {
    let text = text.trim();
    let valid_id = |id: &str| {
        (1..=40).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if let Some(rest) = text.strip_prefix("tavern://") {
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not an invitation like tavern://HOST/room/ID"))?;
        let id = path
            .strip_prefix("room/")
            .map(|id| id.trim_end_matches('/'))
            .filter(|id| valid_id(id))
            .ok_or_else(|| format!("`{text}` is not an invitation like tavern://HOST/room/ID"))?;
        let url = normalize_url(&format!("http://{host}")).map_err(|e| e.to_string())?;
        return Ok((Some(url), id.to_string()));
    }
    if valid_id(text) {
        Ok((None, text.to_string()))
    } else {
        Err(format!(
            "`{text}` is neither a room id (lowercase letters, digits and -) nor an invitation like tavern://HOST/room/ID"
        ))
    }
}

/// The server's public rooms (`GET /api/rooms`), busiest first.
pub async fn list_rooms(url: &str) -> Result<Vec<tavern_shared::api::RoomInfo>, LoginError> {
    let base = normalize_url(url)?;
    api_call(Request::get(format!("{base}/api/rooms"))).await
}

/// Makes a room owned by the player of `api_token`.
pub async fn create_room(
    url: &str,
    api_token: &str,
    room: &tavern_shared::api::CreateRoom,
) -> Result<tavern_shared::api::RoomInfo, LoginError> {
    let base = normalize_url(url)?;
    api_call(Request::post(format!("{base}/api/rooms"), room).bearer(Some(api_token))).await
}

/// Makes `n` public rooms on the server's default map for load tests, each owned by a
/// host player (`bots-host-K`, one per few rooms, within the server's rooms per
/// player); their ids. Blocks (tools and tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn make_rooms(url: &str, n: usize) -> Result<Vec<String>, LoginError> {
    let base = normalize_url(url)?;
    let mut ids = Vec::with_capacity(n);
    let mut host: Option<(String, String)> = None; // (api token, default map)
    let mut hosts = 0;
    while ids.len() < n {
        let (token, map) = match &host {
            Some(h) => h.clone(),
            None => {
                hosts += 1;
                let creds = login(url, &format!("bots-host-{hosts}"), None)?;
                let map = crate::http::wait(room_map(&base, &creds.room))?;
                let h = (creds.api_token, map);
                host = Some(h.clone());
                h
            }
        };
        let request = tavern_shared::api::CreateRoom {
            name: format!("Bots {}", ids.len() + 1),
            map,
            max_players: Some(tavern_shared::api::MAX_ROOM_PLAYERS),
            private: false,
            password: None,
            campaign: false,
            turn_time_limit: None,
        };
        match crate::http::wait(create_room(&base, &token, &request)) {
            Ok(room) => ids.push(room.id),
            // This host owns all it may: the next one makes the rest.
            Err(LoginError::Busy(_)) if host.is_some() => host = None,
            Err(e) => return Err(e),
        }
    }
    Ok(ids)
}

/// The map of room `id`, from the public list.
#[cfg(not(target_arch = "wasm32"))]
async fn room_map(base: &str, id: &str) -> Result<String, LoginError> {
    let rooms = list_rooms(base).await?;
    rooms
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.map)
        .ok_or_else(|| LoginError::BadAnswer(format!("room `{id}` is not in the room list")))
}

/// One API request, its JSON answer read as `T`; an error status comes back as the
/// error it means.
async fn api_call<T: serde::de::DeserializeOwned>(request: Request) -> Result<T, LoginError> {
    let endpoint = request.url.clone();
    let reply = send(request)
        .await
        .map_err(|reason| LoginError::Unreachable {
            url: endpoint.clone(),
            reason,
        })?;
    if !reply.ok() {
        return Err(answer_error(reply.status, &reply.text(), &endpoint));
    }
    serde_json::from_slice(&reply.body).map_err(|e| LoginError::BadAnswer(e.to_string()))
}

/// What an error answer of the API means for the client.
fn answer_error(status: u16, body: &str, url: &str) -> LoginError {
    let message = serde_json::from_str::<ApiError>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| format!("HTTP {status}: {body}"));
    if status == 429 {
        LoginError::Busy(message)
    } else if status >= 500 {
        LoginError::Unreachable {
            url: url.to_string(),
            reason: message,
        }
    } else {
        LoginError::Refused(message)
    }
}

/// The server's game content (`GET /api/content`): combat stats, abilities and the rest.
pub async fn fetch_content(url: &str) -> Result<tavern_shared::content::Content, String> {
    let base = normalize_url(url).map_err(|e| e.to_string())?;
    let reply = send(Request::get(format!("{base}/api/content")).limit(16 * 1024 * 1024))
        .await
        .map_err(|e| format!("cannot reach the server at {base}: {e}"))?;
    if !reply.ok() {
        return Err(format!("{base}/api/content answered HTTP {}", reply.status));
    }
    serde_json::from_slice(&reply.body)
        .map_err(|e| format!("{base}/api/content is not game content: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_and_room_ids_are_read() {
        assert_eq!(
            parse_invite("tavern://play.example.org:8080/room/k3j2m9x4q7ab"),
            Ok((
                Some("http://play.example.org:8080".to_string()),
                "k3j2m9x4q7ab".to_string()
            ))
        );
        assert_eq!(parse_invite("town"), Ok((None, "town".to_string())));
        for bad in [
            "tavern://host",
            "tavern://host/rooms/x",
            "Town Square",
            "tavern:///room/x",
        ] {
            assert!(parse_invite(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_urls_are_checked() {
        assert_eq!(
            normalize_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_url("127.0.0.1:8080").is_err());
        assert!(normalize_url("http://").is_err());
        assert!(normalize_url("http://host:1/path").is_err());
    }

    #[test]
    fn an_unreachable_server_is_a_transient_error() {
        // Port 9 on loopback (discard) is closed on a normal machine.
        let err = login("http://127.0.0.1:9", "Ada", None).unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    }
}
