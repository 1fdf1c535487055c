//! The connection to the server: login in the background, the netcode client over UDP,
//! and reconnecting with backoff when the link drops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use web_time::{SystemTime, UNIX_EPOCH};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon_renet2::RenetChannelsExt;
use bevy_replicon_renet2::netcode::{
    ClientAuthentication, ClientSocket, NetcodeClientTransport, NetcodeTransportError,
};
use bevy_replicon_renet2::renet2::{ConnectionConfig, RenetClient};

use crate::PlaySystems;
use crate::http::{Pending, Taken};
use crate::login::{Credentials, LoginError, login_with};

/// Attempts (login and connect) before the client gives up: the first and five more,
/// 1, 2, 4, 8 and 16 s apart (the server keeps a dropped avatar 30 s by default).
pub const MAX_ATTEMPTS: u32 = 6;

/// How this build connects unless told otherwise: UDP natively; a browser has only the
/// WebSocket and, in some browsers, WebTransport (see [`preferred_transports`]).
#[cfg(not(target_arch = "wasm32"))]
pub const PLATFORM_TRANSPORT: tavern_shared::api::Transport = tavern_shared::api::Transport::Udp;
#[cfg(target_arch = "wasm32")]
pub const PLATFORM_TRANSPORT: tavern_shared::api::Transport =
    tavern_shared::api::Transport::WebSocket;

/// The transport to ask for and the ones to fall back to, best first: natively UDP; in
/// a browser WebTransport (unreliable datagrams, so one lost packet does not hold up
/// the others) where the browser has it, else the WebSocket.
pub fn preferred_transports() -> (
    tavern_shared::api::Transport,
    Vec<tavern_shared::api::Transport>,
) {
    #[cfg(target_arch = "wasm32")]
    if bevy_replicon_renet2::netcode::webtransport_is_available_with_cert_hashes() {
        return (
            tavern_shared::api::Transport::WebTransport,
            vec![tavern_shared::api::Transport::WebSocket],
        );
    }
    (PLATFORM_TRANSPORT, Vec::new())
}

/// Which server to join, and as whom.
#[derive(Resource, Clone, Debug)]
pub struct ServerTarget {
    /// The server's HTTP API, `http://host:port`.
    pub url: String,
    pub name: String,
    /// The guest session to log in with (the last login's, after the first), so a
    /// reconnect comes back as the same player.
    pub session: Option<String>,
    /// The room to join (the server's default room when `None`); after the first login
    /// the room it joined, so a reconnect goes back to it.
    pub room: Option<String>,
    pub room_password: Option<String>,
    /// How to connect (UDP unless a WebSocket is asked for).
    pub transport: tavern_shared::api::Transport,
    /// What to connect over instead when the server does not offer `transport`, best
    /// first.
    pub fallbacks: Vec<tavern_shared::api::Transport>,
    /// The avatar's look ([`tavern_shared::avatar::LOOKS`]).
    pub look: u8,
}

impl ServerTarget {
    /// A guest named `name` at `url`, in the server's default room.
    pub fn guest(url: &str, name: &str) -> Self {
        let (transport, fallbacks) = preferred_transports();
        ServerTarget {
            url: url.to_string(),
            name: name.to_string(),
            session: None,
            room: None,
            room_password: None,
            transport,
            fallbacks,
            look: 0,
        }
    }

    /// Asks for exactly `transport` from now on.
    pub fn only(&mut self, transport: tavern_shared::api::Transport) {
        self.transport = transport;
        self.fallbacks.clear();
    }

    /// A connection over `failed` never opened: the next login asks for the next
    /// fallback, if there is one (a network that blocks WebTransport's UDP still lets a
    /// WebSocket through). Whether it changed anything.
    pub fn fall_back_from(&mut self, failed: tavern_shared::api::Transport) -> bool {
        if self.transport != failed || self.fallbacks.is_empty() {
            return false;
        }
        self.transport = self.fallbacks.remove(0);
        true
    }

    /// What logging in as this target sends.
    pub fn request(&self) -> tavern_shared::api::LoginRequest {
        tavern_shared::api::LoginRequest {
            name: self.name.clone(),
            session: self.session.clone(),
            password: None,
            room: self.room.clone(),
            room_password: self.room_password.clone(),
            transport: self.transport,
            fallbacks: self.fallbacks.clone(),
            look: (self.look != 0).then_some(self.look),
        }
    }
}

/// What the player is told about the connection.
#[derive(Resource, Clone, Debug, Default, PartialEq, Eq)]
pub enum ConnectionStatus {
    #[default]
    Idle,
    LoggingIn,
    Connecting,
    Connected,
    /// The link failed; trying again.
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// Gave up, with the reason.
    Failed(String),
}

impl std::fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionStatus::Idle => write!(f, "not connected"),
            ConnectionStatus::LoggingIn => write!(f, "logging in..."),
            ConnectionStatus::Connecting => write!(f, "connecting..."),
            ConnectionStatus::Connected => write!(f, "connected"),
            ConnectionStatus::Reconnecting { attempt, reason } => {
                write!(
                    f,
                    "reconnecting (attempt {attempt} of {MAX_ATTEMPTS}): {reason}"
                )
            }
            ConnectionStatus::Failed(reason) => write!(f, "connection failed: {reason}"),
        }
    }
}

/// Who this client is on the server (known once logged in).
#[derive(Resource, Clone, Debug, PartialEq, Eq)]
pub struct LocalPlayer {
    pub client_id: u64,
    pub name: String,
    /// For the HTTP API (chat history).
    pub api_token: String,
}

/// Bytes of UDP datagrams this client received and sent (netcode headers and
/// encryption included, IP and UDP headers not), counted at its socket.
#[derive(Resource, Debug, Default, Clone)]
pub struct Traffic(Arc<TrafficCounts>);

#[derive(Debug, Default)]
pub struct TrafficCounts {
    down: AtomicU64,
    up: AtomicU64,
}

impl Traffic {
    /// Bytes received and sent since the connection opened.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.0.down.load(Ordering::Relaxed),
            self.0.up.load(Ordering::Relaxed),
        )
    }
}

/// The socket (UDP or WebSocket), counting what passes.
#[derive(Debug)]
struct CountingSocket<S> {
    inner: S,
    counts: Arc<TrafficCounts>,
}

impl<S: ClientSocket> ClientSocket for CountingSocket<S> {
    fn is_encrypted(&self) -> bool {
        self.inner.is_encrypted()
    }
    fn is_reliable(&self) -> bool {
        self.inner.is_reliable()
    }
    fn addr(&self) -> std::io::Result<SocketAddr> {
        ClientSocket::addr(&self.inner)
    }
    fn is_closed(&mut self) -> bool {
        ClientSocket::is_closed(&mut self.inner)
    }
    fn close(&mut self) {
        ClientSocket::close(&mut self.inner);
    }
    fn preupdate(&mut self) {
        ClientSocket::preupdate(&mut self.inner);
    }
    fn try_recv(&mut self, buffer: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        let (len, from) = ClientSocket::try_recv(&mut self.inner, buffer)?;
        self.counts.down.fetch_add(len as u64, Ordering::Relaxed);
        Ok((len, from))
    }
    fn postupdate(&mut self) {
        ClientSocket::postupdate(&mut self.inner);
    }
    fn send(&mut self, addr: SocketAddr, packet: &[u8]) -> Result<(), NetcodeTransportError> {
        self.counts
            .up
            .fetch_add(packet.len() as u64, Ordering::Relaxed);
        ClientSocket::send(&mut self.inner, addr, packet)
    }
}

/// The transport of the connection open now.
#[derive(Resource, Debug, Clone, Copy)]
pub struct LinkTransport(pub tavern_shared::api::Transport);

/// Failed attempts in a row, and when the next one is due.
#[derive(Resource, Default)]
pub struct Attempts {
    failed: u32,
    retry_at: Option<f64>,
}

impl Attempts {
    /// Seconds until the next attempt, while one is planned.
    pub fn retry_in(&self, time: &Time<Real>) -> Option<f64> {
        self.retry_at.map(|at| (at - now(time)).max(0.0))
    }
}

#[derive(Resource)]
struct PendingLogin(Pending<Result<Credentials, LoginError>>);

/// The server said this client speaks another protocol (another version of Tavern):
/// trying again cannot help.
#[derive(Resource, Default)]
struct Mismatch(bool);

/// What the player is told when client and server are different versions.
pub const MISMATCH: &str = "the server runs a different version of Tavern (protocol mismatch); use a client built from the same version as the server";

/// How each connection began: with a new avatar, or back in the one the player had
/// before its connection dropped.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Arrivals {
    pub fresh: u32,
    pub resumed: u32,
    /// A connection opened and its first map has not come yet.
    awaiting: bool,
}

/// Counts the first map of each connection as a fresh avatar or a resumed one.
fn count_arrivals(
    mut entered: MessageReader<tavern_shared::protocol::EnterMap>,
    mut arrivals: ResMut<Arrivals>,
) {
    for enter in entered.read() {
        if enter.resumed {
            arrivals.resumed += 1;
        } else if arrivals.awaiting {
            arrivals.fresh += 1;
        }
        arrivals.awaiting = false;
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<ConnectionStatus>()
        .init_resource::<Arrivals>()
        .add_systems(
            PreUpdate,
            (count_arrivals, stop_when_replaced).in_set(PlaySystems::Receive),
        )
        .init_resource::<Attempts>()
        .init_resource::<Mismatch>()
        .add_observer(|_: On<ProtocolMismatch>, mut m: ResMut<Mismatch>| m.0 = true)
        .add_systems(
            PreUpdate,
            (start_login, finish_login, watch_link)
                .chain()
                .in_set(PlaySystems::Connection),
        )
        .add_systems(OnExit(ClientState::Connected), forget_world);
}

fn now(time: &Time<Real>) -> f64 {
    time.elapsed_secs_f64()
}

fn start_login(
    mut commands: Commands,
    target: Option<Res<ServerTarget>>,
    pending: Option<Res<PendingLogin>>,
    client: Option<Res<RenetClient>>,
    mut status: ResMut<ConnectionStatus>,
    attempts: Res<Attempts>,
    time: Res<Time<Real>>,
) {
    let Some(target) = target else { return };
    if pending.is_some() || client.is_some() {
        return;
    }
    let due = match *status {
        ConnectionStatus::Idle => true,
        ConnectionStatus::Reconnecting { .. } => attempts.retry_at.is_some_and(|t| now(&time) >= t),
        _ => false,
    };
    if !due {
        return;
    }
    let (url, request) = (target.url.clone(), target.request());
    commands.insert_resource(PendingLogin(crate::http::spawn(async move {
        login_with(&url, &request).await
    })));
    if *status == ConnectionStatus::Idle {
        *status = ConnectionStatus::LoggingIn;
    }
}

fn finish_login(
    mut commands: Commands,
    pending: Option<Res<PendingLogin>>,
    mut target: Option<ResMut<ServerTarget>>,
    channels: Res<RepliconChannels>,
    mut status: ResMut<ConnectionStatus>,
    mut attempts: ResMut<Attempts>,
    mut arrivals: ResMut<Arrivals>,
    time: Res<Time<Real>>,
) {
    let Some(pending) = pending else { return };
    let result = match pending.0.take() {
        Taken::Waiting => return,
        Taken::Done(result) => result,
        Taken::Lost => Err(LoginError::BadAnswer(
            "the login ended without an answer".into(),
        )),
    };
    commands.remove_resource::<PendingLogin>();
    let creds = match result {
        Ok(creds) => creds,
        Err(e) if e.is_transient() => {
            return give_up_or_retry(&mut status, &mut attempts, &time, e.to_string());
        }
        Err(e) => {
            *status = ConnectionStatus::Failed(e.to_string());
            return;
        }
    };
    if let Some(target) = target.as_mut() {
        if !creds.session.is_empty() {
            target.session = Some(creds.session.clone());
        }
        if !creds.room.is_empty() {
            target.room = Some(creds.room.clone());
        }
    }
    let config =
        ConnectionConfig::from_channels(channels.server_configs(), channels.client_configs());
    match open_transport(&creds, config) {
        Ok((client, transport, traffic)) => {
            commands.insert_resource(client);
            commands.insert_resource(transport);
            commands.insert_resource(traffic);
            commands.insert_resource(LinkTransport(creds.transport));
            arrivals.awaiting = true;
            commands.insert_resource(LocalPlayer {
                client_id: creds.client_id,
                name: creds.name,
                api_token: creds.api_token,
            });
            if *status == ConnectionStatus::LoggingIn {
                *status = ConnectionStatus::Connecting;
            }
        }
        Err(reason) => {
            if let Some(target) = target.as_mut() {
                target.fall_back_from(creds.transport);
            }
            give_up_or_retry(&mut status, &mut attempts, &time, reason)
        }
    }
}

/// A netcode connection to the server the credentials are for, over a fresh socket of
/// the transport they are for (UDP, or a WebSocket to their address) whose bytes are
/// counted.
pub(crate) fn open_transport(
    creds: &Credentials,
    config: ConnectionConfig,
) -> Result<(RenetClient, NetcodeClientTransport, Traffic), String> {
    // A WebSocket delivers every packet in order: renet need not resend over it.
    let reliable = creds.transport == tavern_shared::api::Transport::WebSocket;
    let client = RenetClient::new(config, reliable);
    let traffic = Traffic::default();
    let current_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?;
    let auth = ClientAuthentication::Secure {
        connect_token: creds.token.clone(),
    };
    let counts = traffic.0.clone();
    let transport = match creds.transport {
        #[cfg(not(target_arch = "wasm32"))]
        tavern_shared::api::Transport::Udp => {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0")
                .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
            let inner = bevy_replicon_renet2::netcode::NativeSocket::new(socket)
                .map_err(|e| format!("cannot use the UDP socket: {e}"))?;
            NetcodeClientTransport::new(current_time, auth, CountingSocket { inner, counts })
        }
        #[cfg(target_arch = "wasm32")]
        tavern_shared::api::Transport::Udp => {
            return Err("a browser cannot send UDP: log in asking for a WebSocket".into());
        }
        #[cfg(not(target_arch = "wasm32"))]
        tavern_shared::api::Transport::WebSocket => {
            let inner = crate::websocket::WebSocketClient::new(&creds.address)?;
            NetcodeClientTransport::new(current_time, auth, CountingSocket { inner, counts })
        }
        #[cfg(target_arch = "wasm32")]
        tavern_shared::api::Transport::WebSocket => {
            use bevy_replicon_renet2::netcode::{WebSocketClient, WebSocketClientConfig};
            let server_url = url::Url::parse(&creds.address)
                .map_err(|e| format!("`{}` is not a WebSocket URL: {e}", creds.address))?;
            let inner = WebSocketClient::new(WebSocketClientConfig { server_url })
                .map_err(|e| format!("cannot open the WebSocket: {e}"))?;
            NetcodeClientTransport::new(current_time, auth, CountingSocket { inner, counts })
        }
        #[cfg(not(target_arch = "wasm32"))]
        tavern_shared::api::Transport::WebTransport => {
            return Err(
                "WebTransport is for browsers here: log in asking for udp or websocket".into(),
            );
        }
        #[cfg(target_arch = "wasm32")]
        tavern_shared::api::Transport::WebTransport => {
            use bevy_replicon_renet2::netcode::{WebTransportClient, WebTransportClientConfig};
            let destination = crate::webtransport::destination(&creds.address, &creds.token)?;
            let hashes = match &creds.cert_hash {
                Some(hex) => vec![crate::webtransport::cert_hash(hex)?],
                None => Vec::new(),
            };
            let config = WebTransportClientConfig::new_with_certs(destination, hashes);
            let inner = WebTransportClient::new(config);
            NetcodeClientTransport::new(current_time, auth, CountingSocket { inner, counts })
        }
    }
    .map_err(|e| format!("cannot start netcode: {e}"))?;
    Ok((client, transport, traffic))
}

/// A newer login of this player took its avatar: this client stops (and does not log in
/// again, which would take it back and send the other away in turn).
fn stop_when_replaced(
    mut deliveries: MessageReader<tavern_shared::chat::ChatDelivery>,
    mut status: ResMut<ConnectionStatus>,
    mut commands: Commands,
) {
    let replaced = deliveries.read().any(|d| {
        d.lines.iter().any(|l| {
            l.channel == tavern_shared::chat::ChatChannel::System
                && l.text == tavern_shared::protocol::REPLACED_NOTICE
        })
    });
    if replaced {
        warn!("{}", tavern_shared::protocol::REPLACED_NOTICE);
        commands.remove_resource::<ServerTarget>();
        *status = ConnectionStatus::Failed(tavern_shared::protocol::REPLACED_NOTICE.into());
    }
}

/// Tells the server the player leaves on purpose (its avatar goes at once, and the
/// server closes the connection), and does not log in again.
pub fn say_goodbye(world: &mut World) {
    world.remove_resource::<ServerTarget>();
    if world.contains_resource::<RenetClient>() {
        world.write_message(tavern_shared::protocol::Goodbye);
    }
}

/// Drops the connection at once, as a broken network would (no goodbye reaches the
/// server), and lets the client log in again as after any lost link.
pub fn drop_link(world: &mut World, reason: &str) {
    world.remove_resource::<RenetClient>();
    world.remove_resource::<NetcodeClientTransport>();
    let time = *world.resource::<Time<Real>>();
    world.resource_scope(|world, mut attempts: Mut<Attempts>| {
        let mut status = world.resource_mut::<ConnectionStatus>();
        give_up_or_retry(&mut status, &mut attempts, &time, reason.to_string());
    });
}

fn give_up_or_retry(
    status: &mut ConnectionStatus,
    attempts: &mut Attempts,
    time: &Time<Real>,
    reason: String,
) {
    let (next, delay) = after_failure(&mut attempts.failed, reason);
    *status = next;
    attempts.retry_at = delay.map(|d| now(time) + d.as_secs_f64());
}

/// A login or connection failed (`failed` counts the failures in a row): the status to
/// show, and how long to wait before trying again, or `None` once it is given up:
/// 1 s, 2 s, 4 s, 8 s, 16 s between [`MAX_ATTEMPTS`] attempts.
pub(crate) fn after_failure(
    failed: &mut u32,
    reason: String,
) -> (ConnectionStatus, Option<Duration>) {
    *failed += 1;
    if *failed >= MAX_ATTEMPTS {
        return (ConnectionStatus::Failed(reason), None);
    }
    let delay = Duration::from_secs(1 << (*failed - 1).min(4));
    let status = ConnectionStatus::Reconnecting {
        attempt: *failed + 1,
        reason,
    };
    (status, Some(delay))
}

/// A connection's round trip (s) and bytes per second down and up, once connected.
pub(crate) fn link_figures(client: &RenetClient) -> Option<(f64, f64, f64)> {
    client.is_connected().then(|| {
        let info = client.network_info();
        (
            info.rtt,
            info.bytes_received_per_second,
            info.bytes_sent_per_second,
        )
    })
}

fn watch_link(
    mut commands: Commands,
    client: Option<Res<RenetClient>>,
    transport: Option<Res<NetcodeClientTransport>>,
    link: Option<Res<LinkTransport>>,
    mut target: Option<ResMut<ServerTarget>>,
    mut status: ResMut<ConnectionStatus>,
    mut attempts: ResMut<Attempts>,
    mismatch: Res<Mismatch>,
    time: Res<Time<Real>>,
) {
    let Some(client) = client else { return };
    let link = link.map(|l| l.0);
    if mismatch.0 {
        if !matches!(*status, ConnectionStatus::Failed(_)) {
            error!("{MISMATCH}");
            *status = ConnectionStatus::Failed(MISMATCH.into());
            attempts.retry_at = None;
        }
        return;
    }
    if client.is_connected() && *status != ConnectionStatus::Connected {
        info!("connected");
        *status = ConnectionStatus::Connected;
        attempts.failed = 0;
    } else if client.is_disconnected() {
        let reason = transport
            .and_then(|t| t.disconnect_reason())
            .map(|r| r.to_string())
            .or_else(|| client.disconnect_reason().map(|r| r.to_string()))
            .unwrap_or_else(|| "disconnected".into());
        commands.remove_resource::<RenetClient>();
        commands.remove_resource::<NetcodeClientTransport>();
        // Stopped on purpose (replaced by a newer login): no retry.
        if matches!(*status, ConnectionStatus::Failed(_)) {
            return;
        }
        warn!(%reason, "lost the connection");
        // A transport that never connected (WebTransport's UDP blocked on the way, say):
        // the next login asks for the next one.
        if *status == ConnectionStatus::Connecting
            && let (Some(failed), Some(target)) = (link, target.as_mut())
            && target.fall_back_from(failed)
        {
            warn!(
                failed = failed.name(),
                next = target.transport.name(),
                "no connection over {}: trying {}",
                failed.name(),
                target.transport.name()
            );
        }
        give_up_or_retry(&mut status, &mut attempts, &time, reason);
    }
}

/// Replicated entities belong to the connection that brought them.
fn forget_world(mut commands: Commands, remote: Query<Entity, With<Remote>>) {
    for entity in &remote {
        commands.entity(entity).despawn();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_1_2_4_8_16_seconds_then_give_up() {
        let mut failed = 0;
        let mut delays = Vec::new();
        loop {
            match after_failure(&mut failed, "lost".into()) {
                (ConnectionStatus::Reconnecting { attempt, .. }, Some(d)) => {
                    assert_eq!(attempt, failed + 1);
                    delays.push(d.as_secs());
                }
                (ConnectionStatus::Failed(reason), None) => {
                    assert_eq!(reason, "lost");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(delays, [1, 2, 4, 8, 16]);
    }
}
