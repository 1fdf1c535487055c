//! The HTTP API's JSON bodies, shared so client and server cannot disagree on them.

use serde::{Deserialize, Serialize};

/// `POST /api/login` body.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub name: String,
    /// The guest session secret a previous login answered, to be recognised as the same
    /// player (what it holds comes back); a new session is made without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// A registered account's password: logs in as that account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /api/login` answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LoginResponse {
    /// The player's netcode client id; its avatar carries the same id.
    pub client_id: u64,
    pub name: String,
    /// A netcode connect token, base64.
    pub token: String,
    /// For the HTTP API (chat history): send as `Authorization: Bearer TOKEN`.
    pub api_token: String,
    /// The guest session secret: send it with the next login to come back as the same
    /// player. Keep it private.
    #[serde(default)]
    pub session: String,
    /// The account logged in to, for a password login (or its session); `None` for a
    /// guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<i64>,
    /// When an account's session ends (milliseconds since the Unix epoch): log in with
    /// the password again after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
}

/// `POST /api/accounts` body: register `name` with `password` (8 to 128 characters).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccountRequest {
    pub name: String,
    pub password: String,
}

/// `POST /api/accounts` answer (201).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AccountCreated {
    pub id: i64,
    pub name: String,
}

/// `POST /api/logout` body: the account session to end.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub session: String,
}

/// Shortest and longest passwords, in characters.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;

/// Body of every API error.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub error: String,
}

/// One player in `GET /api/players`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PlayerInfo {
    pub client_id: u64,
    pub name: String,
    /// The map the player is on.
    pub map: String,
    /// Position in map pixels.
    pub x: f32,
    pub y: f32,
    /// Last input the server applied.
    pub last_input: u32,
}

/// One entry of a map's combat event log (`GET /api/events/{map}`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CombatLogEntry {
    /// Numbers the map's events from 1, in the order they happened.
    pub seq: i64,
    /// When, in milliseconds since the Unix epoch, and on which server tick.
    pub at_ms: i64,
    pub tick: i64,
    /// `damage`, `death`, `drop`, `pickup`, `phase`, `cleared`, `door` or `chest`.
    pub kind: String,
    /// Who did it and to whom: a player's identity (`guest:17`) or a monster
    /// (`slime#42`); empty when there is none.
    pub actor: String,
    pub target: String,
    /// Damage done, or how many were dropped or picked up.
    pub amount: i64,
    /// Where it happened, in map pixels.
    pub x: f64,
    pub y: f64,
    /// The rest: `crit`, the item, the phase's name, who was credited.
    pub detail: String,
}
