//! Logging in over the server's HTTP API to get a netcode connect token.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bevy_replicon_renet2::netcode::ConnectToken;
use tavern_shared::api::{ApiError, LoginRequest, LoginResponse};

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

/// An HTTP client for the server's API: 5 s at most per request, and error statuses
/// answered (their JSON says what was wrong) rather than raised.
fn api_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// Logs in as a guest named `name` at the server's HTTP API; with the `session` a
/// previous login answered, as the same player (what it held comes back).
pub fn login(url: &str, name: &str, session: Option<&str>) -> Result<Credentials, LoginError> {
    let base = normalize_url(url)?;
    let endpoint = format!("{base}/api/login");
    let mut response = api_agent()
        .post(&endpoint)
        .send_json(LoginRequest {
            name: name.to_string(),
            session: session.map(str::to_string),
            password: None,
        })
        .map_err(|e| LoginError::Unreachable {
            url: base.clone(),
            reason: e.to_string(),
        })?;
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| LoginError::BadAnswer(e.to_string()))?;
    if !status.is_success() {
        let message = serde_json::from_str::<ApiError>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("HTTP {status}: {body}"));
        return Err(if status.as_u16() == 429 {
            LoginError::Busy(message)
        } else if status.is_server_error() {
            LoginError::Unreachable {
                url: base,
                reason: message,
            }
        } else {
            LoginError::Refused(message)
        });
    }
    let answer: LoginResponse =
        serde_json::from_str(&body).map_err(|e| LoginError::BadAnswer(e.to_string()))?;
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
    })
}

/// The server's game content (`GET /api/content`): combat stats, abilities and the rest.
pub fn fetch_content(url: &str) -> Result<tavern_shared::content::Content, String> {
    let base = normalize_url(url).map_err(|e| e.to_string())?;
    let mut response = api_agent()
        .get(format!("{base}/api/content"))
        .call()
        .map_err(|e| format!("cannot reach the server at {base}: {e}"))?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("cannot read {base}/api/content: {e}"))?;
    if !status.is_success() {
        return Err(format!("{base}/api/content answered HTTP {status}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{base}/api/content is not game content: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
