//! A UDP relay between clients and a server that adds a fixed one-way delay and drops
//! a share of packets in each direction, from a seeded RNG.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct Relay {
    /// Where clients send to (the server's public address in connect tokens).
    pub addr: SocketAddr,
    pub forwarded: Arc<AtomicU64>,
    pub dropped: Arc<AtomicU64>,
    server: Arc<Mutex<Option<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Where a delayed packet goes: to the server through client n's back socket, or to client n.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Dest {
    Server(usize),
    Client(usize),
}

type Queue = BinaryHeap<Reverse<(Instant, u64, Dest, Vec<u8>)>>;

impl Relay {
    /// Binds the relay; each packet waits `delay` and is dropped with probability `loss`.
    /// Packets for the server are held back until [`Relay::set_server`].
    pub fn start(delay: Duration, loss: f64, seed: u64) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        front.set_nonblocking(true).unwrap();
        let addr = front.local_addr().unwrap();
        let forwarded = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let server = Arc::new(Mutex::new(None::<SocketAddr>));
        let thread = std::thread::spawn({
            let (forwarded, dropped, stop, server) = (
                forwarded.clone(),
                dropped.clone(),
                stop.clone(),
                server.clone(),
            );
            move || {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut clients: Vec<(SocketAddr, UdpSocket)> = Vec::new();
                let mut by_addr: HashMap<SocketAddr, usize> = HashMap::new();
                let mut queue = Queue::new();
                let mut order = 0u64;
                let mut buf = [0u8; 2048];
                let mut schedule = |queue: &mut Queue, now: Instant, dest: Dest, data: &[u8]| {
                    if rng.random_bool(loss) {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    } else {
                        order += 1;
                        queue.push(Reverse((now + delay, order, dest, data.to_vec())));
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    while let Ok((n, from)) = front.recv_from(&mut buf) {
                        let idx = *by_addr.entry(from).or_insert_with(|| {
                            let back = UdpSocket::bind("127.0.0.1:0").unwrap();
                            back.set_nonblocking(true).unwrap();
                            clients.push((from, back));
                            clients.len() - 1
                        });
                        schedule(&mut queue, now, Dest::Server(idx), &buf[..n]);
                    }
                    for (idx, (_, back)) in clients.iter().enumerate() {
                        while let Ok((n, _)) = back.recv_from(&mut buf) {
                            schedule(&mut queue, now, Dest::Client(idx), &buf[..n]);
                        }
                    }
                    let target = *server.lock().unwrap();
                    while queue.peek().is_some_and(|Reverse((due, ..))| *due <= now) {
                        let Reverse((_, _, dest, data)) = queue.pop().unwrap();
                        let sent = match (dest, target) {
                            (Dest::Server(i), Some(server)) => {
                                clients[i].1.send_to(&data, server).is_ok()
                            }
                            (Dest::Server(_), None) => false,
                            (Dest::Client(i), _) => front.send_to(&data, clients[i].0).is_ok(),
                        };
                        if sent {
                            forwarded.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
        });
        Relay {
            addr,
            forwarded,
            dropped,
            server,
            stop,
            thread: Some(thread),
        }
    }

    /// Where to forward client packets.
    pub fn set_server(&self, addr: SocketAddr) {
        *self.server.lock().unwrap() = Some(addr);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
