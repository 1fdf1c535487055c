//! What a server run is configured with, from flags, environment variables or code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything one server run needs. The CLI fills it; tests and the desktop client's
/// embedded server build it in code.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where the game's UDP socket binds.
    pub udp: SocketAddr,
    /// The address players' clients send UDP to; goes into connect tokens.
    /// Defaults to the bound UDP address, with `0.0.0.0` replaced by `127.0.0.1`.
    pub public_addr: Option<SocketAddr>,
    /// Where the HTTP API binds.
    pub http: SocketAddr,
    /// Where browsers' WebSocket connections are accepted (`--ws`); none when `None`.
    pub ws: Option<SocketAddr>,
    /// WebTransport for browsers (`--webtransport`); none when `None`.
    pub webtransport: Option<crate::net::webtransport::WebTransportConfig>,
    /// A folder served at `/` (the web client's `dist/`); nothing when `None`.
    pub web_root: Option<PathBuf>,
    /// Map files and folders of map files to run (every `.tmx`/`.tmj`/`.json` in a folder).
    /// Maps their exits lead to are loaded too.
    pub maps: Vec<PathBuf>,
    /// The map players join on, by name; by default the first path if it is a file, else
    /// `town` if loaded, else the first map found.
    pub start_map: Option<String>,
    /// Reload a map when its files change.
    pub watch_maps: bool,
    /// Players within this many pixels of each other are near (proximity chat).
    pub proximity_radius: f32,
    /// How far a voice carries, in pixels, where a map does not say
    /// (`--hearing-radius`); the proximity radius when `None`.
    pub hearing_radius: Option<f32>,
    /// Each player receives the avatars within this many pixels (and some up to 1.9
    /// times that on either axis).
    pub view_radius: f32,
    /// Replication sends per second, 10 to 60 (`--send-hz`).
    pub send_hz: u8,
    /// Seed of combat's random numbers (`--combat-seed`); from the OS when `None`.
    pub combat_seed: Option<u64>,
    /// How long the combat event log keeps events (`--event-retention`).
    pub event_retention: std::time::Duration,
    /// Chat database: `sqlite://...` or `postgres://...`; a SQLite file in `data_dir`
    /// when `None`.
    pub database_url: Option<String>,
    /// Words masked with `*` in chat.
    pub chat_filter: Vec<String>,
    /// Video meetings for `jitsiRoom` zones.
    pub jitsi: crate::meetings::JitsiConfig,
    /// Where NPCs' replies come from.
    pub agents: crate::agents::AgentConfig,
    /// The S3-compatible bucket campaigns' shared files are kept in (`--assets-s3`);
    /// `DATA_DIR/assets` when `None`.
    pub assets_s3: Option<crate::gm::bucket::BucketConfig>,
    /// The AI game master a campaign's GM may let run the table (`--gm-webhook`).
    pub gm_webhook: Option<crate::gm::ai::AiGmConfig>,
    /// The content folder (`assets/data`): combat stats, enemy types, abilities, loot
    /// tables and items.
    pub content_dir: PathBuf,
    /// Folder for the server's own files (the netcode key).
    pub data_dir: PathBuf,
    /// Most players connected at once.
    pub max_clients: usize,
    /// Handshakes in progress at once from one IP address (an IPv6 /64).
    pub handshakes_per_ip: u32,
    /// Limits of the HTTP API: login rates, live tokens, connections, timeouts.
    pub http_limits: crate::http::limits::HttpLimits,
    /// The netcode private key, base64 (32 bytes); otherwise read from or created in `data_dir`.
    pub netcode_key: Option<String>,
    /// The server's own rooms (`--rooms`); one public room on the start map when `None`.
    pub rooms_file: Option<PathBuf>,
    /// Rooms' limits and idle time.
    pub rooms: crate::rooms::RoomSettings,
    /// How long a dropped player's avatar waits for it (`--reconnect-grace-secs`).
    pub reconnect_grace: std::time::Duration,
    /// The admin API's bearer token; `None`: the API is off.
    pub admin_token: Option<String>,
    /// Redis, for several nodes (`None`: one node on its own).
    pub redis_url: Option<String>,
    /// This node's id in the fleet (default: the host's name and the HTTP port).
    pub node_id: Option<String>,
}

impl ServerConfig {
    /// A server on ephemeral loopback ports with the sample map: for tests and the
    /// desktop client's embedded server.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            udp: "127.0.0.1:0".parse().expect("valid literal"),
            public_addr: None,
            http: "127.0.0.1:0".parse().expect("valid literal"),
            ws: None,
            webtransport: None,
            web_root: None,
            maps: vec![default_maps_path()],
            start_map: None,
            watch_maps: true,
            proximity_radius: tavern_shared::proximity::DEFAULT_RADIUS,
            hearing_radius: None,
            view_radius: crate::interest::DEFAULT_VIEW_RADIUS,
            send_hz: crate::net::rate::DEFAULT_SEND_HZ,
            combat_seed: None,
            event_retention: crate::combat::log::DEFAULT_RETENTION,
            database_url: None,
            chat_filter: Vec::new(),
            jitsi: crate::meetings::JitsiConfig::default(),
            agents: crate::agents::AgentConfig::sample(),
            gm_webhook: None,
            assets_s3: None,
            content_dir: crate::content::default_dir(),
            data_dir: data_dir.into(),
            max_clients: 64,
            handshakes_per_ip: DEFAULT_HANDSHAKES_PER_IP,
            // Tests log many bots in from one address at once.
            http_limits: crate::http::limits::HttpLimits::for_load_tests(),
            netcode_key: None,
            rooms_file: None,
            rooms: crate::rooms::RoomSettings::default(),
            reconnect_grace: crate::reconnect::DEFAULT_GRACE,
            admin_token: None,
            redis_url: None,
            node_id: None,
        }
    }
}

/// Handshakes in progress at once from one address, unless configured.
pub const DEFAULT_HANDSHAKES_PER_IP: u32 = 16;

/// `maps/` under the working directory if it is there, else the repository's copy
/// (so `cargo run` works from any folder of a checkout).
pub fn default_maps_path() -> PathBuf {
    repo_path("maps")
}

/// `relative` under the working directory if it exists, else under the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    let here = PathBuf::from(relative);
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}
