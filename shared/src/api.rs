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
    /// The room to join (its id); the server's default room (the town) when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The password of `room`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_password: Option<String>,
    /// How the client will connect: the connect token is made for that transport.
    #[serde(default)]
    pub transport: Transport,
    /// Transports the client can use instead, best first, when this server does not
    /// offer `transport` (a browser asks for WebTransport, else a WebSocket).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Transport>,
    /// The avatar's look ([`crate::avatar::LOOKS`]), 0 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<u8>,
}

/// How a game client reaches the server: a connect token is for one of them.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Netcode over UDP (the desktop client, bots).
    #[default]
    Udp,
    /// Netcode over a WebSocket (browsers; `--ws` on the server).
    WebSocket,
    /// Netcode over WebTransport's datagrams (browsers that have it; `--webtransport`
    /// on the server): unreliable like UDP, so a lost packet does not hold up the rest.
    WebTransport,
}

impl Transport {
    /// Its name in the API and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::WebSocket => "websocket",
            Transport::WebTransport => "webtransport",
        }
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "udp" => Ok(Transport::Udp),
            "websocket" | "ws" => Ok(Transport::WebSocket),
            "webtransport" | "wt" => Ok(Transport::WebTransport),
            other => Err(format!(
                "unknown transport `{other}`: use `udp`, `websocket` or `webtransport`"
            )),
        }
    }
}

/// Where a client connects over one transport, as the login answer tells it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TransportOffer {
    pub transport: Transport,
    /// `host:port` for UDP, `ws://host:port` for a WebSocket, `https://host:port` for
    /// WebTransport.
    pub address: String,
    /// For WebTransport with the server's own (self-signed) certificate: the SHA-256 of
    /// the certificate, hex, which the browser checks instead of a certificate
    /// authority (`serverCertificateHashes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_hash: Option<String>,
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
    /// The room the connect token is for.
    #[serde(default)]
    pub room: String,
    /// The transport the connect token is for, and where to connect with it.
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub address: String,
    /// The certificate hash to check, for WebTransport (see [`TransportOffer::cert_hash`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_hash: Option<String>,
    /// Every transport this server accepts (log in again asking for another).
    #[serde(default)]
    pub transports: Vec<TransportOffer>,
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
    #[serde(default)]
    pub status: PlayerStatus,
}

/// Whether a player is at the keyboard, away, or dropped and expected back.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum PlayerStatus {
    #[default]
    Online,
    /// No input for [`AWAY_AFTER_SECS`].
    Away,
    /// The connection dropped; the avatar waits for the player to come back.
    Reconnecting,
}

/// Seconds without input after which a player shows as away.
pub const AWAY_AFTER_SECS: u64 = 300;

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

/// Whether a room takes more players.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RoomStatus {
    Open,
    Full,
}

/// One room in `GET /api/rooms` (and in the answers about one room).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// What invite links (`tavern://HOST/room/ID`) and `--room` carry.
    pub id: String,
    pub name: String,
    /// The map players arrive on.
    pub map: String,
    pub players: u32,
    pub max_players: u32,
    pub has_password: bool,
    /// Not listed: joined by id only.
    pub private: bool,
    /// One of the server's own rooms, open while empty.
    pub persistent: bool,
    pub status: RoomStatus,
    /// For a campaign room: its GM and where the session stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<crate::gm::CampaignInfo>,
}

/// `POST /api/rooms` body: a new room, owned by whoever makes it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    pub name: String,
    /// The map players arrive on, by name.
    pub map: String,
    /// 1 to [`MAX_ROOM_PLAYERS`]; for a campaign, players besides the GM, 1 to
    /// [`crate::gm::MAX_CAMPAIGN_PLAYERS`] ([`crate::gm::DEFAULT_CAMPAIGN_PLAYERS`] when
    /// left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_players: Option<u32>,
    #[serde(default)]
    pub private: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A campaign room: its maker (a registered account) is the game master, and it is
    /// kept (with its status, bans and character sheets) until deleted.
    #[serde(default)]
    pub campaign: bool,
    /// A campaign's encounter turn time limit in seconds
    /// ([`crate::gm::encounter::TURN_SECS`], default
    /// [`crate::gm::encounter::DEFAULT_TURN_SECS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_time_limit: Option<u32>,
}

/// Most players a room made over the API may hold.
pub const MAX_ROOM_PLAYERS: u32 = 100;
/// Longest room name and room password, in characters.
pub const ROOM_NAME_CHARS: usize = 40;
pub const ROOM_PASSWORD_CHARS: usize = 128;

/// `POST /api/rooms/{id}/join` body.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct JoinRoom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The transport the connect token is for (UDP unless given).
    #[serde(default)]
    pub transport: Transport,
    /// Transports to use instead, best first, as at login.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Transport>,
    /// The avatar's look, as at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<u8>,
}

/// `POST /api/rooms/join-or-create` body: the fullest public room on `map` with a place
/// left, or a new one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JoinOrCreate {
    pub map: String,
    /// The transport the connect token is for (UDP unless given).
    #[serde(default)]
    pub transport: Transport,
    /// Transports to use instead, best first, as at login.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Transport>,
    /// The avatar's look, as at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<u8>,
}

/// What joining a room answers: a connect token for it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub room: RoomInfo,
    /// The netcode client id of this connection; its avatar carries the same id.
    pub client_id: u64,
    /// A netcode connect token for the room, base64.
    pub token: String,
    /// Where to connect with it (see [`LoginResponse::address`]).
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_hash: Option<String>,
}

/// One player in `GET /api/rooms/{id}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RoomPlayer {
    pub client_id: u64,
    pub name: String,
    /// The map of the room the player is on.
    pub map: String,
    pub status: PlayerStatus,
}

/// `GET /api/rooms/{id}` answer: the room and who is in it (shown to its members, and
/// to anyone for a room without a password).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RoomDetails {
    pub room: RoomInfo,
    /// `None` when the caller may not see who is inside.
    pub players: Option<Vec<RoomPlayer>>,
}

/// `POST /api/rooms/{id}/ban` body: the owner sends a player (by client id) out of the
/// room for good.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BanPlayer {
    pub client_id: u64,
    /// Why, kept with a campaign's ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_have_one_name_in_json_and_on_the_command_line() {
        for t in [
            Transport::Udp,
            Transport::WebSocket,
            Transport::WebTransport,
        ] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
            assert_eq!(serde_json::from_str::<Transport>(&json).unwrap(), t);
            assert_eq!(t.name().parse::<Transport>(), Ok(t));
        }
        assert_eq!(" WS ".parse::<Transport>(), Ok(Transport::WebSocket));
        assert_eq!("wt".parse::<Transport>(), Ok(Transport::WebTransport));
        assert!("tcp".parse::<Transport>().unwrap_err().contains("`tcp`"));
        // A login without a transport asks for UDP, as before.
        let old: LoginRequest = serde_json::from_str(r#"{"name": "Ada"}"#).unwrap();
        assert_eq!(old.transport, Transport::Udp);
    }
}
