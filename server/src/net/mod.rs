//! The game transport: renet2 netcode over UDP with secure connect tokens, behind a
//! gate that limits handshakes per address and drops strangers' packets.

pub mod guard;
pub mod rate;
pub mod webtransport;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon::shared::backend::connected_client::NetworkId;
use bevy_replicon_renet2::RenetChannelsExt;
use bevy_replicon_renet2::netcode::{
    BoxedSocket, NetcodeServerTransport, ServerAuthentication, ServerSetupConfig, WebSocketServer,
    WebTransportServer,
};
use bevy_replicon_renet2::renet2::{ConnectionConfig, RenetServer};
use tavern_shared::protocol::PROTOCOL_ID;

use crate::http::limits::TOKEN_EXPIRE_SECS;
use crate::keys::NetcodeKey;
use guard::{GuardedSocket, PacketStats};

/// One socket clients connect to, as connect tokens and the login answer name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub transport: tavern_shared::api::Transport,
    /// The server address connect tokens name (for WebTransport at a URL, renet2's
    /// hash of the URL).
    pub token_addr: SocketAddr,
    /// Where clients connect: `host:port` for UDP, `ws://host:port`,
    /// `https://host:port` for WebTransport.
    pub address: String,
    /// A self-signed certificate's SHA-256, hex, for browsers to check.
    pub cert_hash: Option<String>,
    /// After this the listener is no longer offered (its certificate is about to
    /// expire).
    pub valid_until: Option<SystemTime>,
}

impl Listener {
    /// A socket needing no certificate: UDP, or a WebSocket at `addr`.
    pub fn plain(transport: tavern_shared::api::Transport, addr: SocketAddr) -> Listener {
        use tavern_shared::api::Transport;
        let address = match transport {
            Transport::Udp => addr.to_string(),
            Transport::WebSocket => format!("ws://{addr}"),
            Transport::WebTransport => format!("https://{addr}"),
        };
        Listener {
            transport,
            token_addr: addr,
            address,
            cert_hash: None,
            valid_until: None,
        }
    }

    /// Whether it may be offered at `now`.
    pub fn is_live(&self, now: SystemTime) -> bool {
        self.valid_until.is_none_or(|until| now < until)
    }

    /// What the login answer says of it.
    pub fn offer(&self) -> tavern_shared::api::TransportOffer {
        tavern_shared::api::TransportOffer {
            transport: self.transport,
            address: self.address.clone(),
            cert_hash: self.cert_hash.clone(),
        }
    }
}

/// What connect tokens name for a socket bound at `bound`: its port, on the UDP public
/// address's host when bound to every interface.
pub fn public_for(bound: SocketAddr, udp_public: SocketAddr) -> SocketAddr {
    if bound.ip().is_unspecified() {
        SocketAddr::new(udp_public.ip(), bound.port())
    } else {
        bound
    }
}

/// How the UDP transport is set up.
#[derive(Debug)]
pub struct TransportConfig {
    /// Every socket, in order (UDP, then the WebSocket and WebTransport if on): the
    /// HTTP API makes tokens from the same list, a token naming its socket by its place
    /// in it.
    pub transports: Vec<Listener>,
    /// The WebSocket server (`--ws`).
    pub websocket: Option<WebSocketServer>,
    /// The WebTransport server (`--webtransport`).
    pub webtransport: Option<WebTransportServer>,
    pub key: NetcodeKey,
    pub max_clients: usize,
    /// Handshakes in progress at once from one address.
    pub handshakes_per_ip: u32,
    /// Where the gate counts what it drops.
    pub stats: Arc<PacketStats>,
}

/// A message for one connected client (its connection entity).
pub fn to_client<M>(client: Entity, message: M) -> ToClients<M> {
    ToClients {
        targets: SendTargets::Single(ClientId::Client(client)),
        message,
    }
}

/// The UDP buffers the server asks the kernel for. Netcode reads the socket once a
/// tick; in between, every client's packets wait in the kernel's receive buffer, which
/// counts each small datagram at about 1-2 KB of memory. Linux's usual default (208 KB)
/// holds about 150, so at a few hundred players packets are dropped every tick and
/// reliable messages (chat lines, events) wait for a resend (300 ms). 8 MB holds a tick
/// of several thousand players.
pub const UDP_BUFFER_BYTES: usize = 8 << 20;

/// Below this receive buffer the server warns at start.
const UDP_BUFFER_WARN_BYTES: usize = 2 << 20;

/// Asks for [`UDP_BUFFER_BYTES`] of receive and send buffer; warns, naming the setting to
/// raise, if the kernel grants much less (Linux caps it at `net.core.rmem_max`).
fn size_buffers(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    match socket.recv_buffer_size() {
        Ok(granted) if granted < UDP_BUFFER_WARN_BYTES => warn!(
            granted_bytes = granted,
            wanted_bytes = UDP_BUFFER_BYTES,
            "the kernel gave the game's UDP socket a small receive buffer: with a few \
             hundred players packets will be dropped and chat delayed; raise it with \
             `sysctl -w net.core.rmem_max=8388608` (Linux)"
        ),
        Ok(granted) => debug!(granted_bytes = granted, "UDP receive buffer"),
        Err(e) => warn!("cannot read the UDP receive buffer's size: {e}"),
    }
}

/// The transport of each netcode socket, in their order.
#[derive(Resource, Debug, Clone, Default)]
pub struct SocketTransports(pub Vec<tavern_shared::api::Transport>);

/// Counts connections by transport (`tavern_connections_total`).
pub fn plugin(app: &mut App) {
    app.init_resource::<SocketTransports>()
        .add_observer(count_connection);
}

fn count_connection(
    add: On<Add, AuthorizedClient>,
    clients: Query<&NetworkId>,
    transport: Option<Res<NetcodeServerTransport>>,
    sockets: Res<SocketTransports>,
    metrics: Option<Res<crate::metrics::Metrics>>,
) {
    let (Ok(id), Some(transport), Some(metrics)) = (clients.get(add.entity), transport, metrics)
    else {
        return;
    };
    let kind = transport
        .client_addr(id.get())
        .and_then(|(socket, _)| sockets.0.get(socket));
    if let Some(kind) = kind {
        metrics.connections.with_label_values(&[kind.name()]).inc();
    }
}

/// Inserts the renet server and its UDP netcode transport. Call after the protocol is
/// registered: the channels come from it.
pub fn insert_transport(
    app: &mut App,
    socket: UdpSocket,
    config: TransportConfig,
) -> anyhow::Result<()> {
    let TransportConfig {
        transports,
        websocket,
        webtransport,
        key,
        max_clients,
        handshakes_per_ip,
        stats,
    } = config;
    let channels = app.world().resource::<RepliconChannels>();
    let server = RenetServer::new(ConnectionConfig::from_channels(
        channels.server_configs(),
        channels.client_configs(),
    ));
    let current_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    let config = ServerSetupConfig {
        current_time,
        max_clients,
        protocol_id: PROTOCOL_ID,
        authentication: ServerAuthentication::Secure { private_key: key },
        socket_addresses: transports.iter().map(|l| vec![l.token_addr]).collect(),
    };
    size_buffers(&socket);
    // A token lives TOKEN_EXPIRE_SECS; a handshake cannot outlast its token.
    let window = Duration::from_secs(TOKEN_EXPIRE_SECS + 1);
    let socket = GuardedSocket::new(socket, handshakes_per_ip, window, stats)
        .context("cannot use the UDP socket")?;
    let sockets = std::iter::once(BoxedSocket::new(socket))
        .chain(websocket.map(BoxedSocket::new))
        .chain(webtransport.map(BoxedSocket::new))
        .collect();
    let transport = NetcodeServerTransport::new_with_sockets(config, sockets)
        .context("cannot start the netcode transport")?;
    app.insert_resource(SocketTransports(
        transports.iter().map(|l| l.transport).collect(),
    ));
    app.insert_resource(server).insert_resource(transport);
    Ok(())
}
