//! The game transport: renet2 netcode over UDP with secure connect tokens.

use std::net::{SocketAddr, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon_renet2::RenetChannelsExt;
use bevy_replicon_renet2::netcode::{
    NativeSocket, NetcodeServerTransport, ServerAuthentication, ServerSetupConfig,
};
use bevy_replicon_renet2::renet2::{ConnectionConfig, RenetServer};
use tavern_shared::protocol::PROTOCOL_ID;

use crate::keys::NetcodeKey;

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
    public_addr: SocketAddr,
    key: NetcodeKey,
    max_clients: usize,
) -> anyhow::Result<()> {
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
    let socket = NativeSocket::new(socket).context("cannot use the UDP socket")?;
    let transport = NetcodeServerTransport::new(config, socket)
        .context("cannot start the netcode transport")?;
    app.insert_resource(server).insert_resource(transport);
    Ok(())
}
