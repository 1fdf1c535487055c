//! Registered accounts over HTTP: `POST /api/accounts` registers a name with a
//! password (hashed with argon2id, off the async threads), a login with the password
//! (or with a live session token) is that account, and `POST /api/logout` ends a
//! session. Failed password logins are limited per name and per address; a guest
//! cannot take a registered name, in any case or Unicode form, nor the name of someone
//! else playing right now.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tavern_shared::api::{
    AccountCreated, AccountRequest, LoginRequest, LogoutRequest, PASSWORD_CHARS,
};
use tavern_shared::avatar::name_key;

use super::{ApiState, check_name, error, json_body, too_many};
use crate::store::{Account, ChatStore};

/// Who a login is: the identity things are kept under, the name shown, and what to
/// send back to log in again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// `account:7`, `guest:12`, or `client:ID` without a store.
    pub identity: String,
    pub name: String,
    pub session: String,
    pub account: Option<i64>,
    pub expires_at_ms: Option<i64>,
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!("accounts: {e}");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server cannot log anyone in right now; try again shortly",
    )
}

/// An argon2id hash (default parameters: 19 MiB, 2 passes) of `password`, made on
/// this thread (about 30 ms).
pub(crate) fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

/// [`hash_password`] off the async threads.
pub(super) async fn hash(password: String) -> Result<String, Response> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)
}

/// Whether `password` is the one `account` was registered with. Without an account a
/// made-up hash is checked, so an unknown name takes as long as a wrong password.
async fn verify(account: Option<&Account>, password: String) -> Result<bool, Response> {
    static NOBODY: OnceLock<String> = OnceLock::new();
    let known = account.is_some();
    let stored = match account {
        Some(a) => a.password_hash.clone(),
        None => match NOBODY.get() {
            Some(h) => h.clone(),
            None => {
                let h = hash("not anybody's password".into()).await?;
                NOBODY.get_or_init(|| h).clone()
            }
        },
    };
    Ok(verify_hash(stored, password).await? && known)
}

/// Whether `password` matches the argon2 hash `stored` (checked off the async threads).
pub(super) async fn verify_hash(stored: String, password: String) -> Result<bool, Response> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(unavailable)
}

fn check_password(password: &str) -> Result<(), Box<Response>> {
    let n = password.chars().count();
    if PASSWORD_CHARS.contains(&n) {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "a password has {} to {} characters, not {n}",
                PASSWORD_CHARS.start(),
                PASSWORD_CHARS.end()
            ),
        )))
    }
}

fn store(state: &ApiState) -> Result<&ChatStore, Box<Response>> {
    state.store.as_ref().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server keeps no database, so it has no accounts",
        ))
    })
}

/// `POST /api/accounts {name, password}`: 201 with the account, 409 if the name is
/// registered already (in any case or form).
pub async fn create_account(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let request: AccountRequest = match json_body(
        &headers,
        body,
        "account",
        r#"{"name": "Ada", "password": "correct horse"}"#,
    ) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if let Err(e) = check_name(&request.name) {
        return *e;
    }
    if let Err(e) = check_password(&request.password) {
        return *e;
    }
    let store = match store(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    let hashed = match hash(request.password).await {
        Ok(h) => h,
        Err(e) => return e,
    };
    match store.create_account(&request.name, &hashed).await {
        Ok(Ok(id)) => {
            tracing::info!(id, name = %request.name, "account registered");
            (
                StatusCode::CREATED,
                axum::Json(AccountCreated {
                    id,
                    name: request.name,
                }),
            )
                .into_response()
        }
        Ok(Err(_)) => error(
            StatusCode::CONFLICT,
            format!(
                "the name `{}` is registered already (names are compared without case)",
                request.name
            ),
        ),
        Err(e) => unavailable(e),
    }
}

/// `POST /api/logout {session}`: 204, or 401 for a session that is not live.
pub async fn logout(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let request: LogoutRequest = match json_body(&headers, body, "logout", r#"{"session": "..."}"#)
    {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let store = match store(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    match store.close_account_session(request.session.trim()).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(
            StatusCode::UNAUTHORIZED,
            "no such session: it expired, was logged out, or was never issued",
        ),
        Err(e) => unavailable(e),
    }
}

/// Who `request` logs in as: the account whose password it gives (failures limited per
/// name and address), the account whose live session it carries, else a guest (its own
/// session, or a new one), which may not use a registered name nor the name of someone
/// else playing in `room`, the room it is joining.
pub async fn who_logs_in(
    state: &ApiState,
    peer: SocketAddr,
    request: &LoginRequest,
    room: &str,
    client_id: u64,
) -> Result<Who, Response> {
    let Some(store) = &state.store else {
        if request.password.is_some() {
            return Err(*store(state).unwrap_err());
        }
        if !state.players.called(room, &request.name).is_empty() {
            return Err(name_in_use(&request.name));
        }
        return Ok(Who {
            identity: format!("client:{client_id}"),
            name: request.name.clone(),
            session: String::new(),
            account: None,
            expires_at_ms: None,
        });
    };
    let key = name_key(&request.name);
    if let Some(password) = &request.password {
        if let Some(wait) = state.password_failures.wait(peer.ip(), &key) {
            return Err(too_many(
                "too many wrong passwords for this name or from this address; wait a minute",
                wait,
            ));
        }
        let account = store
            .account_named(&request.name)
            .await
            .map_err(unavailable)?;
        if !verify(account.as_ref(), password.clone()).await? {
            state.password_failures.failed(peer.ip(), &key);
            return Err(error(StatusCode::UNAUTHORIZED, "wrong name or password"));
        }
        let account = account.expect("verified, so it exists");
        let session = store
            .open_account_session(&account, state.limits.session_ttl)
            .await
            .map_err(unavailable)?;
        return Ok(account_login(session));
    }
    if let Some(token) = &request.session
        && let Some(session) = store
            .account_session(token.trim())
            .await
            .map_err(unavailable)?
        && name_key(&session.name) == key
    {
        return Ok(account_login(session));
    }
    if store
        .account_named(&request.name)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        return Err(error(
            StatusCode::CONFLICT,
            format!(
                "`{}` is a registered name; log in with its password, or pick another name",
                request.name
            ),
        ));
    }
    // Two guests with one name in a room would be told apart by nobody (whispers go by
    // name): a name someone else is playing under there is refused. A guest coming back
    // with its own session may take its name again.
    let holders = state.players.called(room, &request.name);
    if !holders.is_empty() && request.session.is_none() {
        return Err(name_in_use(&request.name));
    }
    let (id, secret) = store
        .guest(request.session.as_deref())
        .await
        .map_err(unavailable)?;
    if holders.iter().any(|h| *h != format!("guest:{id}")) {
        return Err(name_in_use(&request.name));
    }
    Ok(Who {
        identity: format!("guest:{id}"),
        name: request.name.clone(),
        session: secret,
        account: None,
        expires_at_ms: None,
    })
}

pub(super) fn name_in_use(name: &str) -> Response {
    error(
        StatusCode::CONFLICT,
        format!("someone called `{name}` is playing in this room right now; pick another name"),
    )
}

fn account_login(session: crate::store::AccountSession) -> Who {
    Who {
        identity: format!("account:{}", session.account),
        name: session.name,
        session: session.token,
        account: Some(session.account),
        expires_at_ms: Some(session.expires_at_ms),
    }
}
