//! Tavern's headless, authoritative server: the game simulation at a fixed 60 Hz, netcode
//! over UDP, and the HTTP API, started together by [`start`].

pub mod admin;
pub mod admin_cli;
pub mod agents;
pub mod assets;
pub mod chat;
pub mod cli;
pub mod combat;
pub mod config;
pub mod config_file;
pub mod content;
pub mod exits;
pub mod files;
pub mod fleet;
pub mod gm;
pub mod http;
pub mod interest;
pub mod journal;
pub mod keys;
pub mod mailbox;
pub mod meetings;
pub mod metrics;
pub mod movement;
pub mod net;
pub mod players;
pub mod presence;
pub mod proximity;
pub mod reconnect;
pub mod reload;
pub mod rooms;
pub mod store;
pub mod validate;
pub mod voice;
pub mod world;
pub mod zones;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use bevy_replicon::prelude::*;
use bevy_replicon_renet2::RepliconRenetPlugins;
use bevy_replicon_renet2::netcode::{ServerSocket, WebSocketServer, WebSocketServerConfig};
use bevy_replicon_renet2::renet2::RenetServer;
use tavern_shared::api::Transport;
use tavern_shared::movement::TICK_HZ;

pub use config::ServerConfig;

/// The server's system order, declared once here.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameSystems {
    /// PreUpdate, after replicon has received packets: queue players' inputs.
    ReceiveInputs,
    /// FixedUpdate, first: the GM's table decides what stands still (paused rooms).
    Table,
    /// FixedUpdate: advance the simulation one tick.
    Simulate,
    /// FixedUpdate, after players moved: monsters, abilities, damage ([`combat::CombatSystems`]).
    Combat,
    /// FixedUpdate, after the simulation: zones, visibility and proximity from the new
    /// positions.
    Track,
}

/// Builds the game app around an already bound UDP socket.
pub fn build_app(
    maps: world::Maps,
    socket: UdpSocket,
    transport: net::TransportConfig,
) -> anyhow::Result<App> {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        StatesPlugin,
        // Replication ticks come from net::rate (--send-hz), not every frame.
        RepliconPlugins.build().set(ServerPlugin {
            tick_schedule: None,
            ..default()
        }),
        RepliconRenetPlugins,
    ))
    .insert_resource(Time::<Fixed>::from_hz(TICK_HZ))
    .add_plugins(tavern_shared::protocol_plugin)
    .configure_sets(
        PreUpdate,
        GameSystems::ReceiveInputs.after(ServerSystems::Receive),
    )
    .configure_sets(
        FixedUpdate,
        (
            GameSystems::Table,
            GameSystems::Simulate,
            GameSystems::Combat,
            GameSystems::Track,
        )
            .chain(),
    )
    .insert_resource(maps)
    .add_plugins((
        net::rate::plugin,
        net::plugin,
        metrics::plugin,
        players::plugin,
        movement::plugin,
        reload::plugin,
        content::plugin,
        combat::plugin,
        zones::plugin,
        interest::plugin,
        exits::plugin,
        proximity::plugin,
        chat::plugin,
        meetings::plugin,
        agents::plugin,
    ))
    .add_plugins((
        rooms::plugin,
        reconnect::plugin,
        presence::plugin,
        journal::plugin,
        gm::plugin,
        voice::plugin,
        admin::plugin,
    ));
    net::insert_transport(&mut app, socket, transport)?;
    Ok(app)
}

/// A running server: the game thread and the HTTP thread. Dropping it stops both.
#[derive(Debug)]
pub struct RunningServer {
    /// Where the UDP socket is bound.
    pub udp_addr: SocketAddr,
    /// What connect tokens tell clients to connect to.
    pub public_addr: SocketAddr,
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// What connect tokens for a WebSocket tell clients (`--ws`), if it is on.
    pub ws_addr: Option<SocketAddr>,
    /// Where browsers connect over WebTransport (`--webtransport`), if it is on.
    pub webtransport_url: Option<String>,
    stop: Arc<AtomicBool>,
    game: Option<JoinHandle<()>>,
    http: Option<JoinHandle<()>>,
    http_stop: Option<tokio::sync::oneshot::Sender<()>>,
    players: players::PlayerDirectory,
    draining: admin::Draining,
}

impl RunningServer {
    /// Every player connected and where it stands: the server's own view (`GET
    /// /api/players` shows a player only what it could see in the game).
    pub fn players(&self) -> Vec<tavern_shared::api::PlayerInfo> {
        self.players.list()
    }

    /// The server's entity of the avatar of `client_id` (its bits), to tell whether a
    /// player came back to the same avatar.
    pub fn avatar_of(&self, client_id: u64) -> Option<u64> {
        self.players.avatar_of(client_id).map(|e| e.to_bits())
    }

    /// The HTTP API's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn http_url(&self) -> String {
        format!("http://{}", http::serve::reachable(self.http_addr))
    }

    /// Whether the game thread has ended (it only does on stop or on a crash).
    /// An admin drained the server and it is done: nobody left, or the deadline passed.
    pub fn drained(&self) -> bool {
        self.draining.done(self.players.len())
    }

    pub fn has_stopped(&self) -> bool {
        self.game.as_ref().is_none_or(|g| g.is_finished())
    }

    /// Disconnects everyone cleanly and waits for both threads.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(tx) = self.http_stop.take() {
            let _ = tx.send(());
        }
        for handle in [self.game.take(), self.http.take()].into_iter().flatten() {
            if handle.join().is_err() {
                error!("a server thread panicked");
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn public_addr_for(bound: SocketAddr, given: Option<SocketAddr>) -> SocketAddr {
    given.unwrap_or_else(|| {
        if bound.ip().is_unspecified() {
            SocketAddr::new([127, 0, 0, 1].into(), bound.port())
        } else {
            bound
        }
    })
}

/// Loads the map and key, binds both ports, and starts the game and HTTP threads.
/// Every error names what was wrong (the map file, a port in use, a bad key).
pub fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let mut maps = world::Maps::load(&config.maps, config.start_map.as_deref())?;
    let map_list = maps.names();
    let map_names = map_list.join(", ");
    let rooms = rooms::open_configured(&mut maps, config.rooms_file.as_deref())?;
    let content = content::load_for(&config.content_dir, &maps)?;
    files::prepare_dir(&config.data_dir)?;
    let key = keys::load_or_create(&config.data_dir, config.netcode_key.as_deref())?;
    let socket = UdpSocket::bind(config.udp).with_context(|| {
        format!(
            "cannot bind the game's UDP socket to {} (--udp)",
            config.udp
        )
    })?;
    let udp_addr = socket.local_addr()?;
    let public_addr = public_addr_for(udp_addr, config.public_addr);
    if config.public_addr.is_none() && udp_addr.ip().is_unspecified() {
        warn!(%public_addr, "no --public-addr given: only players on this machine can connect");
    }
    let listener = TcpListener::bind(config.http)
        .with_context(|| format!("cannot bind the HTTP API to {} (--http)", config.http))?;
    listener.set_nonblocking(true)?;
    let http_addr = listener.local_addr()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tavern-io")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let websocket = match config.ws {
        Some(listen) => {
            let server = WebSocketServer::new(
                WebSocketServerConfig::new(listen, config.max_clients),
                runtime.handle().clone(),
            )
            .with_context(|| format!("cannot listen for WebSockets on {listen} (--ws)"))?;
            let bound = server.addr()?;
            Some((server, net::public_for(bound, public_addr)))
        }
        None => None,
    };
    let ws_addr = websocket.as_ref().map(|(_, addr)| *addr);
    let webtransport = match &config.webtransport {
        Some(wt) => Some(net::webtransport::start(
            wt,
            public_addr,
            config.max_clients,
            runtime.handle().clone(),
        )?),
        None => None,
    };
    let webtransport_listener = webtransport.as_ref().map(|(_, l)| l.clone());
    // The sockets' order: the HTTP API's tokens and the netcode server share it.
    let transports: Vec<net::Listener> =
        std::iter::once(net::Listener::plain(Transport::Udp, public_addr))
            .chain(ws_addr.map(|addr| net::Listener::plain(Transport::WebSocket, addr)))
            .chain(webtransport_listener.clone())
            .collect();
    let database_url = match config.database_url.clone() {
        Some(url) => url,
        None => {
            files::prepare_file(&store::default_path(&config.data_dir), "the chat database")?;
            store::default_url(&config.data_dir)
        }
    };
    let metrics = metrics::Metrics::default();
    let chat_store = runtime
        .block_on(store::ChatStore::open(&database_url))?
        .with_metrics(&metrics);
    let worker = chat::spawn_worker(runtime.handle(), chat_store.clone());
    let inventories = combat::loot::spawn_worker(runtime.handle(), chat_store.clone());
    let last_events = runtime
        .block_on(chat_store.last_event_seqs())
        .context("cannot read the combat event log")?;
    let event_log = combat::log::spawn_writer(
        runtime.handle(),
        chat_store.clone(),
        last_events,
        config.event_retention,
    );
    let agent_worker = agents::AgentWorker::new(runtime.handle(), chat_store.clone());
    let ai_gm = config
        .gm_webhook
        .clone()
        .map(|c| (c, gm::ai::AiTables::new(runtime.handle().clone())));
    let asset_files = match &config.assets_s3 {
        None => gm::files::AssetFiles::new(config.data_dir.join("assets")),
        Some(s3) => {
            if s3.access_key.is_empty() || s3.secret_key.is_empty() {
                anyhow::bail!(
                    "--assets-s3 {}: give the bucket's keys in TAVERN_S3_ACCESS_KEY_ID and TAVERN_S3_SECRET_ACCESS_KEY",
                    s3.url
                );
            }
            let bucket =
                gm::bucket::Bucket::new(s3).map_err(|e| anyhow::anyhow!("--assets-s3 {e}"))?;
            bucket
                .check()
                .map_err(|e| anyhow::anyhow!("--assets-s3 {}: {e}", s3.url))?;
            info!(bucket = %s3.url, "shared files are kept in an S3 bucket");
            gm::files::AssetFiles::in_bucket(bucket)
        }
    };
    let tables = runtime
        .block_on(gm_tables(&chat_store, &rooms, &map_list, &asset_files))
        .context("cannot read the campaigns from the database")?;
    let bans = runtime
        .block_on(chat_store.server_bans())
        .context("cannot read the server's bans from the database")?;
    let fleet = match &config.redis_url {
        Some(url) => {
            let id = config
                .node_id
                .clone()
                .unwrap_or_else(|| fleet::default_node_id(http_addr));
            let fleet = runtime.block_on(fleet::Fleet::connect(
                url,
                id,
                format!("http://{http_addr}"),
            ))?;
            info!(node = %fleet.node_id, redis = %fleet::shown(url), "this node registers in Redis");
            Some(fleet)
        }
        None => None,
    };
    let gm_worker = gm::session::spawn_worker(runtime.handle(), chat_store.clone());
    let table_mail = gm::TableMailbox::default();
    let players = players::PlayerDirectory::default();
    let packet_stats = Arc::new(net::guard::PacketStats::new(&metrics));
    let mut api_state = http::ApiState::new(
        key,
        transports.clone(),
        players.clone(),
        config.http_limits.clone(),
    );
    let directory = players.clone();
    api_state.store = Some(chat_store);
    let content = content::ContentHandle::new(content);
    api_state.content = Some(content.clone());
    api_state.packets = packet_stats.clone();
    api_state.metrics = metrics.clone();
    api_state.rooms = rooms.clone();
    api_state.room_settings = config.rooms.clone();
    api_state.map_names = maps.names();
    let served = assets::ServedAssets::default();
    served.rebuild(maps.all());
    api_state.assets = served.clone();
    if let Some(root) = &config.web_root {
        if !root.join("index.html").is_file() {
            anyhow::bail!(
                "--web-root {}: no index.html there (build the web client with `trunk build --release`)",
                root.display()
            );
        }
        info!(root = %root.display(), "serving the web client at /");
    }
    api_state.web_root = config.web_root.clone();
    api_state.table_mail = table_mail.clone();
    api_state.asset_files = Some(asset_files);
    let admin_mail = admin::AdminMailbox::default();
    api_state.admin_mail = admin_mail.clone();
    api_state.admin_token = config.admin_token.clone();
    let draining = api_state.draining.clone();
    api_state.bans = http::admin::Bans::new(bans);
    api_state.fleet = fleet.clone();
    if config.admin_token.is_some() {
        info!("the admin API is on (/api/admin/...)");
    }
    let api = Arc::new(api_state);
    let stop = Arc::new(AtomicBool::new(false));
    // A Bevy app cannot cross threads, so it is built on the game thread, which reports
    // whether that worked before it starts looping.
    let (built_tx, built_rx) = std::sync::mpsc::channel();
    let transport = net::TransportConfig {
        transports,
        websocket: websocket.map(|(server, _)| server),
        webtransport: webtransport.map(|(server, _)| server),
        key,
        max_clients: config.max_clients,
        handshakes_per_ip: config.handshakes_per_ip,
        stats: packet_stats,
    };
    let game = std::thread::Builder::new()
        .name("tavern-game".into())
        .spawn({
            let stop = stop.clone();
            let watch = reload::WatchMaps(config.watch_maps);
            let content_watch = content::ContentWatch::new(config.content_dir.clone());
            let radius = proximity::ProximityRadius(config.proximity_radius);
            let hearing =
                voice::HearingRadius(config.hearing_radius.unwrap_or(config.proximity_radius));
            let view = interest::ViewRadius(config.view_radius);
            let rate = net::rate::SendRate::new(config.send_hz);
            let rng = combat::CombatRng::seeded(config.combat_seed);
            let filter = chat::ChatFilter(config.chat_filter.clone());
            let jitsi = config.jitsi.clone();
            let agents = agents::Agents(Arc::new(config.agents.clone()));
            let room_settings = config.rooms.clone();
            let grace = reconnect::ReconnectGrace(config.reconnect_grace);
            move || match build_app(maps, socket, transport) {
                Ok(mut app) => {
                    app.insert_resource(players)
                        .insert_resource(metrics)
                        .insert_resource(watch)
                        .insert_resource(content)
                        .insert_resource(content_watch)
                        .insert_resource(radius)
                        .insert_resource(hearing)
                        .insert_resource(view)
                        .insert_resource(rate)
                        .insert_resource(rng)
                        .insert_resource(filter)
                        .insert_resource(jitsi)
                        .insert_resource(worker)
                        .insert_resource(inventories)
                        .insert_resource(event_log)
                        .insert_resource(agents)
                        .insert_resource(agent_worker)
                        .insert_resource(rooms)
                        .insert_resource(room_settings)
                        .insert_resource(served)
                        .insert_resource(grace)
                        .insert_resource(tables)
                        .insert_resource(gm_worker)
                        .insert_resource(table_mail)
                        .insert_resource(admin_mail);
                    if let Some((config, tables)) = ai_gm {
                        app.insert_resource(config).insert_resource(tables);
                    }
                    let _ = built_tx.send(Ok(()));
                    run_game_loop(app, &stop);
                }
                Err(e) => {
                    let _ = built_tx.send(Err(e));
                }
            }
        })?;
    built_rx
        .recv()
        .context("the game thread ended while starting")??;

    let (http_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = config.http_limits.clone();
    let http = std::thread::Builder::new()
        .name("tavern-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return error!("HTTP listener: {e}"),
                };
                http::spawn_upkeep(api.clone());
                if let Some(fleet) = &fleet {
                    tokio::spawn(fleet::heartbeat(api.clone(), fleet.clone()));
                }
                let stop = async {
                    let _ = stopped.await;
                };
                http::serve::serve(listener, http::router(api), limits, stop).await;
                if let Some(fleet) = &fleet {
                    fleet.leave().await;
                }
            });
            // Whatever the runtime still runs (a webhook call, say) ends with it.
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
    let webtransport_url = webtransport_listener.map(|l| l.address);
    info!(%udp_addr, %public_addr, %http_addr, ws = ?ws_addr, webtransport = ?webtransport_url, maps = %map_names, database = %store::redact(&database_url), "server running");
    Ok(RunningServer {
        udp_addr,
        public_addr,
        http_addr,
        ws_addr,
        webtransport_url,
        stop,
        game: Some(game),
        http: Some(http),
        http_stop: Some(http_stop),
        players: directory,
        draining,
    })
}

/// The campaigns the store keeps, put in the room directory, and the game's view of
/// them with their character sheets. A campaign on a map this server no longer has is
/// left out (and kept in the store) with a warning.
async fn gm_tables(
    store: &store::ChatStore,
    rooms: &rooms::RoomDirectory,
    maps: &[String],
    files: &gm::files::AssetFiles,
) -> Result<gm::Tables, sqlx::Error> {
    let mut assets: std::collections::HashMap<rooms::RoomId, Vec<_>> = Default::default();
    for (room, record) in store.all_assets().await? {
        files.index(&record);
        assets
            .entry(rooms::RoomId::from(room.as_str()))
            .or_default()
            .push(record.asset);
    }
    let mut sheets = std::collections::HashMap::new();
    for campaign in store.campaigns().await? {
        if !maps.contains(&campaign.map) {
            warn!(room = %campaign.room, map = %campaign.map, "campaign left out: its map is not among this server's maps");
            continue;
        }
        let room = http::campaigns::room_of(&campaign);
        sheets.insert(room.id.clone(), store.sheets(&campaign.room).await?);
        rooms.add_campaign(room);
    }
    Ok(gm::Tables::new(rooms.campaigns(), sheets, assets))
}

/// Updates the app about 60 times a second until `stop`, then disconnects everyone.
fn run_game_loop(mut app: App, stop: &AtomicBool) {
    app.finish();
    app.cleanup();
    let period = Duration::from_secs_f64(1.0 / TICK_HZ);
    let metrics = app.world().resource::<metrics::Metrics>().clone();
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let began = Instant::now();
        app.update();
        metrics.tick(began.elapsed());
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > period * 10 {
            // Far behind (a stall): don't try to replay the lost frames all at once.
            next = now;
        }
    }
    if let Some(mut server) = app.world_mut().get_resource_mut::<RenetServer>() {
        server.disconnect_all();
    }
    app.insert_resource(net::rate::Flush);
    // Let the disconnect packets go out.
    for _ in 0..3 {
        app.update();
        std::thread::sleep(period);
    }
    info!("game loop stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_address_defaults_to_loopback_for_wildcard_binds() {
        let bound: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        assert_eq!(
            public_addr_for(bound, None),
            "127.0.0.1:5000".parse().unwrap()
        );
        let given: SocketAddr = "203.0.113.7:6000".parse().unwrap();
        assert_eq!(public_addr_for(bound, Some(given)), given);
        let exact: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        assert_eq!(public_addr_for(exact, None), exact);
    }
}
