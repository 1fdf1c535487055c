//! The game transport: renet2 netcode over UDP with secure connect tokens, behind a
//! gate that limits handshakes per address and drops strangers' packets.

pub mod guard;
pub mod rate;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon_renet2::RenetChannelsExt;
use bevy_replicon_renet2::netcode::{
    NetcodeServerTransport, ServerAuthentication, ServerSetupConfig,
};
use bevy_replicon_renet2::renet2::{ConnectionConfig, RenetServer};
use tavern_shared::protocol::PROTOCOL_ID;

use crate::http::limits::TOKEN_EXPIRE_SECS;
use crate::keys::NetcodeKey;
use guard::{GuardedSocket, PacketStats};

/// How the UDP transport is set up.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub public_addr: SocketAddr,
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

/// Inserts the renet server and its UDP netcode transport. Call after the protocol is
/// registered: the channels come from it.
pub fn insert_transport(
    app: &mut App,
    socket: UdpSocket,
    config: TransportConfig,
) -> anyhow::Result<()> {
    let TransportConfig {
        public_addr,
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
        socket_addresses: vec![vec![public_addr]],
    };
    // A token lives TOKEN_EXPIRE_SECS; a handshake cannot outlast its token.
    let window = Duration::from_secs(TOKEN_EXPIRE_SECS + 1);
    let socket = GuardedSocket::new(socket, handshakes_per_ip, window, stats)
        .context("cannot use the UDP socket")?;
    let transport = NetcodeServerTransport::new(config, socket)
        .context("cannot start the netcode transport")?;
    app.insert_resource(server).insert_resource(transport);
    Ok(())
}
