//! A gate in front of netcode's UDP socket. Netcode keeps at most 4,096 handshakes
//! in progress for everyone together and has no limit per address, so one address
//! could take them all; and every stray datagram costs an error in its log. The gate
//! lets through only connection requests that look right, at most a few handshakes in
//! progress per address (an IPv6 /64 counts as one), and other packets only from
//! addresses that asked to connect. What it drops it counts.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy_replicon_renet2::netcode::{
    NativeSocket, NetcodeError, NetcodeTransportError, ServerSocket,
};
use prometheus::IntCounter;
use tavern_shared::protocol::PROTOCOL_ID;

use crate::metrics::Metrics;

/// A netcode connection request's size: prefix, version, protocol id, expiry, nonce
/// and the encrypted private token.
pub const CONNECTION_REQUEST_BYTES: usize = 1 + 13 + 8 + 8 + 24 + 1024;
/// The version string renet2's netcode puts in every connection request.
const VERSION_INFO: &[u8; 13] = b"NETCODE 1.a2\0";
/// Netcode's packet types, from the low nibble of the first byte.
const REQUEST: u8 = 0;
const KEEP_ALIVE: u8 = 4;
const PAYLOAD: u8 = 5;
const LAST_TYPE: u8 = 6;
/// Handshakes in progress for all addresses together, below netcode's own 4,096.
const MAX_HANDSHAKES: usize = 4000;
/// An established address silent this long is forgotten (netcode drops it after 10 s).
const IDLE: Duration = Duration::from_secs(30);

/// What the gate passed, sent and dropped: counters of the server's [`Metrics`].
#[derive(Debug, Clone)]
pub struct PacketStats {
    /// Packets from addresses that never asked to connect.
    pub unknown_sender: IntCounter,
    /// Packets that are not netcode packets of this server (size, type, version, protocol).
    pub malformed: IntCounter,
    /// Connection requests over the per-address (or total) handshake limit.
    pub handshake_limit: IntCounter,
    sent_bytes: IntCounter,
    sent_packets: IntCounter,
    received_bytes: IntCounter,
    received_packets: IntCounter,
}

impl PacketStats {
    pub fn new(metrics: &Metrics) -> Self {
        let dropped = |reason| metrics.udp_dropped.with_label_values(&[reason]);
        let bytes = |direction| metrics.udp_bytes.with_label_values(&[direction]);
        let packets = |direction| metrics.udp_packets.with_label_values(&[direction]);
        PacketStats {
            unknown_sender: dropped("unknown_sender"),
            malformed: dropped("malformed"),
            handshake_limit: dropped("handshake_limit"),
            sent_bytes: bytes("sent"),
            sent_packets: packets("sent"),
            received_bytes: bytes("received"),
            received_packets: packets("received"),
        }
    }

    /// Packets dropped, for every reason.
    pub fn total(&self) -> u64 {
        self.unknown_sender.get() + self.malformed.get() + self.handshake_limit.get()
    }
}

impl Default for PacketStats {
    fn default() -> Self {
        PacketStats::new(&Metrics::default())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Asked to connect; the server has not yet sent it a keep-alive.
    Handshaking { since: Instant },
    /// The server accepted its challenge response and talks to it.
    Established,
}

#[derive(Debug)]
struct Peer {
    state: State,
    last_seen: Instant,
}

/// What to do with one received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Malformed,
    Unknown,
    OverLimit,
}

/// The gated socket; netcode uses it like the plain UDP socket it wraps.
#[derive(Debug)]
pub struct GuardedSocket {
    inner: NativeSocket,
    per_ip: u32,
    /// A handshake not finished in this time stops counting (its token has expired).
    window: Duration,
    peers: HashMap<SocketAddr, Peer>,
    handshaking: HashMap<IpAddr, u32>,
    handshakes_total: usize,
    stats: Arc<PacketStats>,
    last_sweep: Instant,
    last_report: Instant,
    reported_total: u64,
}

/// The address that limits count against: the IPv4 address, or an IPv6 /64.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Whether `packet` is shaped like a connection request to this server.
fn is_request_for_us(packet: &[u8]) -> bool {
    packet.len() == CONNECTION_REQUEST_BYTES
        && &packet[1..14] == VERSION_INFO
        && packet[14..22] == PROTOCOL_ID.to_le_bytes()
}

impl GuardedSocket {
    pub fn new(
        socket: UdpSocket,
        per_ip: u32,
        window: Duration,
        stats: Arc<PacketStats>,
    ) -> Result<Self, NetcodeError> {
        let now = Instant::now();
        Ok(GuardedSocket {
            inner: NativeSocket::new(socket)?,
            per_ip: per_ip.max(1),
            window,
            peers: HashMap::new(),
            handshaking: HashMap::new(),
            handshakes_total: 0,
            stats,
            last_sweep: now,
            last_report: now,
            reported_total: 0,
        })
    }

    fn judge(&mut self, packet: &[u8], from: SocketAddr, now: Instant) -> Verdict {
        let Some(&prefix) = packet.first() else {
            return Verdict::Malformed;
        };
        let kind = prefix & 0x0F;
        if kind > LAST_TYPE {
            return Verdict::Malformed;
        }
        if let Some(peer) = self.peers.get_mut(&from) {
            if kind == REQUEST && packet.len() != CONNECTION_REQUEST_BYTES {
                return Verdict::Malformed;
            }
            peer.last_seen = now;
            return Verdict::Pass;
        }
        if kind != REQUEST {
            return Verdict::Unknown;
        }
        if !is_request_for_us(packet) {
            return Verdict::Malformed;
        }
        let key = ip_key(from.ip());
        let in_progress = self.handshaking.get(&key).copied().unwrap_or(0);
        if in_progress >= self.per_ip || self.handshakes_total >= MAX_HANDSHAKES {
            return Verdict::OverLimit;
        }
        *self.handshaking.entry(key).or_default() += 1;
        self.handshakes_total += 1;
        self.peers.insert(
            from,
            Peer {
                state: State::Handshaking { since: now },
                last_seen: now,
            },
        );
        Verdict::Pass
    }

    fn finish_handshake(&mut self, addr: SocketAddr) {
        if let Some(peer) = self.peers.get_mut(&addr)
            && matches!(peer.state, State::Handshaking { .. })
        {
            peer.state = State::Established;
            self.release(addr.ip());
        }
    }

    fn release(&mut self, ip: IpAddr) {
        let key = ip_key(ip);
        if let Some(n) = self.handshaking.get_mut(&key) {
            *n = n.saturating_sub(1);
            self.handshakes_total = self.handshakes_total.saturating_sub(1);
            if *n == 0 {
                self.handshaking.remove(&key);
            }
        }
    }

    fn forget(&mut self, addr: SocketAddr) {
        if let Some(peer) = self.peers.remove(&addr)
            && matches!(peer.state, State::Handshaking { .. })
        {
            self.release(addr.ip());
        }
    }

    /// Drops handshakes older than the window and silent established addresses; logs
    /// what was dropped at most once a minute.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < Duration::from_secs(1) {
            return;
        }
        self.last_sweep = now;
        let window = self.window;
        let stale: Vec<SocketAddr> = self
            .peers
            .iter()
            .filter(|(_, p)| match p.state {
                State::Handshaking { since } => now.duration_since(since) > window,
                State::Established => now.duration_since(p.last_seen) > IDLE,
            })
            .map(|(a, _)| *a)
            .collect();
        for addr in stale {
            self.forget(addr);
        }
        if now.duration_since(self.last_report) >= Duration::from_secs(60) {
            let total = self.stats.total();
            if total > self.reported_total {
                tracing::warn!(
                    dropped = total - self.reported_total,
                    unknown_sender = self.stats.unknown_sender.get(),
                    malformed = self.stats.malformed.get(),
                    handshake_limit = self.stats.handshake_limit.get(),
                    "dropped UDP packets in the last minute (totals since start follow)"
                );
            }
            self.reported_total = total;
            self.last_report = now;
        }
    }

    /// Handshakes in progress from `ip`'s address block (tests).
    pub fn handshakes_from(&self, ip: IpAddr) -> u32 {
        self.handshaking.get(&ip_key(ip)).copied().unwrap_or(0)
    }
}

impl ServerSocket for GuardedSocket {
    fn is_encrypted(&self) -> bool {
        ServerSocket::is_encrypted(&self.inner)
    }
    fn is_reliable(&self) -> bool {
        ServerSocket::is_reliable(&self.inner)
    }
    fn addr(&self) -> std::io::Result<SocketAddr> {
        ServerSocket::addr(&self.inner)
    }
    fn is_closed(&mut self) -> bool {
        ServerSocket::is_closed(&mut self.inner)
    }
    fn close(&mut self) {
        ServerSocket::close(&mut self.inner);
    }
    fn connection_denied(&mut self, addr: SocketAddr) {
        // The address keeps its place until the window ends, so that a denied client
        // retrying cannot take a fresh place each time.
        ServerSocket::connection_denied(&mut self.inner, addr);
    }
    fn connection_accepted(&mut self, client_id: u64, addr: SocketAddr) {
        ServerSocket::connection_accepted(&mut self.inner, client_id, addr);
    }
    fn disconnect(&mut self, addr: SocketAddr) {
        self.forget(addr);
        ServerSocket::disconnect(&mut self.inner, addr);
    }
    fn preupdate(&mut self) {
        self.sweep(Instant::now());
        ServerSocket::preupdate(&mut self.inner);
    }

    fn try_recv(&mut self, buffer: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        let now = Instant::now();
        loop {
            let (len, from) = ServerSocket::try_recv(&mut self.inner, buffer)?;
            let counter = match self.judge(&buffer[..len], from, now) {
                Verdict::Pass => {
                    self.stats.received_packets.inc();
                    self.stats.received_bytes.inc_by(len as u64);
                    return Ok((len, from));
                }
                Verdict::Malformed => &self.stats.malformed,
                Verdict::Unknown => &self.stats.unknown_sender,
                Verdict::OverLimit => &self.stats.handshake_limit,
            };
            counter.inc();
        }
    }

    fn postupdate(&mut self) {
        ServerSocket::postupdate(&mut self.inner);
    }

    fn send(&mut self, addr: SocketAddr, packet: &[u8]) -> Result<(), NetcodeTransportError> {
        // The server sends keep-alives and payloads only to connected clients: the
        // handshake is over.
        if let Some(&prefix) = packet.first()
            && matches!(prefix & 0x0F, KEEP_ALIVE | PAYLOAD)
        {
            self.finish_handshake(addr);
        }
        self.stats.sent_packets.inc();
        self.stats.sent_bytes.inc_by(packet.len() as u64);
        ServerSocket::send(&mut self.inner, addr, packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Vec<u8> {
        let mut p = vec![0u8; CONNECTION_REQUEST_BYTES];
        p[1..14].copy_from_slice(VERSION_INFO);
        p[14..22].copy_from_slice(&PROTOCOL_ID.to_le_bytes());
        p
    }

    fn guard(per_ip: u32) -> GuardedSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        GuardedSocket::new(socket, per_ip, Duration::from_secs(15), Arc::default()).unwrap()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn handshakes_are_limited_per_address_and_freed_when_done() {
        let mut g = guard(2);
        let now = Instant::now();
        let a1 = addr("192.0.2.1:1000");
        let a2 = addr("192.0.2.1:1001");
        let a3 = addr("192.0.2.1:1002");
        assert_eq!(g.judge(&request(), a1, now), Verdict::Pass);
        assert_eq!(
            g.judge(&request(), a1, now),
            Verdict::Pass,
            "resends are fine"
        );
        assert_eq!(g.judge(&request(), a2, now), Verdict::Pass);
        assert_eq!(g.judge(&request(), a3, now), Verdict::OverLimit);
        assert_eq!(
            g.judge(&request(), addr("192.0.2.9:1000"), now),
            Verdict::Pass,
            "another address has its own places"
        );
        // The server sends a1 a keep-alive: its place is free for a3.
        g.finish_handshake(a1);
        assert_eq!(g.handshakes_from(a1.ip()), 1);
        assert_eq!(g.judge(&request(), a3, now), Verdict::Pass);
        // A client's own keep-alive does not free anything.
        assert_eq!(g.judge(&[KEEP_ALIVE, 1, 2, 3], a2, now), Verdict::Pass);
        assert_eq!(g.handshakes_from(a1.ip()), 2);
    }

    #[test]
    fn stale_handshakes_are_swept_after_the_window() {
        let mut g = guard(1);
        let start = Instant::now();
        let a = addr("192.0.2.1:1000");
        assert_eq!(g.judge(&request(), a, start), Verdict::Pass);
        assert_eq!(
            g.judge(&request(), addr("192.0.2.1:1001"), start),
            Verdict::OverLimit
        );
        g.last_sweep = start - Duration::from_secs(2);
        g.sweep(start + Duration::from_secs(16));
        assert_eq!(g.handshakes_from(a.ip()), 0);
        assert!(g.peers.is_empty());
    }

    #[test]
    fn strangers_and_garbage_are_dropped() {
        let mut g = guard(4);
        let now = Instant::now();
        let a = addr("192.0.2.1:1000");
        assert_eq!(g.judge(&[], a, now), Verdict::Malformed);
        assert_eq!(g.judge(&[0x0F, 1, 2], a, now), Verdict::Malformed);
        assert_eq!(g.judge(&[PAYLOAD, 1, 2], a, now), Verdict::Unknown);
        assert_eq!(g.judge(&[0u8; 100], a, now), Verdict::Malformed);
        let mut other_protocol = request();
        other_protocol[14] ^= 1;
        assert_eq!(g.judge(&other_protocol, a, now), Verdict::Malformed);
        let mut other_version = request();
        other_version[5] = b'X';
        assert_eq!(g.judge(&other_version, a, now), Verdict::Malformed);
        assert!(g.peers.is_empty(), "nothing dropped is remembered");
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
