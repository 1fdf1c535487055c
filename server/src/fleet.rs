//! Several nodes behind one address (`--redis-url`): each node registers itself in Redis
//! under `tavern:node:ID` with what it offers and how busy it is, renewed every
//! [`BEAT`] and expiring after [`TTL`], so a node that dies drops out of the list on its
//! own. Without `--redis-url` the server is one node, exactly as before.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use crate::http::ApiState;

/// How often a node renews its entry.
pub const BEAT: Duration = Duration::from_secs(2);
/// How long an entry lives without renewal.
pub const TTL: Duration = Duration::from_secs(6);
/// Where nodes are registered.
const PREFIX: &str = "tavern:node:";

/// A node as the registry lists it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub id: String,
    /// Its HTTP API.
    pub http: String,
    /// Where its clients connect, by transport.
    pub transports: Vec<(String, String)>,
    pub players: usize,
    pub rooms: usize,
    pub draining: bool,
    pub started_at_ms: i64,
}

/// This node's place in the registry.
#[derive(Clone)]
pub struct Fleet {
    pub node_id: String,
    http: String,
    started_at_ms: i64,
    redis: ConnectionManager,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("node_id", &self.node_id)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// A Redis URL with its password hidden, for messages.
pub fn shown(url: &str) -> String {
    crate::config_file::redact_url(url)
}

impl Fleet {
    /// Connects to Redis at `url` (and checks it answers), for node `node_id` whose API
    /// is at `http`; an error naming the URL (without its password) when it cannot.
    pub async fn connect(url: &str, node_id: String, http: String) -> anyhow::Result<Fleet> {
        let fail =
            |e: redis::RedisError| anyhow::anyhow!("cannot reach Redis at {}: {e}", shown(url));
        let client = redis::Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(3))
            .set_response_timeout(Duration::from_secs(3))
            .set_number_of_retries(2)
            .set_max_delay(2_000);
        let mut redis = tokio::time::timeout(
            Duration::from_secs(10),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("cannot reach Redis at {}: no answer in 10 s", shown(url)))?
        .map_err(fail)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut redis)
            .await
            .map_err(fail)?;
        Ok(Fleet {
            node_id,
            http,
            started_at_ms: crate::chat::now_ms(),
            redis,
        })
    }

    fn key(&self) -> String {
        format!("{PREFIX}{}", self.node_id)
    }

    /// This node as it stands.
    pub fn describe(&self, api: &ApiState) -> NodeInfo {
        NodeInfo {
            id: self.node_id.clone(),
            http: self.http.clone(),
            transports: transports(api),
            players: api.players.len(),
            rooms: api.rooms.len(),
            draining: api.draining.is_on(),
            started_at_ms: self.started_at_ms,
        }
    }

    /// Renews this node's entry.
    pub async fn beat(&self, node: &NodeInfo) -> redis::RedisResult<()> {
        let json = serde_json::to_string(node).unwrap_or_default();
        let mut redis = self.redis.clone();
        redis.set_ex(self.key(), json, TTL.as_secs()).await
    }

    /// Every live node, by id.
    pub async fn nodes(&self) -> redis::RedisResult<Vec<NodeInfo>> {
        let mut redis = self.redis.clone();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{PREFIX}*"))
                .arg("COUNT")
                .arg(100)
                .query_async(&mut redis)
                .await?;
            keys.extend(found);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<String>> = redis.mget(&keys).await?;
        let mut nodes: Vec<NodeInfo> = values
            .into_iter()
            .flatten()
            .filter_map(|v| serde_json::from_str(&v).ok())
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(nodes)
    }

    /// Takes this node out of the registry (a clean stop).
    pub async fn leave(&self) {
        let mut redis = self.redis.clone();
        let gone: redis::RedisResult<()> = redis.del(self.key()).await;
        if let Err(e) = gone {
            tracing::warn!(node = %self.node_id, "could not leave the Redis registry: {e}");
        }
    }
}

/// Where a node's clients connect: (transport, address) for each it offers.
pub fn transports(api: &ApiState) -> Vec<(String, String)> {
    api.transports
        .iter()
        .map(|l| (l.transport.name().to_string(), l.address.clone()))
        .collect()
}

/// Renews this node's entry every [`BEAT`] for as long as the server runs. A Redis that
/// stops answering is logged (at once, then every 30 s while it lasts) and retried; the
/// game goes on.
pub async fn heartbeat(api: Arc<ApiState>, fleet: Fleet) {
    let mut tick = tokio::time::interval(BEAT);
    let mut failing_since: Option<std::time::Instant> = None;
    let mut last_told: Option<std::time::Instant> = None;
    loop {
        tick.tick().await;
        match fleet.beat(&fleet.describe(&api)).await {
            Ok(()) => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(node = %fleet.node_id, down_for_secs = since.elapsed().as_secs(), "Redis answers again");
                    last_told = None;
                }
            }
            Err(e) => {
                let since = *failing_since.get_or_insert_with(std::time::Instant::now);
                if last_told.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
                    tracing::warn!(node = %fleet.node_id, down_for_secs = since.elapsed().as_secs(), "Redis does not answer: {e}; this node keeps playing and retries");
                    last_told = Some(std::time::Instant::now());
                }
            }
        }
    }
}

/// The default node id: the machine's name and the HTTP port.
pub fn default_node_id(http: std::net::SocketAddr) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", http.port())
}
