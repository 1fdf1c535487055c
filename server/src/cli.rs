//! The `tavern-server` command line: flags, environment variables, logging, and the
//! blocking run that waits for Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ServerConfig, default_maps_path};
use crate::config_file::{CONFIG_FLAG, ConfigFile};
use crate::http::limits::HttpLimits;
use crate::keys::KEY_ENV;

#[derive(Parser, Debug)]
#[command(
    name = "tavern-server",
    version,
    about = "Tavern's headless game server: runs the world, accepts players over UDP, serves the login API over HTTP.",
    long_about = "Tavern's headless game server.\n\n\
        It simulates the world at 60 ticks per second and is the only authority: clients send \
        inputs, never positions. Players log in over HTTP (POST /api/login) and receive a \
        connect token, then play over UDP.\n\n\
        Running `tavern-server` with no subcommand is the same as `tavern-server run`.",
    args_conflicts_with_subcommands = true,
    after_help = "Every flag can also be set with the environment variable shown. \
        Secrets (the netcode key, --jitsi-secret, a --database-url with a password) belong in \
        the environment or a file (--jitsi-secret-file, --database-url-file), not on the \
        command line, where other users of the machine can read them in the process list. \
        The netcode private key is read from TAVERN_NETCODE_KEY (base64, 32 bytes) if set, \
        otherwise from DATA_DIR/netcode.key, which is created with mode 0600 on first run.\n\n\
        The HTTP API speaks plain HTTP and listens on 127.0.0.1 by default. Connect tokens and \
        API tokens travel over it, so to serve players on other machines put it behind a \
        reverse proxy that terminates TLS (Caddy, nginx) and keep --http on loopback.\n\n\
        Example: tavern-server --udp 0.0.0.0:5000 --public-addr 203.0.113.7:5000 --http 127.0.0.1:8080"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Run(Box<RunArgs>),
    /// Check maps and report every problem in plain words, without starting a server.
    ///
    /// Exits 0 when no map has errors (warnings are allowed), 1 otherwise.
    #[command(name = "validate-map")]
    ValidateMap(crate::validate::ValidateArgs),
    /// Show or check the configuration: `config print` shows what `run` would use, and
    /// from where; `config check FILE` checks a configuration file without starting.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Call a running server's admin API (its --admin-token in TAVERN_ADMIN_TOKEN):
    /// list players, rooms and nodes, kick a player, broadcast a message.
    Admin(crate::admin_cli::AdminArgs),
}

/// `tavern-server config ...`
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration (flags > environment > --config file >
    /// defaults) as a configuration file, each setting with where it came from and
    /// secrets redacted. Takes the flags of `run`.
    Print(Box<RunArgs>),
    /// Check a configuration file: every key a flag of `run`, every value of its type,
    /// the flags together consistent. Exits 0 when it is, 1 (with the key and line)
    /// otherwise.
    Check {
        /// The file (TOML).
        file: PathBuf,
    },
}

/// How log lines are written.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// A configuration file (TOML) with any of these flags as keys, without their dashes:
    /// `hearing-radius = 300`, `map = ["maps/town.tmx"]`, `no-watch = true`. Flags and
    /// environment variables win over it; it wins over the defaults. See `tavern-server
    /// config print` and `config check`.
    #[arg(long, value_name = "FILE", env = "TAVERN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address the game's UDP socket binds to.
    #[arg(
        long,
        value_name = "ADDR",
        env = "TAVERN_UDP",
        default_value = "0.0.0.0:5000"
    )]
    pub udp: SocketAddr,

    /// Address players' clients send UDP to, written into connect tokens. Set it to the
    /// machine's public IP and port when players connect from elsewhere. [default: the
    /// --udp address, with 0.0.0.0 replaced by 127.0.0.1]
    #[arg(long, value_name = "ADDR", env = "TAVERN_PUBLIC_ADDR")]
    pub public_addr: Option<SocketAddr>,

    /// Address the HTTP API (login, health check) binds to. It is plain HTTP: keep it on
    /// loopback behind a TLS reverse proxy when players connect from elsewhere.
    #[arg(
        long,
        value_name = "ADDR",
        env = "TAVERN_HTTP",
        default_value = "127.0.0.1:8080"
    )]
    pub http: SocketAddr,

    /// Also accept game connections over WebSocket (browsers) on this address, e.g.
    /// 0.0.0.0:8081. Netcode encrypts the packets as over UDP; the login answer tells
    /// clients the address (the --public-addr host, or 127.0.0.1 for a wildcard bind,
    /// with this port). [default: off]
    #[arg(long, value_name = "ADDR", env = "TAVERN_WS")]
    pub ws: Option<SocketAddr>,

    /// Also accept game connections over WebTransport (browsers that have it, such as
    /// Chrome and Edge; the others use --ws) on this UDP address, e.g. 0.0.0.0:8443.
    /// Without --cert and --key the server signs its own certificate at start, valid 13
    /// days, which browsers accept by the hash the login answer hands them. [default:
    /// off]
    #[arg(long, value_name = "ADDR", env = "TAVERN_WEBTRANSPORT")]
    pub webtransport: Option<SocketAddr>,

    /// WebTransport's TLS certificate, PEM or DER (of a chain, only the first is sent),
    /// instead of a self-signed one; with --key.
    #[arg(long, value_name = "FILE", env = "TAVERN_CERT", requires_all = ["key", "webtransport"])]
    pub cert: Option<PathBuf>,

    /// The private key of --cert, PEM (PKCS#8, PKCS#1 or SEC1) or DER (PKCS#8).
    #[arg(long, value_name = "FILE", env = "TAVERN_KEY", requires = "cert")]
    pub key: Option<PathBuf>,

    /// The URL browsers open WebTransport at, https://HOST:PORT, with the host the
    /// certificate is for. [default: https:// with the --public-addr host and the
    /// --webtransport port]
    #[arg(long, value_name = "URL", env = "TAVERN_WEBTRANSPORT_URL",
          value_parser = crate::net::webtransport::parse_url, requires = "webtransport")]
    pub webtransport_url: Option<url::Url>,

    /// Serve this folder's files at / (the web client's build, `dist/`), compressed with
    /// gzip or Brotli when the browser takes it; the API keeps its paths. [default:
    /// dist/ if it holds an index.html, else nothing]
    #[arg(long, value_name = "DIR", env = "TAVERN_WEB_ROOT")]
    pub web_root: Option<PathBuf>,

    /// A Tiled map file (.tmx, .tmj, .json) or a folder of them to run; repeat for more.
    /// Maps that exits lead to are loaded too. [default: maps/]
    #[arg(long, value_name = "PATH", env = "TAVERN_MAP", value_delimiter = ',')]
    pub map: Vec<PathBuf>,

    /// The map players join on, by name (file name without extension). [default: the
    /// first --map if it is a file, else town if loaded, else the first map found]
    #[arg(long, value_name = "NAME", env = "TAVERN_START_MAP")]
    pub start_map: Option<String>,

    /// Players within this many pixels of each other are near: they hear each other's
    /// proximity chat and are told when someone comes or goes.
    #[arg(long, value_name = "PX", env = "TAVERN_PROXIMITY_RADIUS", default_value_t = 100,
          value_parser = clap::value_parser!(u16).range(1..=5000))]
    pub proximity_radius: u16,

    /// A player's voice reaches those within this many pixels (and in the same meeting,
    /// on the same side of a silent zone's edge). A map's `hearingRadius` property
    /// overrides it. [default: the proximity radius]
    #[arg(long, value_name = "PX", env = "TAVERN_HEARING_RADIUS",
          value_parser = clap::value_parser!(u16).range(1..=2000))]
    pub hearing_radius: Option<u16>,

    /// Each player receives the other avatars within this many pixels of its own (and,
    /// by the grid it is checked on, some up to 1.9 times as far on either axis).
    #[arg(long, value_name = "PX", env = "TAVERN_VIEW_RADIUS", default_value_t = 800,
          value_parser = clap::value_parser!(u16).range(64..=20000))]
    pub view_radius: u16,

    /// How many times a second players are sent what changed (the simulation runs at
    /// 60 Hz whatever this is). Lower sends fewer, larger packets; prediction stays exact.
    #[arg(long, value_name = "HZ", env = "TAVERN_SEND_HZ", default_value_t = 20,
          value_parser = clap::value_parser!(u8).range(10..=60))]
    pub send_hz: u8,

    /// Seed for combat's random numbers (damage rolls, critical hits, loot, where
    /// monsters appear and wander), to replay a run exactly. [default: a fresh one from
    /// the OS at each start]
    #[arg(long, value_name = "N", env = "TAVERN_COMBAT_SEED")]
    pub combat_seed: Option<u64>,

    /// Hours the combat event log (GET /api/events/{map}) keeps events.
    #[arg(long, value_name = "HOURS", env = "TAVERN_EVENT_RETENTION", default_value_t = 24,
          value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub event_retention: u32,

    /// Chat database: postgres://USER:PASSWORD@HOST/DB, or sqlite://FILE. With a password,
    /// prefer the environment variable or --database-url-file.
    /// [default: a SQLite file, DATA_DIR/tavern.db]
    #[arg(
        long,
        value_name = "URL",
        env = "TAVERN_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// A file whose first line is the database URL (instead of --database-url).
    #[arg(
        long,
        value_name = "FILE",
        env = "TAVERN_DATABASE_URL_FILE",
        conflicts_with = "database_url"
    )]
    pub database_url_file: Option<PathBuf>,

    /// A text file of words to mask with `*` in chat, one per line (# starts a comment).
    #[arg(long, value_name = "FILE", env = "TAVERN_CHAT_FILTER")]
    pub chat_filter: Option<PathBuf>,

    /// The Jitsi server for meeting zones.
    #[arg(
        long,
        value_name = "DOMAIN",
        env = "TAVERN_JITSI_DOMAIN",
        default_value = "meet.jit.si"
    )]
    pub jitsi_domain: String,

    /// App id for meeting tokens (JWT); needs --jitsi-secret.
    #[arg(
        long,
        value_name = "ID",
        env = "TAVERN_JITSI_APP_ID",
        requires = "jitsi_secret"
    )]
    pub jitsi_app_id: Option<String>,

    /// Secret that signs meeting tokens (HS256, for one room, 5 minutes); needs
    /// --jitsi-app-id. Prefer the environment variable or --jitsi-secret-file.
    #[arg(
        long,
        value_name = "SECRET",
        env = "TAVERN_JITSI_SECRET",
        hide_env_values = true,
        requires = "jitsi_app_id"
    )]
    pub jitsi_secret: Option<String>,

    /// A file whose first line is the meeting secret (instead of --jitsi-secret).
    #[arg(
        long,
        value_name = "FILE",
        env = "TAVERN_JITSI_SECRET_FILE",
        conflicts_with = "jitsi_secret",
        requires = "jitsi_app_id"
    )]
    pub jitsi_secret_file: Option<PathBuf>,

    /// Content folder: combat_stats.toml, enemy_types.toml, abilities.toml,
    /// loot_tables.toml and items.toml, checked at start. [default: assets/data]
    #[arg(long, value_name = "DIR", env = "TAVERN_CONTENT")]
    pub content: Option<PathBuf>,

    /// NPC scripts: what each agentId says when there is no --agent-webhook.
    /// [default: assets/agents.toml, if it is there]
    #[arg(long, value_name = "FILE", env = "TAVERN_AGENTS")]
    pub agents: Option<PathBuf>,

    /// NPC replies from this HTTP endpoint instead of the scripts: it is POSTed
    /// {"agent_id", "user", "message", "history"} and answers {"reply": "..."}.
    #[arg(long, value_name = "URL", env = "TAVERN_AGENT_WEBHOOK", value_parser = parse_http_url)]
    pub agent_webhook: Option<String>,

    /// How long the agent webhook may take to answer before the player is told it failed.
    #[arg(long, value_name = "SECS", env = "TAVERN_AGENT_TIMEOUT", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub agent_timeout: u64,

    /// The AI game master: an HTTP endpoint that a campaign's GM can let run the table
    /// (`/aigm on`). It is POSTed {"room", "campaign", "players", "events"} and answers
    /// {"narrate"?, "scene"?, "session"?, "roll"?, "encounter"?}.
    #[arg(long, value_name = "URL", env = "TAVERN_GM_WEBHOOK", value_parser = parse_http_url)]
    pub gm_webhook: Option<String>,

    /// How long the AI game master may think before the table is told it failed.
    #[arg(long, value_name = "SECS", env = "TAVERN_GM_WEBHOOK_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub gm_webhook_timeout: u64,

    /// Don't reload maps when their files change.
    #[arg(long, env = "TAVERN_NO_WATCH")]
    pub no_watch: bool,

    /// Folder for the server's own files (the netcode key, the SQLite chat database).
    /// Created readable by its owner only (0700) if missing.
    #[arg(
        long,
        value_name = "DIR",
        env = "TAVERN_DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,

    /// Most players connected at once (at most 4096).
    #[arg(long, value_name = "N", env = "TAVERN_MAX_CLIENTS", default_value_t = 256,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_clients: u16,

    /// Handshakes (connections being set up) at once from one IP address or IPv6 /64;
    /// more wait until one finishes.
    #[arg(long, value_name = "N", env = "TAVERN_HANDSHAKES_PER_IP",
          default_value_t = crate::config::DEFAULT_HANDSHAKES_PER_IP,
          value_parser = clap::value_parser!(u32).range(1..=4000))]
    pub handshakes_per_ip: u32,

    /// Login requests per minute from one IP address (after a burst of --login-burst).
    #[arg(long, value_name = "N", env = "TAVERN_LOGIN_RATE", default_value_t = HttpLimits::default().logins_per_minute,
          value_parser = clap::value_parser!(u32).range(1..=600_000))]
    pub login_rate: u32,

    /// Login requests one IP address may make at once before --login-rate applies.
    #[arg(long, value_name = "N", env = "TAVERN_LOGIN_BURST", default_value_t = HttpLimits::default().login_burst,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub login_burst: u32,

    /// Connect tokens one IP address may hold at once (a token lives 15 s).
    #[arg(long, value_name = "N", env = "TAVERN_TOKENS_PER_IP", default_value_t = HttpLimits::default().tokens_per_ip,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tokens_per_ip: u32,

    /// Connect tokens one name may hold at once.
    #[arg(long, value_name = "N", env = "TAVERN_TOKENS_PER_NAME", default_value_t = HttpLimits::default().tokens_per_name,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub tokens_per_name: u32,

    /// Hours an account's login session lasts before it must log in with its password
    /// again.
    #[arg(long, value_name = "HOURS", env = "TAVERN_SESSION_TTL", default_value_t = 168,
          value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub session_ttl: u32,

    /// The server's own rooms, always open: a TOML file of [[room]] tables (id, name,
    /// map, max_players, private, password). [default: one public room on the start map]
    #[arg(long, value_name = "FILE", env = "TAVERN_ROOMS")]
    pub rooms: Option<PathBuf>,

    /// Seconds a room players made stays open with nobody in it (also how long an
    /// unvisited map of such a room keeps its monsters and loot).
    #[arg(long, value_name = "SECS", env = "TAVERN_ROOM_IDLE_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub room_idle_secs: u64,

    /// Rooms at most on the server, the configured ones included.
    #[arg(long, value_name = "N", env = "TAVERN_MAX_ROOMS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_rooms: u32,

    /// Open rooms one player may own at once.
    #[arg(long, value_name = "N", env = "TAVERN_ROOMS_PER_PLAYER", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rooms_per_player: u32,

    /// Seconds a dropped player's avatar waits (shown as reconnecting, not simulated)
    /// for the player to log in again and take it back; 0: it leaves at once.
    #[arg(long, value_name = "SECS", env = "TAVERN_RECONNECT_GRACE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub reconnect_grace_secs: u64,

    /// Turns on the admin API (/api/admin/...: lists of nodes, rooms and players, kick,
    /// broadcast) for requests carrying this token as `Authorization: Bearer TOKEN`; at
    /// least 16 characters. Prefer the environment variable: the command line is public
    /// to other users of the machine. [default: off]
    #[arg(long, value_name = "TOKEN", env = "TAVERN_ADMIN_TOKEN", value_parser = parse_admin_token)]
    pub admin_token: Option<String>,

    /// Redis, shared by several nodes (redis://[:PASSWORD@]HOST:PORT[/DB]): this node
    /// registers there (its id, addresses, players and rooms, renewed every 2 s, gone 6
    /// s after it stops renewing) and the admin API lists every node. The server does
    /// not start when Redis does not answer. [default: off, one node on its own]
    #[arg(long, value_name = "URL", env = "TAVERN_REDIS_URL")]
    pub redis_url: Option<String>,

    /// This node's id among several. [default: the host's name and the HTTP port]
    #[arg(long, value_name = "ID", env = "TAVERN_NODE_ID")]
    pub node_id: Option<String>,

    /// Open HTTP connections at once; more are answered 503 and closed.
    #[arg(long, value_name = "N", env = "TAVERN_HTTP_MAX_CONNECTIONS", default_value_t = HttpLimits::default().max_connections,
          value_parser = parse_connections)]
    pub http_max_connections: usize,

    /// Seconds an HTTP client has to send a request's headers.
    #[arg(long, value_name = "SECS", env = "TAVERN_HTTP_HEADER_TIMEOUT", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub http_header_timeout: u64,

    /// Seconds an HTTP request (body included) may take in all.
    #[arg(long, value_name = "SECS", env = "TAVERN_HTTP_REQUEST_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub http_request_timeout: u64,

    /// Largest file (image or sound) a campaign's GM may share, in megabytes (clients
    /// download at most 16).
    #[arg(long, value_name = "MB", env = "TAVERN_MAX_ASSET_MB", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=16))]
    pub max_asset_mb: u64,

    /// Keep campaigns' shared files in this S3-compatible bucket instead of
    /// DATA_DIR/assets: http://HOST:PORT/BUCKET[/PREFIX] (http only), with the keys in
    /// TAVERN_S3_ACCESS_KEY_ID and TAVERN_S3_SECRET_ACCESS_KEY.
    #[arg(long, value_name = "URL", env = "TAVERN_ASSETS_S3")]
    pub assets_s3: Option<String>,

    /// The bucket's region, for the request signatures.
    #[arg(
        long,
        value_name = "REGION",
        env = "TAVERN_ASSETS_S3_REGION",
        default_value = "us-east-1"
    )]
    pub assets_s3_region: String,

    /// Log format.
    #[arg(long, value_enum, env = "TAVERN_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// A number of HTTP connections, 1 to 100000.
fn parse_connections(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a number from 1 to 100000")),
    }
}

/// Accepts `http://...` and `https://...` URLs with a host.
fn parse_http_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| format!("`{text}` is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') || text.chars().any(char::is_whitespace) {
        return Err(format!("`{text}` has no host or contains spaces"));
    }
    Ok(text.to_string())
}

impl RunArgs {
    /// Where NPC replies come from: the webhook if given; the scripts from --agents, or
    /// from assets/agents.toml when that exists. A scripts file that is given or present
    /// but broken is an error.
    pub fn agent_config(&self) -> anyhow::Result<crate::agents::AgentConfig> {
        use crate::agents::{AgentConfig, Scripts, default_scripts_path};
        let path = match &self.agents {
            Some(path) => Some(path.clone()),
            None => Some(default_scripts_path()).filter(|p| p.exists()),
        };
        let scripts = match &path {
            Some(path) => Scripts::load(path).map_err(|e| anyhow::anyhow!(e))?,
            None => Scripts::default(),
        };
        Ok(AgentConfig {
            webhook: self.agent_webhook.clone(),
            timeout: Duration::from_secs(self.agent_timeout),
            idle: Duration::from_secs(crate::agents::IDLE_SECS),
            scripts,
            scripts_file: path,
        })
    }

    pub fn to_config(&self) -> ServerConfig {
        ServerConfig {
            udp: self.udp,
            public_addr: self.public_addr,
            ws: self.ws,
            webtransport: self.webtransport.map(|listen| {
                crate::net::webtransport::WebTransportConfig {
                    listen,
                    certificate: self.cert.clone().zip(self.key.clone()).map(|(cert, key)| {
                        crate::net::webtransport::CertificateFiles { cert, key }
                    }),
                    url: self.webtransport_url.clone(),
                }
            }),
            web_root: self
                .web_root
                .clone()
                .or_else(|| Some(PathBuf::from("dist")).filter(|d| d.join("index.html").is_file())),
            http: self.http,
            maps: if self.map.is_empty() {
                vec![default_maps_path()]
            } else {
                self.map.clone()
            },
            start_map: self.start_map.clone(),
            watch_maps: !self.no_watch,
            proximity_radius: f32::from(self.proximity_radius),
            hearing_radius: self.hearing_radius.map(f32::from),
            view_radius: f32::from(self.view_radius),
            send_hz: self.send_hz,
            combat_seed: self.combat_seed,
            event_retention: std::time::Duration::from_secs(u64::from(self.event_retention) * 3600),
            database_url: self.database_url.clone(),
            chat_filter: Vec::new(),
            jitsi: crate::meetings::JitsiConfig {
                domain: self.jitsi_domain.clone(),
                app_id: self.jitsi_app_id.clone(),
                secret: self.jitsi_secret.clone(),
            },
            agents: crate::agents::AgentConfig::default(),
            assets_s3: self.assets_s3.clone().map(|url| {
                let key = |ours: &str, aws: &str| {
                    std::env::var(ours)
                        .or_else(|_| std::env::var(aws))
                        .unwrap_or_default()
                };
                crate::gm::bucket::BucketConfig {
                    url,
                    region: self.assets_s3_region.clone(),
                    access_key: key("TAVERN_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
                    secret_key: key("TAVERN_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
                }
            }),
            gm_webhook: self
                .gm_webhook
                .clone()
                .map(|url| crate::gm::ai::AiGmConfig {
                    url,
                    timeout: Duration::from_secs(self.gm_webhook_timeout),
                }),
            content_dir: self
                .content
                .clone()
                .unwrap_or_else(crate::content::default_dir),
            data_dir: self.data_dir.clone(),
            max_clients: usize::from(self.max_clients),
            handshakes_per_ip: self.handshakes_per_ip,
            http_limits: HttpLimits {
                logins_per_minute: self.login_rate,
                login_burst: self.login_burst,
                tokens_per_ip: self.tokens_per_ip,
                tokens_per_name: self.tokens_per_name,
                session_ttl: Duration::from_secs(u64::from(self.session_ttl) * 3600),
                max_connections: self.http_max_connections,
                header_timeout: Duration::from_secs(self.http_header_timeout),
                request_timeout: Duration::from_secs(self.http_request_timeout),
                max_asset_bytes: self.max_asset_mb * 1024 * 1024,
                ..HttpLimits::default()
            },
            netcode_key: std::env::var(KEY_ENV).ok(),
            rooms_file: self.rooms.clone(),
            reconnect_grace: Duration::from_secs(self.reconnect_grace_secs),
            admin_token: self.admin_token.clone(),
            redis_url: self.redis_url.clone(),
            node_id: self.node_id.clone(),
            rooms: crate::rooms::RoomSettings {
                idle: Duration::from_secs(self.room_idle_secs),
                max_rooms: self.max_rooms as usize,
                per_player: self.rooms_per_player as usize,
            },
        }
    }
}

/// What is logged when `RUST_LOG` is not set: `info`, without netcode's line per bad
/// packet (the UDP gate counts those in `/metrics` and logs a summary each minute).
pub const DEFAULT_LOG_FILTER: &str = "info,renetcode2=off";

/// Sets up structured logging; `RUST_LOG` replaces [`DEFAULT_LOG_FILTER`].
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The command line with the `--config` file's settings added (as flags, below the
/// command line's and the environment's), and the file.
pub fn with_config_file(
    argv: Vec<std::ffi::OsString>,
) -> anyhow::Result<(Vec<std::ffi::OsString>, Option<ConfigFile>)> {
    use clap::CommandFactory;
    let command = Cli::command();
    let lenient = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&argv);
    // `--config` (or TAVERN_CONFIG) at the top, after `run`, or after `config print`.
    let (mut path, mut words) = (None, Vec::new());
    if let Ok(mut matches) = lenient {
        loop {
            if let Ok(Some(p)) = matches.try_get_one::<PathBuf>(CONFIG_FLAG) {
                path = Some(p.clone());
            }
            match matches.remove_subcommand() {
                Some((name, sub)) => {
                    words.push(name);
                    matches = sub;
                }
                None => break,
            }
        }
    }
    // Only what runs (or prints) the server takes the file's flags.
    let runs = matches!(words.as_slice(), [] | [_]) && words.iter().all(|w| w == "run")
        || words == ["config", "print"];
    let (Some(path), true) = (path, runs) else {
        return Ok((argv, None));
    };
    let mut file = ConfigFile::load(&path, &command)?;
    Ok((file.merged(&command, &argv), Some(file)))
}

/// `config check FILE`: the file alone, through the whole command line's checks.
fn check_config(path: &std::path::Path) -> std::process::ExitCode {
    use clap::CommandFactory;
    let checked = ConfigFile::load(path, &Cli::command()).and_then(|mut file| {
        let argv = file.merged(&Cli::command(), &["tavern-server".into()]);
        let cli = Cli::try_parse_from(argv).map_err(|e| {
            anyhow::anyhow!(
                "{}: {}",
                path.display(),
                crate::config_file::clap_reason(&e)
            )
        })?;
        cli.run.agent_config()?;
        Ok(file.settings.len())
    });
    match checked {
        Ok(n) => {
            println!(
                "{}: {n} setting{}, all good",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Parses the command line and runs until Ctrl-C or SIGTERM. Returns the exit code.
pub fn main() -> std::process::ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let (argv, file) = match with_config_file(std::env::args_os().collect()) {
        Ok(merged) => merged,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let matches = Cli::command().get_matches_from(&argv);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let args = match cli.command {
        Some(Command::Run(args)) => *args,
        Some(Command::ValidateMap(args)) => return crate::validate::main(&args),
        Some(Command::Config(ConfigCommand::Check { file })) => return check_config(&file),
        Some(Command::Admin(args)) => return crate::admin_cli::main(&args),
        Some(Command::Config(ConfigCommand::Print(_))) => {
            let command = Cli::command();
            let print = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("print"));
            let print_command = command
                .find_subcommand("config")
                .and_then(|c| c.find_subcommand("print"));
            if let (Some(m), Some(c)) = (print, print_command) {
                print!("{}", crate::config_file::describe(c, m, file.as_ref()));
            }
            return std::process::ExitCode::SUCCESS;
        }
        None => cli.run,
    };
    init_logging(args.log_format);
    let loaded = args
        .chat_filter
        .as_deref()
        .map(read_word_list)
        .transpose()
        .and_then(|words| Ok((words, args.agent_config()?)));
    let loaded = loaded.and_then(|(words, agents)| {
        let mut config = ServerConfig {
            chat_filter: words.unwrap_or_default(),
            agents,
            ..args.to_config()
        };
        if let Some(path) = &args.database_url_file {
            config.database_url = Some(read_secret(path, "--database-url-file")?);
        }
        if let Some(path) = &args.jitsi_secret_file {
            config.jitsi.secret = Some(read_secret(path, "--jitsi-secret-file")?);
        }
        Ok(config)
    });
    let config = match loaded {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("{e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run(config) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// An admin token: 16 to 200 printable characters, no spaces.
fn parse_admin_token(s: &str) -> Result<String, String> {
    let ok = (16..=200).contains(&s.chars().count()) && s.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(s.to_string())
    } else {
        Err("an admin token is 16 to 200 printable characters without spaces".into())
    }
}

/// Reads a secret from the first line of a file (trailing spaces and newline dropped).
pub fn read_secret(path: &std::path::Path, flag: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read the file given to {flag}: {e}",
            path.display()
        )
    })?;
    let line = text.lines().next().unwrap_or("").trim_end().to_string();
    if line.is_empty() {
        anyhow::bail!("{}: the file given to {flag} is empty", path.display());
    }
    Ok(line)
}

/// Reads a word list: one word per line, blank lines and `#` comments skipped.
pub fn read_word_list(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read the chat filter (--chat-filter): {e}",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Starts the server and blocks until a shutdown signal, then stops it cleanly.
pub fn run(config: ServerConfig) -> anyhow::Result<()> {
    let server = crate::start(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let crashed = runtime.block_on(async {
        let mut watchdog = tokio::time::interval(Duration::from_millis(500));
        #[cfg(unix)]
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            #[cfg(unix)]
            let terminated = term.recv();
            #[cfg(not(unix))]
            let terminated = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break Ok::<bool, anyhow::Error>(false),
                _ = terminated => break Ok(false),
                _ = watchdog.tick() => {
                    if server.has_stopped() {
                        break Ok(true);
                    }
                    if server.drained() {
                        tracing::info!("drained: nobody left (or the deadline passed); stopping");
                        break Ok(false);
                    }
                }
            }
        }
    })?;
    if crashed {
        anyhow::bail!("the game loop stopped unexpectedly; see the log above");
    }
    tracing::info!("shutting down");
    server.stop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn webtransport_flags_come_together() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("tavern-server").chain(args.iter().copied()))
        };
        let cli = parse(&["--webtransport", "0.0.0.0:8443"]).unwrap();
        let wt = cli.run.to_config().webtransport.expect("on");
        assert_eq!(wt.listen.port(), 8443);
        assert!(wt.certificate.is_none() && wt.url.is_none());
        let cli = parse(&[
            "--webtransport",
            "0.0.0.0:8443",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--webtransport-url",
            "https://play.example.com:8443",
        ])
        .unwrap();
        let wt = cli.run.to_config().webtransport.unwrap();
        let files = wt.certificate.unwrap();
        assert_eq!(
            (files.cert.to_str(), files.key.to_str()),
            (Some("c.pem"), Some("k.pem"))
        );
        assert_eq!(wt.url.unwrap().host_str(), Some("play.example.com"));
        // A certificate alone, or without WebTransport, or a URL without a port: refused.
        for bad in [
            &["--webtransport", "0.0.0.0:8443", "--cert", "c.pem"][..],
            &["--cert", "c.pem", "--key", "k.pem"],
            &["--webtransport-url", "https://play.example.com:8443"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let e = parse(&[
            "--webtransport",
            "0.0.0.0:8443",
            "--webtransport-url",
            "https://play.example.com",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("names no port"), "{e}");
        assert!(parse(&[]).unwrap().run.to_config().webtransport.is_none());
    }

    #[test]
    fn bare_flags_and_the_run_subcommand_agree() {
        let bare = Cli::try_parse_from(["tavern-server", "--udp", "127.0.0.1:7000"]).unwrap();
        assert!(bare.command.is_none());
        assert_eq!(bare.run.udp, "127.0.0.1:7000".parse().unwrap());
        let sub = Cli::try_parse_from(["tavern-server", "run", "--udp", "127.0.0.1:7000"]).unwrap();
        let Some(Command::Run(args)) = sub.command else {
            panic!("expected run");
        };
        assert_eq!(args.udp, bare.run.udp);
    }

    #[test]
    fn bad_flags_are_named() {
        let err = Cli::try_parse_from(["tavern-server", "--udp", "nonsense"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("--udp") && text.contains("nonsense"),
            "{text}"
        );
        let err = Cli::try_parse_from(["tavern-server", "--max-clients", "0"]).unwrap_err();
        assert!(err.to_string().contains("--max-clients"), "{err}");
        let err = Cli::try_parse_from(["tavern-server", "--max-clients", "4097"]).unwrap_err();
        assert!(err.to_string().contains("4096"), "{err}");
        let err = Cli::try_parse_from(["tavern-server", "--view-radius", "10"]).unwrap_err();
        assert!(err.to_string().contains("--view-radius"), "{err}");
        for hz in ["9", "61", "fast"] {
            let err = Cli::try_parse_from(["tavern-server", "--send-hz", hz]).unwrap_err();
            assert!(err.to_string().contains("--send-hz"), "{err}");
        }
    }

    #[test]
    fn agent_flags_are_checked_and_read() {
        let err = Cli::try_parse_from(["tavern-server", "--agent-webhook", "ftp://x"]).unwrap_err();
        assert!(
            err.to_string().contains("not an http:// or https:// URL"),
            "{err}"
        );
        let err = Cli::try_parse_from(["tavern-server", "--agent-timeout", "0"]).unwrap_err();
        assert!(err.to_string().contains("--agent-timeout"), "{err}");
        let cli = Cli::try_parse_from([
            "tavern-server",
            "--agent-webhook",
            "http://127.0.0.1:9000/agent",
            "--agent-timeout",
            "2",
        ])
        .unwrap();
        let agents = cli.run.agent_config().unwrap();
        assert_eq!(
            agents.webhook.as_deref(),
            Some("http://127.0.0.1:9000/agent")
        );
        assert_eq!(agents.timeout, Duration::from_secs(2));
        assert!(
            agents.scripts.get("innkeeper").is_some(),
            "the sample scripts by default"
        );
        let missing =
            Cli::try_parse_from(["tavern-server", "--agents", "/no/such/agents.toml"]).unwrap();
        let e = missing.run.agent_config().unwrap_err().to_string();
        assert!(
            e.contains("/no/such/agents.toml") && e.contains("--agents"),
            "{e}"
        );
    }

    #[test]
    fn maps_can_be_repeated_and_validate_map_takes_files() {
        let cli = Cli::try_parse_from([
            "tavern-server",
            "--map",
            "a.tmx",
            "--map",
            "b.tmj,c.tmx",
            "--no-watch",
        ])
        .unwrap();
        let config = cli.run.to_config();
        assert_eq!(config.maps.len(), 3);
        assert!(!config.watch_maps);
        let v = Cli::try_parse_from(["tavern-server", "validate-map", "--json", "x.tmx"]).unwrap();
        assert!(matches!(v.command, Some(Command::ValidateMap(a)) if a.json && a.files.len() == 1));
        assert!(Cli::try_parse_from(["tavern-server", "validate-map"]).is_err());
    }
}
