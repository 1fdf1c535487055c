//! Rooms over HTTP: the public list, making a room, joining one (a connect token for
//! it), joining the fullest public room of a map or a new one, who is in a room, and
//! the owner sending a player away for good.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tavern_shared::api::{
    BanPlayer, CreateRoom, JoinOrCreate, JoinRoom, Joined, MAX_ROOM_PLAYERS, ROOM_PASSWORD_CHARS,
    RoomDetails, RoomInfo, Transport,
};
use tavern_shared::avatar::{Look, capitalized};
use tavern_shared::gm::encounter::{DEFAULT_TURN_SECS, TURN_SECS};
use tavern_shared::gm::{CampaignStatus, DEFAULT_CAMPAIGN_PLAYERS, MAX_CAMPAIGN_PLAYERS};

use super::limits::TOKEN_EXPIRE_SECS;
use super::{ApiState, error, json_body};
use crate::rooms::directory::Campaign;
use crate::rooms::{CreateRefusal, JoinRefusal, Room, RoomId, check_room_name};
use crate::store::StoredCampaign;

/// `GET /api/rooms`: the public rooms, busiest first.
pub async fn list_rooms(State(state): State<Arc<ApiState>>) -> Response {
    axum::Json(state.rooms.public()).into_response()
}

/// `POST /api/rooms`: a new room owned by the caller (201), empty until someone joins.
pub async fn create_room(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let caller = match state.caller(&headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let example = r#"{"name": "Ada's table", "map": "town", "max_players": 8} (a campaign: "campaign": true)"#;
    let request: CreateRoom = match json_body(&headers, body, "room", example) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if let Err(e) = check_room_name(&request.name) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, e);
    }
    if let Err(r) = known_map(&state, &request.map) {
        return *r;
    }
    let (max_players, most) = match (request.campaign, request.max_players) {
        (true, n) => (n.unwrap_or(DEFAULT_CAMPAIGN_PLAYERS), MAX_CAMPAIGN_PLAYERS),
        (false, Some(n)) => (n, MAX_ROOM_PLAYERS),
        (false, None) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("max_players: how many players the room holds, 1 to {MAX_ROOM_PLAYERS}"),
            );
        }
    };
    if !(1..=most).contains(&max_players) {
        let besides = if request.campaign {
            " besides the GM"
        } else {
            ""
        };
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("max_players must be 1 to {most}{besides}, not {max_players}"),
        );
    }
    let turn_secs = match (request.campaign, request.turn_time_limit) {
        (_, None) => DEFAULT_TURN_SECS,
        (true, Some(secs)) if TURN_SECS.contains(&secs) => secs,
        (true, Some(secs)) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "turn_time_limit must be {} to {} seconds, not {secs}",
                    TURN_SECS.start(),
                    TURN_SECS.end()
                ),
            );
        }
        (false, Some(_)) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "turn_time_limit is for campaign rooms (\"campaign\": true)",
            );
        }
    };
    // A campaign is kept for its GM: a registered account.
    let gm = match (
        request.campaign,
        super::campaigns::account_of(&caller.identity),
    ) {
        (false, _) => None,
        (true, Some(account)) => Some(account),
        (true, None) => {
            return error(
                StatusCode::FORBIDDEN,
                "a campaign's GM must be a registered account: register (POST /api/accounts) and log in with its password",
            );
        }
    };
    let password = match request.password {
        None => None,
        Some(p) if p.is_empty() || p.chars().count() > ROOM_PASSWORD_CHARS => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "a room password has 1 to {ROOM_PASSWORD_CHARS} characters; leave it out for a room without one"
                ),
            );
        }
        Some(p) => match super::accounts::hash(p).await {
            Ok(h) => Some(h),
            Err(r) => return r,
        },
    };
    let id = match fresh_id() {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let mut room = Room::new(
        id,
        request.name.trim().to_string(),
        request.map,
        max_players,
    );
    room.private = request.private;
    room.password = password;
    if let Some(gm_account) = gm {
        room.campaign = Some(Campaign {
            gm_account,
            gm_name: caller.name.clone(),
            status: CampaignStatus::Waiting,
            scene: Default::default(),
            turn_secs,
        });
    }
    let stored = room.clone();
    let info = match new_room(&state, room, &caller.identity) {
        Ok(info) => info,
        Err(r) => return *r,
    };
    if let Some(gm_account) = gm {
        let Some(store) = &state.store else {
            state.rooms.remove(&info.id, Vec::new());
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "this server keeps no database, so it cannot keep campaigns",
            );
        };
        let campaign = StoredCampaign {
            room: info.id.clone(),
            name: stored.name,
            map: stored.map,
            gm_account,
            gm_name: caller.name.clone(),
            max_players,
            private: stored.private,
            password_hash: stored.password,
            status: CampaignStatus::Waiting,
            scene: Default::default(),
            turn_secs,
            banned: Vec::new(),
        };
        if let Err(e) = store.create_campaign(&campaign).await {
            tracing::error!(room = %info.id, "cannot store a new campaign: {e}");
            state.rooms.remove(&info.id, Vec::new());
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the campaign cannot be saved right now; try again",
            );
        }
        tracing::info!(room = %info.id, gm = %caller.name, "campaign made");
    }
    (StatusCode::CREATED, axum::Json(info)).into_response()
}

/// `GET /api/rooms/{id}`: the room; who is in it for its members, and for anyone when
/// it has no password.
pub async fn room_details(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match state.caller(&headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Some(room) = state.rooms.get(&id) else {
        return error(StatusCode::NOT_FOUND, JoinRefusal::NoSuchRoom.to_string());
    };
    let players = state.players.in_room(&room.id);
    let member = players
        .iter()
        .any(|(_, identity)| *identity == caller.identity);
    let shown =
        (member || room.password.is_none()).then(|| players.into_iter().map(|(p, _)| p).collect());
    axum::Json(RoomDetails {
        room: room.info(),
        players: shown,
    })
    .into_response()
}

/// `POST /api/rooms/{id}/join {password?}`: a connect token for the room, or why not
/// (404 no such room, 401 wrong password, 403 banned, 409 full).
pub async fn join_room(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let caller = match state.caller(&headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    // An empty body joins a room without a password.
    let request: JoinRoom = match &body {
        Ok(b) if b.is_empty() => JoinRoom::default(),
        _ => match json_body(&headers, body, "join", r#"{"password": "..."}"#) {
            Ok(r) => r,
            Err(e) => return *e,
        },
    };
    let entry = match Entry::asked(request.transport, &request.fallbacks, request.look) {
        Ok(entry) => entry,
        Err(r) => return *r,
    };
    let client_id = state.next_client_id();
    match enter(
        &state,
        peer,
        &id,
        request.password,
        &caller.name,
        &caller.identity,
        client_id,
        &entry,
    )
    .await
    {
        Ok(joined) => axum::Json(joined).into_response(),
        Err(r) => r,
    }
}

/// `POST /api/rooms/join-or-create {map}`: the fullest public room on the map with a
/// place left, else a new one the caller owns.
pub async fn join_or_create(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let caller = match state.caller(&headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let request: JoinOrCreate = match json_body(&headers, body, "join", r#"{"map": "town"}"#) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if let Err(r) = known_map(&state, &request.map) {
        return *r;
    }
    let entry = match Entry::asked(request.transport, &request.fallbacks, request.look) {
        Ok(entry) => entry,
        Err(r) => return *r,
    };
    let client_id = state.next_client_id();
    // Two tries: a room found full in between (others joined) sends us to a new one.
    for _ in 0..2 {
        let id = match state.rooms.fullest_open(&request.map, &caller.identity) {
            Some(id) => id,
            None => {
                let id = match fresh_id() {
                    Ok(id) => id,
                    Err(r) => return *r,
                };
                let room = Room::new(
                    id.clone(),
                    format!("{} {}", capitalized(&request.map), &id.0[..4]),
                    request.map.clone(),
                    MAX_ROOM_PLAYERS,
                );
                if let Err(r) = new_room(&state, room, &caller.identity) {
                    return *r;
                }
                id
            }
        };
        match enter(
            &state,
            peer,
            &id.0,
            None,
            &caller.name,
            &caller.identity,
            client_id,
            &entry,
        )
        .await
        {
            Ok(joined) => return axum::Json(joined).into_response(),
            Err(r) if r.status() == StatusCode::CONFLICT => continue,
            Err(r) => return r,
        }
    }
    error(
        StatusCode::CONFLICT,
        "every room on this map filled up while joining; try again",
    )
}

/// A 422 unless `map` is one of the server's maps.
fn known_map(state: &ApiState, map: &str) -> Result<(), Box<Response>> {
    if state.map_names.iter().any(|m| m == map) {
        return Ok(());
    }
    Err(Box::new(error(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "map `{map}` is not one of this server's maps ({})",
            state.map_names.join(", ")
        ),
    )))
}

/// A new room's id (random), or the 503 to answer.
fn fresh_id() -> Result<RoomId, Box<Response>> {
    RoomId::random().map_err(|e| {
        tracing::error!("no random bytes for a room id: {e}");
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server cannot make rooms right now",
        ))
    })
}

/// Adds `room`, owned by `owner`, or the answer saying why not: 503 when the server
/// holds all the rooms it may, 429 when the owner does.
fn new_room(state: &ApiState, mut room: Room, owner: &str) -> Result<RoomInfo, Box<Response>> {
    super::admin::refuse_if_draining(&state.draining)?;
    room.owner = Some(owner.to_string());
    let settings = &state.room_settings;
    let info = state
        .rooms
        .create(room, settings.max_rooms, settings.per_player)
        .map_err(|refusal| {
            let status = match refusal {
                CreateRefusal::ServerFull(_) => StatusCode::SERVICE_UNAVAILABLE,
                CreateRefusal::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            };
            Box::new(error(status, refusal.to_string()))
        })?;
    tracing::info!(room = %info.id, name = %info.name, map = %info.map, %owner, "room made");
    Ok(info)
}

/// Longest reason a ban keeps, in characters.
const BAN_REASON_CHARS: usize = 200;

/// `POST /api/rooms/{id}/ban {client_id, reason?}`: the room's owner sends that player out of the
/// room, for good (it is disconnected, and cannot join again).
pub async fn ban(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let caller = match state.caller(&headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let request: BanPlayer = match json_body(&headers, body, "ban", r#"{"client_id": 17}"#) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let Some(room) = state.rooms.get(&id) else {
        return error(StatusCode::NOT_FOUND, JoinRefusal::NoSuchRoom.to_string());
    };
    if room.owner.as_deref() != Some(caller.identity.as_str()) {
        return error(
            StatusCode::FORBIDDEN,
            "only the room's owner (a campaign's GM) can ban players from it",
        );
    }
    let Some(identity) = state
        .players
        .in_room(&room.id)
        .into_iter()
        .find(|(p, _)| p.client_id == request.client_id)
        .map(|(_, identity)| identity)
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no player {} is in this room", request.client_id),
        );
    };
    if identity == caller.identity {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "you cannot ban yourself from your own room",
        );
    }
    let reason = request.reason.unwrap_or_default();
    if reason.chars().count() > BAN_REASON_CHARS || reason.chars().any(char::is_control) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reason: at most {BAN_REASON_CHARS} characters, no control characters"),
        );
    }
    // A campaign keeps its bans: stored before the player is sent away.
    if room.campaign.is_some() {
        let Some(store) = &state.store else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "this server keeps no database",
            );
        };
        if let Err(e) = store
            .ban_from_campaign(&room.id.0, &identity, &reason)
            .await
        {
            tracing::error!(room = %room.id, "cannot store a ban: {e}");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the ban cannot be saved right now; try again",
            );
        }
    }
    state.rooms.ban(&room.id.0, &identity);
    tracing::info!(room = %room.id, %identity, %reason, "player banned from the room");
    StatusCode::NO_CONTENT.into_response()
}

/// How a player comes in: over which transport (the first of these the server
/// offers), and looking how.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub transports: Vec<Transport>,
    pub look: Look,
}

impl Entry {
    /// The entry a login or join body asks for (look 0 when it names none); 422 naming
    /// the looks when `look` is none of them, answered before anything else is done.
    pub fn asked(
        transport: Transport,
        fallbacks: &[Transport],
        look: Option<u8>,
    ) -> Result<Entry, Box<Response>> {
        let look = Look::new(look.unwrap_or(0))
            .map_err(|e| Box::new(error(StatusCode::UNPROCESSABLE_ENTITY, e)))?;
        let transports = std::iter::once(transport)
            .chain(fallbacks.iter().copied())
            .collect();
        Ok(Entry { transports, look })
    }
}

/// Lets `name` (`identity`) into room `id` with connection `client_id`: checks the
/// password, holds a place and mints the connect token (what a join answers); or the
/// answer saying why not.
pub(super) async fn enter(
    state: &ApiState,
    peer: SocketAddr,
    id: &str,
    password: Option<String>,
    name: &str,
    identity: &str,
    client_id: u64,
    entry: &Entry,
) -> Result<Joined, Response> {
    super::admin::refuse_if_draining(&state.draining).map_err(|r| *r)?;
    let Entry { transports, look } = entry;
    state.offered(transports).map_err(|e| *e)?;
    let Some(room) = state.rooms.get(id) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            JoinRefusal::NoSuchRoom.to_string(),
        ));
    };
    if let Some(hash) = room.password.clone() {
        let key = format!("room:{id}");
        if let Some(wait) = state.password_failures.wait(peer.ip(), &key) {
            return Err(super::too_many(
                "too many wrong passwords for this room or from this address; wait a minute",
                wait,
            ));
        }
        let Some(given) = password else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "this room has a password; send it as `password`",
            ));
        };
        if !super::accounts::verify_hash(hash, given).await? {
            state.password_failures.failed(peer.ip(), &key);
            return Err(error(StatusCode::UNAUTHORIZED, "wrong room password"));
        }
    }
    // Whispers go by name: one name is one player in a room.
    if state
        .players
        .called(id, name)
        .iter()
        .any(|holder| holder != identity)
    {
        return Err(super::accounts::name_in_use(name));
    }
    if let Err(refusal) = state.token_caps.take(peer.ip(), name) {
        state.metrics.logins_refused.inc();
        return Err(super::too_many(refusal.message, refusal.retry_after));
    }
    let until = Instant::now() + Duration::from_secs(TOKEN_EXPIRE_SECS);
    let info = state
        .rooms
        .reserve(id, identity, client_id, until)
        .map_err(|refusal| {
            let status = match refusal {
                JoinRefusal::NoSuchRoom => StatusCode::NOT_FOUND,
                JoinRefusal::Full { .. } => StatusCode::CONFLICT,
                JoinRefusal::Banned => StatusCode::FORBIDDEN,
            };
            error(status, refusal.to_string())
        })?;
    let (token, listener) = state
        .connect_token(client_id, name, identity, &room.id, transports, *look)
        .map_err(|e| *e)?;
    Ok(Joined {
        room: info,
        client_id,
        token,
        transport: listener.transport,
        address: listener.address.clone(),
        cert_hash: listener.cert_hash.clone(),
    })
}
