//! Netcode over a WebSocket from native code, exactly as a browser connects (renet2's
//! own WebSocket client is for WebAssembly only): bots and tests use it to play over
//! the server's `--ws` transport. Netcode's first connection request goes in the URL
//! (`?creq=...`); the server answers the upgrade only once netcode accepted it, and
//! then every netcode packet is one binary WebSocket message.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bevy_replicon_renet2::netcode::{ClientSocket, NetcodeTransportError};
use tungstenite::{Message, WebSocket};

/// The query key renet2's WebSocket server reads the connection request from.
const CONNECT_REQUEST_KEY: &str = "creq";
/// Netcode's packet type of a connection request (the low nibble of its first byte).
const CONNECTION_REQUEST: u8 = 0;
/// How long opening the connection (TCP and the upgrade) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

enum State {
    /// Waiting for netcode's first connection request, which goes in the URL.
    Idle,
    /// Opening on a thread of its own (the upgrade waits for the server's netcode).
    Opening(Mutex<Receiver<Result<WebSocket<TcpStream>, String>>>),
    Open(Box<WebSocket<TcpStream>>),
    Closed,
}

/// A netcode client socket over one WebSocket to `ws://host:port`.
pub struct WebSocketClient {
    url: String,
    /// The server's address as connect tokens name it (the URL's host and port).
    server: SocketAddr,
    state: State,
}

impl std::fmt::Debug for WebSocketClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Idle => "idle",
            State::Opening(_) => "opening",
            State::Open(_) => "open",
            State::Closed => "closed",
        };
        f.debug_struct("WebSocketClient")
            .field("url", &self.url)
            .field("state", &state)
            .finish()
    }
}

impl WebSocketClient {
    /// A socket for the server at `url` (`ws://host:port`, as the login answered).
    pub fn new(url: &str) -> Result<Self, String> {
        let url = url.trim().trim_end_matches('/');
        let host = url
            .strip_prefix("ws://")
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| format!("`{url}` is not a ws://HOST:PORT address"))?;
        let server = host
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
            .next()
            .ok_or_else(|| format!("`{host}` resolves to no address"))?;
        Ok(WebSocketClient {
            url: url.to_string(),
            server,
            state: State::Idle,
        })
    }

    /// Starts opening the connection with netcode's connection request in the URL.
    fn open(&mut self, request: &[u8]) {
        let url = format!(
            "{}/?{CONNECT_REQUEST_KEY}={}",
            self.url,
            urlencoding::encode_binary(request)
        );
        let server = self.server;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(connect(&url, server));
        });
        self.state = State::Opening(Mutex::new(rx));
    }

    fn closed(&mut self) -> std::io::Error {
        self.state = State::Closed;
        std::io::Error::from(ErrorKind::ConnectionAborted)
    }
}

/// Connects and upgrades (blocking, on its own thread), then leaves the socket
/// non-blocking for the game's loop.
fn connect(url: &str, server: SocketAddr) -> Result<WebSocket<TcpStream>, String> {
    let stream = TcpStream::connect_timeout(&server, OPEN_TIMEOUT)
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(OPEN_TIMEOUT));
    let (socket, _) = tungstenite::client(url, stream)
        .map_err(|e| format!("the WebSocket upgrade failed: {e}"))?;
    socket
        .get_ref()
        .set_nonblocking(true)
        .map_err(|e| format!("cannot make the socket non-blocking: {e}"))?;
    Ok(socket)
}

/// Whether a tungstenite error only means "nothing more right now".
fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == ErrorKind::WouldBlock)
}

impl ClientSocket for WebSocketClient {
    fn is_encrypted(&self) -> bool {
        // ws:// carries netcode's own encryption, as UDP does.
        false
    }

    fn is_reliable(&self) -> bool {
        true
    }

    fn addr(&self) -> std::io::Result<SocketAddr> {
        // As in a browser, the local end has no address worth naming.
        Err(std::io::Error::from(ErrorKind::AddrNotAvailable))
    }

    fn is_closed(&mut self) -> bool {
        matches!(self.state, State::Closed)
    }

    fn close(&mut self) {
        if let State::Open(socket) = &mut self.state {
            let _ = socket.close(None);
            let _ = socket.flush();
        }
        self.state = State::Closed;
    }

    fn preupdate(&mut self) {
        if let State::Opening(rx) = &self.state {
            let result = rx.lock().unwrap_or_else(PoisonError::into_inner).try_recv();
            self.state = match result {
                Ok(Ok(socket)) => State::Open(Box::new(socket)),
                Ok(Err(reason)) => {
                    tracing::warn!(url = %self.url, "{reason}");
                    State::Closed
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => State::Closed,
            };
        }
    }

    fn try_recv(&mut self, buffer: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        let socket = match &mut self.state {
            State::Open(socket) => socket,
            State::Closed => return Err(std::io::Error::from(ErrorKind::ConnectionAborted)),
            State::Idle | State::Opening(_) => {
                return Err(std::io::Error::from(ErrorKind::WouldBlock));
            }
        };
        loop {
            match socket.read() {
                Ok(Message::Binary(data)) => {
                    if data.len() > buffer.len() {
                        return Err(std::io::Error::from(ErrorKind::InvalidData));
                    }
                    buffer[..data.len()].copy_from_slice(&data);
                    return Ok((data.len(), self.server));
                }
                // Pings are answered by tungstenite itself; text is not netcode's.
                Ok(Message::Close(_)) => return Err(self.closed()),
                Ok(_) => continue,
                Err(e) if would_block(&e) => {
                    return Err(std::io::Error::from(ErrorKind::WouldBlock));
                }
                Err(_) => return Err(self.closed()),
            }
        }
    }

    fn postupdate(&mut self) {
        if let State::Open(socket) = &mut self.state
            && let Err(e) = socket.flush()
            && !would_block(&e)
        {
            self.state = State::Closed;
        }
    }

    fn send(&mut self, _addr: SocketAddr, packet: &[u8]) -> Result<(), NetcodeTransportError> {
        match &mut self.state {
            State::Idle => {
                // Netcode sends connection requests until it is answered; the first
                // opens the connection, others wait for it.
                if packet
                    .first()
                    .is_some_and(|p| p & 0x0F == CONNECTION_REQUEST)
                {
                    self.open(packet);
                }
                Ok(())
            }
            State::Opening(_) => Ok(()),
            State::Open(socket) => match socket.send(Message::binary(packet.to_vec())) {
                // Queued: the rest goes out with the next flush.
                Ok(()) => Ok(()),
                Err(e) if would_block(&e) => Ok(()),
                Err(_) => Err(self.closed().into()),
            },
            State::Closed => Err(std::io::Error::from(ErrorKind::ConnectionAborted).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ws_addresses_are_taken() {
        let ok = WebSocketClient::new("ws://127.0.0.1:8081/").unwrap();
        assert_eq!(ok.server, "127.0.0.1:8081".parse().unwrap());
        assert_eq!(ok.url, "ws://127.0.0.1:8081");
        for bad in [
            "http://127.0.0.1:8081",
            "ws://",
            "ws://127.0.0.1:8081/path",
            "127.0.0.1:1",
        ] {
            assert!(WebSocketClient::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_connection_request_opens_the_connection() {
        let mut socket = WebSocketClient::new("ws://127.0.0.1:9").unwrap();
        let to = socket.server;
        // A keep-alive (type 4) before any request: nothing happens.
        socket.send(to, &[4, 1, 2, 3]).unwrap();
        assert!(matches!(socket.state, State::Idle));
        let mut buffer = [0u8; 64];
        let nothing = socket.try_recv(&mut buffer).unwrap_err();
        assert_eq!(nothing.kind(), ErrorKind::WouldBlock);
        // A request opens it (port 9 refuses: the socket ends closed, not stuck).
        socket.send(to, &[0, 9, 9]).unwrap();
        assert!(matches!(socket.state, State::Opening(_)));
        for _ in 0..500 {
            socket.preupdate();
            if socket.is_closed() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(socket.is_closed(), "{socket:?}");
        assert!(socket.send(to, &[5]).is_err());
    }
}
