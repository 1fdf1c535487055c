//! Light bots for load tests: a real player's connection without a player's client.
//!
//! Each light bot logs in over HTTP, holds its own netcode connection over UDP (renet2,
//! as the game), takes in the avatar stream with the game's own [`StreamBook`] (so the
//! avatars it holds and the bytes it receives are what a player would get) and
//! acknowledges it, and sends real inputs from a wandering brain: one per 60 Hz tick, in
//! batches with the unacknowledged ones repeated. It leaves out what a load test does
//! not need: no Bevy app of its own, no prediction, no interpolation, no rendering, no
//! chat. It can speak (`tavern-bots --voice`): it sends the frames it is given and
//! keeps the voice frames relayed to it. What the server sends besides the stream, the
//! map and voice (NPCs, proximity and chat messages) is received and counted but not
//! decoded.
//! Messages are encoded and decoded exactly as replicon does (a unit test checks both
//! directions against replicon itself).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use bevy_replicon::prelude::*;
use bevy_replicon::shared::message::registry::RemoteMessageRegistry;
use bevy_replicon::shared::protocol::ProtocolHash;
use bevy_replicon_renet2::RenetChannelsExt;
use bevy_replicon_renet2::netcode::NetcodeClientTransport;
use bevy_replicon_renet2::renet2::{ConnectionConfig, RenetClient};
use tavern_shared::avatar::AvatarState;
use tavern_shared::input::{ARRIVAL_SEQ_GAP, InputBatch, InputFrame, MAX_FRAMES_PER_BATCH};
use tavern_shared::map::MapData;
use tavern_shared::movement::TICK_HZ;
use tavern_shared::protocol::EnterMap;
use tavern_shared::stream::{AvatarIntro, AvatarRoster, AvatarStates, OwnState, StatesAck};
use tavern_shared::voice::{VoiceFrame, VoiceRelay, VoiceStatus};

use crate::bot::Brain;
use crate::connection::ServerTarget;
use crate::connection::{ConnectionStatus, Traffic, after_failure, link_figures, open_transport};
use crate::http::{Pending, Taken};
use crate::login::{Credentials, LoginError, login_with};
use crate::stream::{StreamBook, StreamSink};

/// Updates a second of each light bot: often enough to acknowledge what arrives
/// within one server send interval at the default 20 Hz.
pub const LIGHT_HZ: u32 = 30;

/// Inputs kept unacknowledged at most (10 s); past that the bot stops generating.
const MAX_UNACKED: usize = 600;

/// What every light bot shares: the connection's channels and the protocol's message
/// channels and hash, read once from the protocol's registration.
#[derive(Clone)]
pub struct LightProtocol {
    config: ConnectionConfig,
    server_channels: u8,
    hash: Vec<u8>,
    hash_channel: u8,
    roster: u8,
    states: u8,
    enter_map: u8,
    input: u8,
    ack: u8,
    goodbye: u8,
    voice_frame: u8,
    voice_status: u8,
    voice_relay: u8,
}

impl LightProtocol {
    /// Registers the protocol in a scratch app, as the game does, and keeps what the
    /// wire needs.
    pub fn new() -> Self {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, StatesPlugin, RepliconPlugins))
            .add_plugins(tavern_shared::protocol_plugin);
        app.finish();
        let world = app.world();
        let channels = world.resource::<RepliconChannels>();
        let registry = world.resource::<RemoteMessageRegistry>();
        let id = |channel: Option<usize>, what: &str| -> u8 {
            channel
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or_else(|| panic!("{what} is registered on a renet channel"))
        };
        LightProtocol {
            config: ConnectionConfig::from_channels(
                channels.server_configs(),
                channels.client_configs(),
            ),
            server_channels: id(Some(channels.server_channels().len()), "every channel"),
            hash: postcard::to_allocvec(world.resource::<ProtocolHash>())
                .expect("the protocol hash encodes"),
            hash_channel: id(
                registry.client_event_channel::<ProtocolHash>(),
                "the protocol hash",
            ),
            roster: id(
                registry.server_message_channel::<AvatarRoster>(),
                "AvatarRoster",
            ),
            states: id(
                registry.server_message_channel::<AvatarStates>(),
                "AvatarStates",
            ),
            enter_map: id(registry.server_message_channel::<EnterMap>(), "EnterMap"),
            input: id(
                registry.client_message_channel::<InputBatch>(),
                "InputBatch",
            ),
            ack: id(registry.client_message_channel::<StatesAck>(), "StatesAck"),
            goodbye: id(
                registry.client_message_channel::<tavern_shared::protocol::Goodbye>(),
                "Goodbye",
            ),
            voice_frame: id(
                registry.client_message_channel::<VoiceFrame>(),
                "VoiceFrame",
            ),
            voice_status: id(
                registry.client_message_channel::<VoiceStatus>(),
                "VoiceStatus",
            ),
            voice_relay: id(
                registry.server_message_channel::<VoiceRelay>(),
                "VoiceRelay",
            ),
        }
    }
}

impl Default for LightProtocol {
    fn default() -> Self {
        LightProtocol::new()
    }
}

/// A message from the server, as a light bot reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Roster(AvatarRoster),
    States(AvatarStates),
    EnterMap(Box<EnterMap>),
    Voice(VoiceRelay),
    /// Anything else (NPCs, proximity, chat...): received and counted, not decoded.
    Other,
    /// A stream or map message that does not decode.
    Malformed,
}

impl LightProtocol {
    /// Decodes what arrived on `channel`.
    pub fn decode(&self, channel: u8, bytes: &[u8]) -> Incoming {
        let decoded = if channel == self.roster {
            postcard::from_bytes(bytes).ok().map(Incoming::Roster)
        } else if channel == self.states {
            postcard::from_bytes(bytes).ok().map(Incoming::States)
        } else if channel == self.voice_relay {
            postcard::from_bytes(bytes).ok().map(Incoming::Voice)
        } else if channel == self.enter_map {
            // Replicon sends it after the replication tick it follows (a varint).
            postcard::take_from_bytes::<u32>(bytes)
                .ok()
                .and_then(|(_tick, rest)| postcard::from_bytes(rest).ok())
                .map(|enter| Incoming::EnterMap(Box::new(enter)))
        } else {
            Some(Incoming::Other)
        };
        decoded.unwrap_or(Incoming::Malformed)
    }

    /// The first message of a connection: the protocol's hash, which the server checks
    /// before it lets the player in.
    pub fn hello(&self) -> (u8, Vec<u8>) {
        (self.hash_channel, self.hash.clone())
    }

    pub fn input(&self, batch: &InputBatch) -> (u8, Vec<u8>) {
        (self.input, postcard::to_allocvec(batch).unwrap_or_default())
    }

    pub fn goodbye(&self) -> (u8, Vec<u8>) {
        (
            self.goodbye,
            postcard::to_allocvec(&tavern_shared::protocol::Goodbye).unwrap_or_default(),
        )
    }

    pub fn ack(&self, ack: &StatesAck) -> (u8, Vec<u8>) {
        (self.ack, postcard::to_allocvec(ack).unwrap_or_default())
    }

    pub fn voice_frame(&self, frame: &VoiceFrame) -> (u8, Vec<u8>) {
        (
            self.voice_frame,
            postcard::to_allocvec(frame).unwrap_or_default(),
        )
    }

    pub fn voice_status(&self, status: &VoiceStatus) -> (u8, Vec<u8>) {
        (
            self.voice_status,
            postcard::to_allocvec(status).unwrap_or_default(),
        )
    }
}

/// What the light bot sends.
#[derive(Debug)]
struct Driver {
    brain: Brain,
    /// Whether the bot sends inputs at all (`--still`: it stands where it spawned).
    moving: bool,
    started: Option<Instant>,
    generated: u64,
    next_seq: u32,
    unacked: VecDeque<(u32, InputFrame)>,
}

/// What a light bot has received.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    /// Other avatars it holds now.
    pub avatars: usize,
    /// Other avatars' state updates applied, since the start.
    pub updates: u64,
}

/// The light bot's sink: it only counts, and keeps its own avatar's state.
#[derive(Debug, Default)]
struct Counter {
    updates: u64,
    own: Option<OwnState>,
}

impl StreamSink<()> for Counter {
    fn spawn(&mut self, _: &AvatarIntro, _: AvatarState, _: bool) {}
    fn despawn(&mut self, _: ()) {}
    fn state(&mut self, _: (), _: AvatarState) {
        self.updates += 1;
    }
    fn own(&mut self, _: (), own: OwnState) {
        self.own = Some(own);
    }
}

/// An open connection.
struct Link {
    client: RenetClient,
    transport: NetcodeClientTransport,
    traffic: Traffic,
    me: u64,
    last: Instant,
    hash_sent: bool,
}

/// A light bot's voice: what it sends and what was relayed to it.
#[derive(Debug, Default)]
struct LightVoice {
    status: VoiceStatus,
    /// The status has gone out on the current link.
    status_sent: bool,
    next_seq: u16,
    heard: Vec<crate::voice::Heard>,
    /// The map it is on, and how far a voice carries there.
    map: Option<Arc<MapData>>,
    hearing_radius: f32,
}

/// One light bot: a renet2 connection and a few counters, no Bevy app.
pub struct LightBot {
    protocol: Arc<LightProtocol>,
    target: ServerTarget,
    /// Said goodbye: not logging in again.
    leaving: bool,
    status: ConnectionStatus,
    failed: u32,
    retry_at: Option<Instant>,
    login: Option<Pending<Result<Credentials, LoginError>>>,
    link: Option<Link>,
    book: StreamBook<()>,
    counter: Counter,
    driver: Driver,
    voice: LightVoice,
}

impl LightBot {
    pub fn new(
        protocol: Arc<LightProtocol>,
        target: ServerTarget,
        brain: Brain,
        moving: bool,
    ) -> LightBot {
        LightBot {
            protocol,
            target,
            leaving: false,
            status: ConnectionStatus::Idle,
            failed: 0,
            retry_at: None,
            login: None,
            link: None,
            book: StreamBook::default(),
            counter: Counter::default(),
            driver: Driver {
                brain,
                moving,
                started: None,
                generated: 0,
                next_seq: 1,
                unacked: VecDeque::new(),
            },
            voice: LightVoice::default(),
        }
    }

    pub fn status(&self) -> &ConnectionStatus {
        &self.status
    }

    pub fn is_connected(&self) -> bool {
        self.status == ConnectionStatus::Connected
    }

    /// Whether its own avatar's state has come (it is in the game).
    pub fn has_own_state(&self) -> bool {
        self.counter.own.is_some()
    }

    pub fn seen(&self) -> Seen {
        Seen {
            avatars: self.book.others(),
            updates: self.counter.updates,
        }
    }

    /// Bytes received and sent at the bot's socket so far.
    pub fn traffic(&self) -> Option<(u64, u64)> {
        self.link.as_ref().map(|l| l.traffic.totals())
    }

    /// Its avatar's stream id, once the roster brought it.
    pub fn own_stream_id(&self) -> Option<tavern_shared::stream::StreamId> {
        self.book.own_id()
    }

    /// Where its avatar stands, by the server's last word.
    pub fn own_position(&self) -> Option<Vec2> {
        self.counter.own.map(|o| o.state.motion.pos)
    }

    /// The map it is on and the hearing radius there.
    pub fn map(&self) -> Option<(Arc<MapData>, f32)> {
        Some((self.voice.map.clone()?, self.voice.hearing_radius))
    }

    /// Turns its microphone on or off (sent now, and again on a new connection).
    pub fn voice_status(&mut self, status: VoiceStatus) {
        self.voice.status = status;
        self.voice.status_sent = false;
    }

    /// Sends one frame of its voice (`None`: a frame left out as silent). Returns the
    /// frame's sequence number.
    pub fn speak(&mut self, opus: Option<&[u8]>) -> u16 {
        let seq = self.voice.next_seq;
        self.voice.next_seq = seq.wrapping_add(1);
        if let (Some(opus), Some(link)) = (opus, &mut self.link) {
            let frame = VoiceFrame {
                seq,
                opus: opus.to_vec(),
            };
            let (channel, bytes) = self.protocol.voice_frame(&frame);
            link.client.send_message(channel, bytes);
        }
        seq
    }

    /// The voice frames relayed to it since last asked.
    pub fn take_voice(&mut self) -> Vec<crate::voice::Heard> {
        std::mem::take(&mut self.voice.heard)
    }

    /// Round trip (s) and bytes per second down and up, once connected.
    pub fn network(&self) -> Option<(f64, f64, f64)> {
        link_figures(&self.link.as_ref()?.client)
    }

    /// Logs in, connects, takes in what arrived, drives and sends.
    pub fn update(&mut self) {
        let now = Instant::now();
        if self.link.is_none() {
            self.log_in(now);
            return;
        }
        if let Err(reason) = self.exchange(now) {
            self.link = None;
            self.book.clear();
            self.give_up_or_retry(now, reason);
        }
    }

    fn log_in(&mut self, now: Instant) {
        if matches!(self.status, ConnectionStatus::Failed(_)) {
            return;
        }
        let Some(pending) = &self.login else {
            if self.retry_at.is_none_or(|at| now >= at) {
                let (url, request) = (self.target.url.clone(), self.target.request());
                self.login = Some(crate::http::spawn(async move {
                    login_with(&url, &request).await
                }));
                if self.status == ConnectionStatus::Idle {
                    self.status = ConnectionStatus::LoggingIn;
                }
            }
            return;
        };
        let result = match pending.take() {
            Taken::Waiting => return,
            Taken::Done(result) => result,
            Taken::Lost => Err(LoginError::BadAnswer(
                "the login ended without an answer".into(),
            )),
        };
        self.login = None;
        let creds = match result {
            Ok(creds) => creds,
            Err(e) if e.is_transient() => return self.give_up_or_retry(now, e.to_string()),
            Err(e) => {
                self.status = ConnectionStatus::Failed(e.to_string());
                return;
            }
        };
        // Logging in again is as the same player, into the same room.
        if !creds.session.is_empty() {
            self.target.session = Some(creds.session.clone());
        }
        if !creds.room.is_empty() {
            self.target.room = Some(creds.room.clone());
        }
        match open_transport(&creds, self.protocol.config.clone()) {
            Ok((client, transport, traffic)) => {
                self.link = Some(Link {
                    client,
                    transport,
                    traffic,
                    me: creds.client_id,
                    last: now,
                    hash_sent: false,
                });
                self.voice.status_sent = false;
                if self.status == ConnectionStatus::LoggingIn {
                    self.status = ConnectionStatus::Connecting;
                }
            }
            Err(reason) => self.give_up_or_retry(now, reason),
        }
    }

    /// Leaves on purpose: the server lets the avatar go at once and closes the
    /// connection; the bot does not log in again.
    pub fn say_goodbye(&mut self) {
        self.leaving = true;
        if let Some(link) = &mut self.link {
            let (channel, bytes) = self.protocol.goodbye();
            link.client.send_message(channel, bytes);
        }
    }

    fn give_up_or_retry(&mut self, now: Instant, reason: String) {
        if self.leaving {
            self.status = ConnectionStatus::Failed("left".into());
            return;
        }
        let (status, delay) = after_failure(&mut self.failed, reason);
        self.status = status;
        self.retry_at = delay.map(|d| now + d);
    }

    /// One round on an open link; the reason if it ended.
    fn exchange(&mut self, now: Instant) -> Result<(), String> {
        let protocol = &*self.protocol;
        let link = self.link.as_mut().expect("called with a link");
        let dt = now - link.last;
        link.last = now;
        link.client.update(dt);
        link.transport
            .update(dt, &mut link.client)
            .map_err(|e| e.to_string())?;
        if link.client.is_disconnected() {
            return Err(link
                .client
                .disconnect_reason()
                .map_or_else(|| "disconnected".into(), |r| r.to_string()));
        }
        if link.client.is_connected() {
            if !link.hash_sent {
                link.hash_sent = true;
                let (channel, hello) = protocol.hello();
                link.client.send_message(channel, hello);
            }
            if !self.voice.status_sent {
                self.voice.status_sent = true;
                let (channel, status) = protocol.voice_status(&self.voice.status);
                link.client.send_message(channel, status);
            }
            if self.status != ConnectionStatus::Connected {
                self.status = ConnectionStatus::Connected;
                self.failed = 0;
            }
        }
        let mut received = false;
        let mut arrived = false;
        for channel in 0..protocol.server_channels {
            while let Some(bytes) = link.client.receive_message(channel) {
                match protocol.decode(channel, &bytes) {
                    Incoming::Roster(roster) => {
                        self.book.roster(&roster, Some(link.me), &mut self.counter);
                    }
                    Incoming::States(packet) => {
                        self.book.states(&packet, &mut self.counter);
                        received = true;
                    }
                    Incoming::EnterMap(enter) => {
                        arrived |= enter.arrival.is_some();
                        self.voice.hearing_radius = enter.hearing_radius;
                        self.voice.map = Some(Arc::new(enter.map));
                    }
                    // Kept for the driver to take (the last 1024 if it does not).
                    Incoming::Voice(relay) if self.voice.heard.len() < 1024 => {
                        self.voice.heard.push(crate::voice::Heard {
                            speaker: relay.speaker,
                            seq: relay.seq,
                            opus: relay.opus,
                            at: now,
                        });
                    }
                    Incoming::Voice(_) => {}
                    Incoming::Other => {}
                    Incoming::Malformed => {
                        return Err(format!("a message on channel {channel} did not decode"));
                    }
                }
            }
        }
        if received {
            let (channel, ack) = protocol.ack(&self.book.ack());
            link.client.send_message(channel, ack);
        }
        if let Some(batch) = drive(&mut self.driver, self.counter.own, arrived, now) {
            let (channel, input) = protocol.input(&batch);
            link.client.send_message(channel, input);
        }
        // While netcode is still shaking hands, `update` sends its own packets.
        if !link.transport.is_connected() {
            return Ok(());
        }
        link.transport
            .send_packets(&mut link.client)
            .map_err(|e| e.to_string())
    }
}

/// Says goodbye like a full bot, so the server frees the place at once.
impl Drop for LightBot {
    fn drop(&mut self) {
        if let Some(link) = &mut self.link {
            link.transport.disconnect();
        }
    }
}

/// Generates one input per 60 Hz tick of real time since the avatar was placed, and
/// returns the unacknowledged ones (oldest first, as many as a batch holds).
fn drive(d: &mut Driver, own: Option<OwnState>, arrived: bool, now: Instant) -> Option<InputBatch> {
    let own = own?;
    if !d.moving {
        return None;
    }
    if d.started.is_none() {
        d.started = Some(now);
        d.next_seq = own.last_input + 1;
    }
    if arrived {
        // Moved to another map: the server skips ahead, as for a full client.
        d.unacked.clear();
        d.next_seq += ARRIVAL_SEQ_GAP;
    }
    let started = d.started.unwrap_or(now);
    let due = ((now - started).as_secs_f64() * TICK_HZ) as u64;
    while d.generated < due {
        d.generated += 1;
        if d.unacked.len() < MAX_UNACKED {
            let frame = d.brain.next();
            d.unacked.push_back((d.next_seq, frame));
            d.next_seq += 1;
        }
    }
    while d
        .unacked
        .front()
        .is_some_and(|(seq, _)| *seq <= own.last_input)
    {
        d.unacked.pop_front();
    }
    let &(first_seq, _) = d.unacked.front()?;
    Some(InputBatch {
        first_seq,
        frames: d
            .unacked
            .iter()
            .take(MAX_FRAMES_PER_BATCH)
            .map(|(_, f)| *f)
            .collect(),
    })
}
