//! The HTTP API: guest login that mints netcode connect tokens (and an API token), the
//! player list, chat history, and a health check. Every answer that is an error,
//! including those of the layers in front (limits, timeouts), is JSON `{"error": ...}`.

pub(crate) mod accounts;
pub mod admin;
pub mod campaign_files;
pub mod campaigns;
pub mod limits;
mod rooms;
pub mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bevy_replicon_renet2::netcode::{ConnectToken, NETCODE_USER_DATA_BYTES};
use serde_json::json;
use tavern_shared::api::{LoginRequest, LoginResponse, Transport, TransportOffer};
use tavern_shared::avatar::{Look, validate_name};
use tavern_shared::protocol::PROTOCOL_ID;
use tower::ServiceBuilder;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::PeerIpKeyExtractor;

use crate::keys::NetcodeKey;
use crate::metrics::Metrics;
use crate::net::Listener;
use crate::net::guard::PacketStats;
use crate::players::PlayerDirectory;
use crate::store::ChatStore;
use governor::middleware::NoOpMiddleware;
use limits::{ApiTokens, HttpLimits, PasswordFailures, TOKEN_EXPIRE_SECS, TokenCaps};

/// Largest request body accepted, in bytes (refused before it is read further).
pub const MAX_BODY: usize = 4096;
/// Seconds without packets before netcode drops a connection.
const CONNECTION_TIMEOUT_SECS: i32 = 10;

/// What the HTTP handlers share with the game.
#[derive(Debug)]
pub struct ApiState {
    pub key: NetcodeKey,
    /// The sockets clients may connect to, in the order of the netcode server's (a
    /// connect token names its socket by this index).
    pub transports: Vec<Listener>,
    next_client_id: AtomicU64,
    /// Players connected right now, kept up to date by the game.
    pub players: PlayerDirectory,
    /// API tokens handed out at login, and whose they are.
    pub tokens: ApiTokens,
    /// Login requests per address (the route's rate limit).
    login_rate: Option<Arc<GovernorConfig<PeerIpKeyExtractor, NoOpMiddleware>>>,
    /// Live connect tokens per address and per name.
    pub token_caps: TokenCaps,
    /// Wrong passwords of the last minute, per name and per address.
    pub password_failures: PasswordFailures,
    pub limits: HttpLimits,
    /// What the UDP gate dropped.
    pub packets: Arc<PacketStats>,
    /// Everything `/metrics` shows, shared with the game thread.
    pub metrics: Metrics,
    /// Chat history, when the server keeps it.
    pub store: Option<ChatStore>,
    /// Game content, served read-only.
    pub content: Option<crate::content::ContentHandle>,
    /// Every room, shared with the game.
    pub rooms: crate::rooms::RoomDirectory,
    pub room_settings: crate::rooms::RoomSettings,
    /// The maps rooms may be made on.
    pub map_names: Vec<String>,
    /// The images loaded maps reference (`GET /assets/HASH/NAME`).
    pub assets: crate::assets::ServedAssets,
    /// The folder served at `/` (the web client), if any.
    pub web_root: Option<std::path::PathBuf>,
    /// Where campaign changes go to the game.
    pub table_mail: crate::gm::TableMailbox,
    /// Files campaigns' GMs shared (`None`: the server keeps none).
    pub asset_files: Option<crate::gm::files::AssetFiles>,
    /// The admin API's bearer token (`None`: the API is off).
    pub admin_token: Option<String>,
    /// Where admins' orders go to the game.
    pub admin_mail: crate::admin::AdminMailbox,
    /// Set when an admin drains the server.
    pub draining: crate::admin::Draining,
    /// Who is banned from the server (kept in the database too).
    pub bans: admin::Bans,
    /// This node's place among several (`--redis-url`).
    pub fleet: Option<crate::fleet::Fleet>,
}

impl ApiState {
    pub fn new(
        key: NetcodeKey,
        transports: Vec<Listener>,
        players: PlayerDirectory,
        limits: HttpLimits,
    ) -> Self {
        // Start client ids at a random point so ids from an earlier run are not reused.
        let seed: [u8; 8] = bevy_replicon_renet2::netcode::generate_random_bytes();
        let start = u64::from_le_bytes(seed) >> 16;
        let metrics = Metrics::default();
        ApiState {
            key,
            transports,
            next_client_id: AtomicU64::new(start.max(1)),
            players,
            tokens: ApiTokens::new(&limits),
            login_rate: GovernorConfigBuilder::default()
                .period(Duration::from_secs(60) / limits.logins_per_minute.max(1))
                .burst_size(limits.login_burst.max(1))
                .finish()
                .map(Arc::new),
            token_caps: TokenCaps::new(&limits),
            password_failures: PasswordFailures::new(&limits),
            limits,
            packets: Arc::new(PacketStats::new(&metrics)),
            metrics,
            store: None,
            content: None,
            rooms: crate::rooms::RoomDirectory::default(),
            room_settings: crate::rooms::RoomSettings::default(),
            map_names: Vec::new(),
            assets: crate::assets::ServedAssets::default(),
            web_root: None,
            table_mail: crate::gm::TableMailbox::default(),
            admin_token: None,
            admin_mail: crate::admin::AdminMailbox::default(),
            draining: crate::admin::Draining::default(),
            bans: admin::Bans::default(),
            fleet: None,
            asset_files: None,
        }
    }

    /// A client id never handed out before in this run.
    fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Every transport offered now, with where to connect over it.
    pub fn offers(&self) -> Vec<TransportOffer> {
        let now = SystemTime::now();
        self.transports
            .iter()
            .filter(|l| l.is_live(now))
            .map(Listener::offer)
            .collect()
    }

    /// The first of `wanted` this server offers now: its socket's index and how it is
    /// reached; 400 naming what is offered if none.
    pub fn offered(&self, wanted: &[Transport]) -> Result<(usize, &Listener), Box<Response>> {
        let now = SystemTime::now();
        wanted
            .iter()
            .find_map(|&transport| {
                self.transports
                    .iter()
                    .position(|l| l.transport == transport && l.is_live(now))
                    .map(|i| (i, &self.transports[i]))
            })
            .ok_or_else(|| {
                let offered: Vec<&str> = self
                    .transports
                    .iter()
                    .filter(|l| l.is_live(now))
                    .map(|l| l.transport.name())
                    .collect();
                let asked: Vec<&str> = wanted.iter().map(|t| t.name()).collect();
                Box::new(error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "this server does not accept {} connections (it offers {}); \
                         a WebSocket needs the server started with --ws, WebTransport \
                         with --webtransport",
                        asked.join(" or "),
                        offered.join(", ")
                    ),
                ))
            })
    }

    /// A netcode connect token (base64) for `client_id` playing as `name` (`identity`)
    /// in `room`, over the first of `transports` offered, and the socket it is for;
    /// 400 if this server offers none of them.
    fn connect_token(
        &self,
        client_id: u64,
        name: &str,
        identity: &str,
        room: &crate::rooms::RoomId,
        transports: &[Transport],
        look: Look,
    ) -> Result<(String, &Listener), Box<Response>> {
        let (socket, listener) = self.offered(transports)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let token = ConnectToken::generate(
            now,
            PROTOCOL_ID,
            TOKEN_EXPIRE_SECS,
            client_id,
            CONNECTION_TIMEOUT_SECS,
            socket as u8,
            vec![listener.token_addr],
            Some(&to_user_data(&Ticket {
                name: name.to_string(),
                identity: identity.to_string(),
                room: room.0.to_string(),
                look,
            })),
            &self.key,
        )
        .map_err(|e| {
            Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("token: {e}"),
            ))
        })?;
        let mut bytes = Vec::new();
        token.write(&mut bytes).map_err(|e| {
            Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("token: {e}"),
            ))
        })?;
        Ok((STANDARD.encode(bytes), listener))
    }

    /// Who presented `headers`' bearer token, or the error to answer with.
    fn caller(&self, headers: &HeaderMap) -> Result<limits::TokenOwner, Box<Response>> {
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
        self.tokens.owner(token.trim()).ok_or_else(|| {
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

/// The API's routes behind their limits: a per-address rate on login, a body limit,
/// a request timeout and a cap on requests in flight; errors from any of them are JSON.
pub fn router(state: Arc<ApiState>) -> Router {
    let limits = state.limits.clone();
    // Logging in and registering share one rate per address.
    let (login_route, accounts_route) = match &state.login_rate {
        Some(config) => {
            let layer = GovernorLayer::new(config.clone()).error_handler(rate_limited);
            (
                post(login).layer(layer.clone()),
                post(accounts::create_account).layer(layer),
            )
        }
        None => (post(login), post(accounts::create_account)),
    };
    let web_root = state.web_root.clone();
    let routes = Router::new()
        .route("/api/login", login_route)
        .route("/api/accounts", accounts_route)
        .route("/api/logout", post(accounts::logout))
        .route(
            "/api/rooms",
            get(rooms::list_rooms).post(rooms::create_room),
        )
        .route("/api/rooms/join-or-create", post(rooms::join_or_create))
        .route("/api/rooms/{id}", get(rooms::room_details))
        .route("/api/rooms/{id}/join", post(rooms::join_room))
        .route("/api/rooms/{id}/ban", post(rooms::ban))
        .route("/api/campaigns/{id}", delete(campaigns::delete_campaign))
        .route(
            "/api/campaigns/{id}/characters",
            get(campaigns::list_sheets),
        )
        .route(
            "/api/campaigns/{id}/characters/{account}",
            get(campaigns::get_sheet).put(campaigns::put_sheet),
        )
        .route("/api/players", get(list_players))
        .route("/api/admin/players", get(admin::players))
        .route("/api/admin/rooms", get(admin::rooms))
        .route("/api/admin/nodes", get(admin::nodes))
        .route("/api/admin/kick", post(admin::kick))
        .route("/api/admin/broadcast", post(admin::broadcast))
        .route("/api/admin/drain", post(admin::drain))
        .route("/api/admin/ban", post(admin::ban))
        .route("/api/admin/bans", get(admin::list_bans))
        .route("/api/admin/bans/{identity}", delete(admin::unban))
        .route("/api/chat/sessions", get(chat_sessions))
        .route("/api/chat/sessions/{id}/messages", get(chat_messages))
        .route("/api/events/{map}", get(default_room_events))
        .route("/api/rooms/{id}/events/{map}", get(combat_events))
        .route("/api/content", get(all_content))
        .route("/api/content/{kind}/{id}", get(one_content))
        .route("/assets/{hash}/{name}", get(serve_asset))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // Refuses a declared length over the limit before reading any of the body, and
        // stops reading a body without one once it passes the limit.
        .route_layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        // Uploads have their own, larger limit (checked by the handler).
        .route(
            "/api/campaigns/{id}/assets",
            post(campaign_files::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    (limits.max_asset_bytes + campaign_files::MULTIPART_OVERHEAD) as usize,
                ))
                .get(campaign_files::list),
        );
    // Everything else is the web client's files when there are any.
    let routes = match web_root {
        Some(root) => routes.fallback_service(
            ServiceBuilder::new()
                .layer(tower_http::compression::CompressionLayer::new())
                // The files may change with every build: browsers check them again
                // (Last-Modified) instead of keeping a stale copy.
                .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                ))
                .service(
                    tower_http::services::ServeDir::new(root)
                        .precompressed_br()
                        .precompressed_gzip(),
                ),
        ),
        None => routes.fallback(not_found),
    };
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            count_request,
        ))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::map_response(json_errors))
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(limits.max_requests.max(1))
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    limits.request_timeout,
                )),
        )
}

/// Starts the periodic clean-up of the login limits' memory (addresses and names back
/// at their full allowance are forgotten); call inside the runtime.
pub fn spawn_upkeep(state: Arc<ApiState>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        loop {
            every.tick().await;
            if let Some(rate) = &state.login_rate {
                rate.limiter().retain_recent();
                rate.limiter().shrink_to_fit();
            }
            state.token_caps.forget_idle();
            state.tokens.run_pending_tasks();
        }
    });
}

/// `GET /api/content`: every content table, with an ETag; `If-None-Match` with it
/// answers 304.
async fn all_content(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let Some(served) = state.content.as_ref().map(|c| c.current()) else {
        return error(StatusCode::NOT_FOUND, "this server has no content loaded");
    };
    let etag = HeaderValue::from_str(&served.etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim() == served.etag || t.trim() == "*")
        });
    if cached {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        served.json.clone(),
    )
        .into_response()
}

/// `GET /api/content/{kind}/{id}`: one entry; 404 naming what is unknown.
async fn one_content(
    State(state): State<Arc<ApiState>>,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    use tavern_shared::content::{ContentKind, KINDS};
    let Some(served) = state.content.as_ref().map(|c| c.current()) else {
        return error(StatusCode::NOT_FOUND, "this server has no content loaded");
    };
    let Some(kind) = ContentKind::from_url_name(&kind) else {
        let kinds: Vec<&str> = KINDS.iter().map(|k| k.url_name()).collect();
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no content kind `{kind}`; the kinds are {}",
                kinds.join(", ")
            ),
        );
    };
    match served.content.entry_json(kind, &id) {
        Some(entry) => axum::Json(entry).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!(
                "no {} `{id}` (there: {})",
                kind.noun(),
                served.content.ids(kind).join(", ")
            ),
        ),
    }
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// A 429 with `Retry-After` in whole seconds (at least 1).
fn too_many(message: impl Into<String>, retry_after: Duration) -> Response {
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

fn rate_limited(e: tower_governor::GovernorError) -> Response {
    match e {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => too_many(
            format!("too many login requests from your address; wait {wait_time} s"),
            Duration::from_secs(wait_time),
        ),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

async fn overloaded(e: tower::BoxError) -> Response {
    if e.is::<tower::load_shed::error::Overloaded>() {
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is handling too many requests; try again",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
        response
    } else {
        error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

/// Turns every error answer that is not JSON yet (axum's rejections, timeouts) into
/// `{"error": ...}` with the original text, keeping status and headers.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match (text.is_empty(), status) {
        (_, StatusCode::PAYLOAD_TOO_LARGE) => {
            format!("the request body is larger than {MAX_BODY} bytes")
        }
        (true, StatusCode::REQUEST_TIMEOUT) => {
            "the request took too long; send it whole and at once".into()
        }
        (false, _) => text,
        (true, s) => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let body = serde_json::to_vec(&json!({ "error": message })).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint (the API is under /api, see the README's HTTP API table; this server serves no web client: --web-root)",
    )
}

/// `{"status": "ok", "players"}`, or 503 with `"status": "draining"` while the server
/// closes (load balancers stop sending players to it).
async fn healthz(State(state): State<Arc<ApiState>>) -> Response {
    let draining = state.draining.is_on();
    let status = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        axum::Json(json!({
            "status": if draining { "draining" } else { "ok" },
            "players": state.players.len(),
        })),
    )
        .into_response()
}

/// Prometheus text format.
async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let (ips, names) = state.token_caps.remembered();
    let m = &state.metrics;
    m.api_tokens.set(state.tokens.len() as i64);
    m.login_limit_keys
        .with_label_values(&["address"])
        .set(ips as i64);
    m.login_limit_keys
        .with_label_values(&["name"])
        .set(names as i64);
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        m.render(),
    )
        .into_response()
}

/// Counts every answer by its route (the pattern, not the path: ids stay out of the
/// labels) and status.
async fn count_request(
    State(metrics): State<Metrics>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let response = next.run(request).await;
    metrics
        .http_requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}

/// Query of `GET /api/events/{map}`.
#[derive(Debug, serde::Deserialize)]
pub struct EventsPage {
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

/// Most events in one page.
pub const MAX_EVENTS_PAGE: i64 = 500;

/// `GET /api/events/{map}?after=SEQ&limit=N`: the map's combat events after `after`, in
/// order (for logged-in players).
/// `GET /api/events/{map}`: the events of the default room's copy of `map`.
async fn default_room_events(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(map): Path<String>,
    page: Result<Query<EventsPage>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let room = state
        .rooms
        .default_room()
        .map(|r| r.0.to_string())
        .unwrap_or_default();
    combat_events(State(state), headers, Path((room, map)), page).await
}

/// `GET /api/rooms/{id}/events/{map}`: the event log of room `id`'s copy of `map`.
async fn combat_events(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((room, map)): Path<(String, String)>,
    page: Result<Query<EventsPage>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = state.caller(&headers) {
        return *r;
    }
    let Some(room) = state.rooms.get(&room) else {
        return error(
            StatusCode::NOT_FOUND,
            crate::rooms::JoinRefusal::NoSuchRoom.to_string(),
        );
    };
    let key = crate::world::log_key(&room.id, &map);
    let Query(page) = match page {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("after and limit must be whole numbers: {e}"),
            );
        }
    };
    let limit = page.limit.unwrap_or(100);
    if !(1..=MAX_EVENTS_PAGE).contains(&limit) || page.after < 0 {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be 1 to {MAX_EVENTS_PAGE} and after 0 or more"),
        );
    }
    let Some(store) = &state.store else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server keeps no event log",
        );
    };
    match store.events(&key, page.after, limit).await {
        Ok(events) => axum::Json(events).into_response(),
        Err(e) => {
            tracing::error!("combat events of {map}: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event log cannot be read right now",
            )
        }
    }
}

/// The players the caller could see in the game (the same `can_see` rule): on its map,
/// and in a private zone only when it is in the same one; nothing when it is not in
/// the game.
async fn list_players(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    match state.caller(&headers) {
        Ok(caller) => axum::Json(state.players.visible_to(&caller.identity)).into_response(),
        Err(r) => *r,
    }
}

async fn chat_sessions(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    // Conversations are kept under the caller's identity, never its display name.
    let user = match state.caller(&headers) {
        Ok(u) => u.identity,
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
    // Conversations are kept under the caller's identity, never its display name.
    let user = match state.caller(&headers) {
        Ok(u) => u.identity,
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

/// What a connect token says about its player: the display name, the identity
/// (`guest:17`, `account:3`), the room it joins and its avatar's look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub name: String,
    pub identity: String,
    pub room: String,
    pub look: Look,
}

/// Packs a ticket into netcode user data: each part a length byte, then UTF-8 (names
/// have at most 120 bytes, identities and room ids about 40, so the three fit), then
/// the look's byte.
pub fn to_user_data(ticket: &Ticket) -> [u8; NETCODE_USER_DATA_BYTES] {
    let mut data = [0u8; NETCODE_USER_DATA_BYTES];
    let mut at = 0;
    for part in [&ticket.name, &ticket.identity, &ticket.room] {
        let bytes = part.as_bytes();
        // Room is kept for the look's byte.
        let len = bytes.len().min(120).min(NETCODE_USER_DATA_BYTES - at - 2);
        data[at] = len as u8;
        data[at + 1..at + 1 + len].copy_from_slice(&bytes[..len]);
        at += 1 + len;
    }
    data[at] = ticket.look.0;
    data
}

/// Reads a ticket back out of netcode user data; `None` if it is not a valid one.
pub fn from_user_data(data: &[u8; NETCODE_USER_DATA_BYTES]) -> Option<Ticket> {
    let mut parts = Vec::with_capacity(3);
    let mut at = 0;
    for _ in 0..3 {
        let len = *data.get(at)? as usize;
        let part = std::str::from_utf8(data.get(at + 1..at + 1 + len)?).ok()?;
        parts.push(part.to_string());
        at += 1 + len;
    }
    let [name, identity, room]: [String; 3] = parts.try_into().ok()?;
    validate_name(&name).ok()?;
    if identity.is_empty() || !crate::rooms::RoomId::is_valid(&room) {
        return None;
    }
    let look = Look::new(*data.get(at)?).ok()?;
    Some(Ticket {
        name,
        identity,
        room,
        look,
    })
}

/// A display name as logins and accounts accept it, or the 422 to answer.
fn check_name(name: &str) -> Result<(), Box<Response>> {
    validate_name(name).map_err(|e| {
        Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid name: {e}"),
        ))
    })
}

/// A JSON request body of type `T`, or the error to answer: not JSON, too large, or
/// not the shape of `example` (`what` names the request in the message).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    what: &str,
    example: &str,
) -> Result<T, Box<Response>> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !ct.to_str().unwrap_or("").starts_with("application/json")
    {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the {what} as JSON (Content-Type: application/json), e.g. {example}"),
        )));
    }
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Box::new(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the {what} body is larger than {MAX_BODY} bytes"),
            )));
        }
        Err(e) => return Err(Box::new(error(e.status(), e.body_text()))),
    };
    serde_json::from_slice(&body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("the {what} body must be JSON like {example}: {e}"),
        ))
    })
}

/// `GET /assets/HASH/NAME`: an image a loaded map references, or a file a campaign's GM
/// shared, by its content's hash.
/// The hash names the content, so the answer may be cached for ever; nothing else on
/// disk is reachable (the hash is looked up, never used as a path).
async fn serve_asset(
    State(state): State<Arc<ApiState>>,
    Path((hash, _name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let file = match state.assets.get(&hash) {
        Some(file) => (file.content_type.to_string(), Bytes::from_owner(file.bytes)),
        None => match &state.asset_files {
            Some(files) => match files.read(&hash).await {
                Some((content_type, bytes)) => (content_type, Bytes::from(bytes)),
                None => return no_such_asset(),
            },
            None => return no_such_asset(),
        },
    };
    let etag = format!("\"{hash}\"");
    let cached = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            "public, max-age=31536000, immutable".to_string(),
        ),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, cached).into_response();
    }
    ([(header::CONTENT_TYPE, file.0)], cached, file.1).into_response()
}

fn no_such_asset() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such asset: neither the maps loaded now nor a campaign's shared files have it",
    )
}

async fn login(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let request: LoginRequest = match json_body(&headers, body, "login", r#"{"name": "Ada"}"#) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if let Err(refused) = admin::refuse_if_draining(&state.draining) {
        return *refused;
    }
    if let Err(e) = check_name(&request.name) {
        return *e;
    }
    let entry = match rooms::Entry::asked(request.transport, &request.fallbacks, request.look) {
        Ok(entry) => entry,
        Err(e) => return *e,
    };
    let client_id = state.next_client_id();
    let Some(room) = request
        .room
        .clone()
        .or_else(|| state.rooms.default_room().map(|r| r.0.to_string()))
    else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no room to join",
        );
    };
    // The player's identity: an account, or a guest session kept in the database.
    let who = match accounts::who_logs_in(&state, peer, &request, &room, client_id).await {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    if let Err(refused) = state.bans.refuse(&who.identity) {
        return *refused;
    }
    let joined = match rooms::enter(
        &state,
        peer,
        &room,
        request.room_password.clone(),
        &who.name,
        &who.identity,
        client_id,
        &entry,
    )
    .await
    {
        Ok(joined) => joined,
        Err(refused) => {
            if refused.status() == StatusCode::TOO_MANY_REQUESTS {
                tracing::debug!(%peer, name = %who.name, "login refused: too many tokens");
            }
            return refused;
        }
    };
    tracing::debug!(client_id, name = %who.name, identity = %who.identity, room = %joined.room.id, %peer, "login");
    let api_token = state.tokens.issue(&who.name, &who.identity);
    axum::Json(LoginResponse {
        client_id,
        name: who.name,
        token: joined.token,
        api_token,
        session: who.session,
        account: who.account,
        expires_at_ms: who.expires_at_ms,
        room: joined.room.id,
        transport: joined.transport,
        address: joined.address,
        cert_hash: joined.cert_hash,
        transports: state.offers(),
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_survive_the_trip_through_user_data() {
        let ticket = |name: &str, identity: &str, room: &str| Ticket {
            name: name.into(),
            identity: identity.into(),
            room: room.into(),
            look: Look(0),
        };
        for name in ["Ada", "Zoë the Bard 🎻", &"🎻".repeat(24)] {
            let t = ticket(name, "account:9223372036854775807", &"r".repeat(40));
            assert_eq!(from_user_data(&to_user_data(&t)), Some(t));
        }
        let smith = Ticket {
            look: Look(3),
            ..ticket("Ada", "guest:1", "town")
        };
        assert_eq!(from_user_data(&to_user_data(&smith)), Some(smith.clone()));
        let mut data = to_user_data(&smith);
        // After "Ada", "guest:1" and "town", each behind its length.
        let at = 1 + 3 + 1 + 7 + 1 + 4;
        assert_eq!(data[at], 3);
        data[at] = 9;
        assert_eq!(from_user_data(&data), None, "no such look");
        let mut bad = to_user_data(&ticket("Ada", "guest:1", "town"));
        bad[0] = 0;
        assert_eq!(from_user_data(&bad), None, "empty names are refused");
        for (t, why) in [
            (ticket("Ada", "", "town"), "no identity, no player"),
            (ticket("Ada", "guest:1", ""), "no room, no player"),
            (ticket("Ada", "guest:1", "Town Square"), "not a room id"),
        ] {
            assert_eq!(from_user_data(&to_user_data(&t)), None, "{why}");
        }
    }
}
