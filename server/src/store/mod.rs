//! Chat persistence with sqlx: a SQLite file in the data dir by default, PostgreSQL with
//! `--database-url postgres://...`. The same queries run on both (through sqlx's `Any`
//! driver); the migrations in `server/migrations/` run at start.

use std::path::Path;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use tavern_shared::chat::{ChatChannel, ChatLine};

mod accounts;
pub mod assets;
pub mod bans;
mod campaigns;
pub use accounts::{Account, AccountSession, NameTaken};
pub use campaigns::{StaleSheet, StoredCampaign};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The chat database.
#[derive(Debug, Clone)]
pub struct ChatStore {
    pool: AnyPool,
    /// Where query durations are recorded (`/metrics`), once set.
    timings: Option<prometheus::HistogramVec>,
}

/// What conversation a line belongs to. The stored key is built from these parts and,
/// for groups, whispers and NPC talks, the participants' user ids, encoded so that no
/// name (commas, bars, quotes and all) can make two conversations share a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionScope {
    /// Everyone on a map.
    Map { map: String },
    /// Everyone in a meeting zone.
    Zone { map: String, zone: String },
    /// The people near each other when a proximity line was said.
    Group { map: String },
    /// Two people whispering.
    Whisper,
    /// A player talking with an NPC.
    Agent { agent: String },
    /// The dice rolled in a room.
    Table { room: String },
    /// What a player said or rolled for the GM only, in a room.
    WithGm { room: String },
}

impl SessionScope {
    /// The unique key of the conversation of this scope among `participants` (user ids).
    fn key(&self, participants: &[i64]) -> String {
        let mut ids = participants.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let value = match self {
            SessionScope::Map { map } => serde_json::json!(["map", map]),
            SessionScope::Zone { map, zone } => serde_json::json!(["zone", map, zone]),
            SessionScope::Group { map } => serde_json::json!(["proximity", map, ids]),
            SessionScope::Whisper => serde_json::json!(["whisper", ids]),
            SessionScope::Agent { agent } => serde_json::json!(["agent", agent, ids]),
            SessionScope::Table { room } => serde_json::json!(["dice", room]),
            SessionScope::WithGm { room } => serde_json::json!(["gm", room, ids]),
        };
        value.to_string()
    }
}

/// A line to store: the session it belongs to (created on first use) and who takes part.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub channel: ChatChannel,
    /// Which conversation.
    pub scope: SessionScope,
    /// What the conversation is called in lists: "town", "Ada and Bo", ...
    pub title: String,
    /// Who said it: an identity (`account:7`, `guest:12`, `npc:innkeeper`).
    pub sender: String,
    /// The name it was said under, shown with the line.
    pub sender_name: String,
    /// Everyone the line goes to (identities), the sender included.
    pub participants: Vec<String>,
    pub text: String,
    pub at_ms: i64,
}

/// One conversation in a player's list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub last_message_at: i64,
}

/// The SQLite file a server uses when no `--database-url` is given.
pub fn default_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("tavern.db")
}

/// The URL of [`default_path`].
pub fn default_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", default_path(data_dir).display())
}

fn channel_text(channel: &ChatChannel) -> String {
    match channel {
        ChatChannel::Whisper(to) => format!("whisper:{to}"),
        ChatChannel::Agent(agent) => format!("agent:{agent}"),
        other => other.kind().to_string(),
    }
}

fn channel_from(text: &str) -> ChatChannel {
    match text {
        "proximity" => ChatChannel::Proximity,
        "zone" => ChatChannel::Zone,
        "map" => ChatChannel::Map,
        "system" => ChatChannel::System,
        "dice" => ChatChannel::Dice,
        "narration" => ChatChannel::Narration,
        "gmroll" => ChatChannel::GmRoll,
        "gm" => ChatChannel::ToGm,
        other if other.starts_with("agent:") => {
            ChatChannel::Agent(other.trim_start_matches("agent:").to_string())
        }
        other => ChatChannel::Whisper(other.strip_prefix("whisper:").unwrap_or(other).to_string()),
    }
}

/// Hides a URL's password for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl ChatStore {
    /// Records how long each query takes in `metrics`.
    pub fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.timings = Some(metrics.db_seconds.clone());
        self
    }

    /// Observes the time until it is dropped, under `query`.
    fn timer(&self, query: &str) -> Option<prometheus::HistogramTimer> {
        self.timings
            .as_ref()
            .map(|t| t.with_label_values(&[query]).start_timer())
    }

    /// Connects and brings the schema up to date. `url` is `sqlite://...` or `postgres://...`.
    pub async fn open(url: &str) -> anyhow::Result<ChatStore> {
        install_default_drivers();
        let shown = redact(url);
        let migrator = if url.starts_with("sqlite:") {
            &SQLITE
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            &POSTGRES
        } else {
            anyhow::bail!("--database-url `{shown}` is neither sqlite://... nor postgres://...");
        };
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // A write-ahead log: a commit is one append and one sync of the
                        // log (still durable), not a rollback journal's several syncs,
                        // so chat lines and logins do not queue behind each other.
                        sqlx::Executor::execute(
                            &mut *conn,
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .with_context(|| format!("cannot open the chat database {shown}"))?;
        migrator
            .run(&pool)
            .await
            .with_context(|| format!("cannot bring the chat database {shown} up to date"))?;
        Ok(ChatStore {
            pool,
            timings: None,
        })
    }

    async fn user_id(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &str,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "INSERT INTO users (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)
    }

    /// Stores a line (and its session and participants) in one transaction. Only once
    /// this returns may the line be delivered. Participants new to the session read it
    /// from this line on.
    pub async fn store(&self, m: &NewMessage) -> Result<ChatLine, sqlx::Error> {
        let _timer = self.timer("store");
        let mut tx = self.pool.begin().await?;
        let mut people = Vec::with_capacity(m.participants.len());
        for name in &m.participants {
            people.push(Self::user_id(&mut tx, name, m.at_ms).await?);
        }
        let sender = match m.participants.iter().position(|n| *n == m.sender) {
            Some(i) => people[i],
            None => Self::user_id(&mut tx, &m.sender, m.at_ms).await?,
        };
        let session: i64 = sqlx::query(
            "INSERT INTO chat_sessions (kind, key, title, created_at, last_message_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (key) DO UPDATE SET last_message_at = excluded.last_message_at \
             RETURNING id",
        )
        .bind(m.channel.kind())
        .bind(m.scope.key(&people))
        .bind(&m.title)
        .bind(m.at_ms)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let id: i64 = sqlx::query(
            "INSERT INTO messages (session_id, sender_id, channel, body, created_at, sender_name) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(session)
        .bind(sender)
        .bind(channel_text(&m.channel))
        .bind(&m.text)
        .bind(m.at_ms)
        .bind(&m.sender_name)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for user in people {
            sqlx::query(
                "INSERT INTO participants (session_id, user_id, first_message_id) \
                 VALUES ($1, $2, $3) ON CONFLICT (session_id, user_id) DO NOTHING",
            )
            .bind(session)
            .bind(user)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ChatLine {
            id,
            session,
            channel: m.channel.clone(),
            from: m.sender_name.clone(),
            text: m.text.clone(),
            at_ms: m.at_ms,
        })
    }

    /// The sessions `user` takes part in, newest first.
    pub async fn sessions(&self, user: &str) -> Result<Vec<SessionInfo>, sqlx::Error> {
        let _timer = self.timer("sessions");
        let rows = sqlx::query(
            "SELECT s.id, s.kind, s.title, s.last_message_at FROM chat_sessions s \
             JOIN participants p ON p.session_id = s.id JOIN users u ON u.id = p.user_id \
             WHERE u.name = $1 ORDER BY s.last_message_at DESC, s.id DESC",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    title: r.try_get(2)?,
                    last_message_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// A page of a session's lines, oldest first: up to `limit` lines with ids below
    /// `before` (the newest when `None`), none from before `user` took part. `None` if
    /// `user` is not a participant.
    pub async fn messages(
        &self,
        session: i64,
        user: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Option<Vec<ChatLine>>, sqlx::Error> {
        let _timer = self.timer("messages");
        let member = sqlx::query(
            "SELECT p.first_message_id FROM participants p JOIN users u ON u.id = p.user_id \
             WHERE p.session_id = $1 AND u.name = $2",
        )
        .bind(session)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        let Some(member) = member else {
            return Ok(None);
        };
        let since: i64 = member.try_get(0)?;
        let rows = sqlx::query(
            "SELECT m.id, m.session_id, m.channel, COALESCE(NULLIF(m.sender_name, ''), u.name), \
             m.body, m.created_at \
             FROM messages m JOIN users u ON u.id = m.sender_id \
             WHERE m.session_id = $1 AND m.id < $2 AND m.id >= $3 \
             ORDER BY m.id DESC LIMIT $4",
        )
        .bind(session)
        .bind(before.unwrap_or(i64::MAX))
        .bind(since)
        .bind(limit.clamp(1, 200))
        .fetch_all(&self.pool)
        .await?;
        let mut lines = rows
            .iter()
            .map(|r| {
                Ok(ChatLine {
                    id: r.try_get(0)?,
                    session: r.try_get(1)?,
                    channel: channel_from(&r.try_get::<String, _>(2)?),
                    from: r.try_get(3)?,
                    text: r.try_get(4)?,
                    at_ms: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        lines.reverse();
        Ok(Some(lines))
    }

    /// What a player sees again on (re)joining: the last `per_session` lines of their
    /// `sessions` newest sessions, oldest first.
    pub async fn recent(
        &self,
        user: &str,
        sessions: usize,
        per_session: i64,
    ) -> Result<Vec<ChatLine>, sqlx::Error> {
        let _timer = self.timer("recent");
        let mut lines = Vec::new();
        for s in self.sessions(user).await?.into_iter().take(sessions) {
            lines.extend(
                self.messages(s.id, user, None, per_session)
                    .await?
                    .unwrap_or_default(),
            );
        }
        lines.sort_by_key(|l| (l.at_ms, l.id));
        Ok(lines)
    }

    /// The guest whose session secret is `secret`, or a new guest with a new secret when
    /// there is none (or it is unknown): the guest's id and the secret to keep. Secrets
    /// are 128 random bits from the OS, stored as their SHA-256.
    pub async fn guest(&self, secret: Option<&str>) -> Result<(i64, String), sqlx::Error> {
        let _timer = self.timer("guest");
        if let Some(secret) = secret.filter(|s| s.len() <= 64) {
            let found = sqlx::query("SELECT id FROM guests WHERE secret_hash = $1")
                .bind(secret_hash(secret))
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = found {
                return Ok((row.try_get(0)?, secret.to_string()));
            }
        }
        let secret = random_secret()?;
        let row = sqlx::query(
            "INSERT INTO guests (secret_hash, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(secret_hash(&secret))
        .bind(crate::chat::now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, secret))
    }

    /// What `player` holds: gold, and items by id.
    pub async fn inventory(
        &self,
        player: &str,
    ) -> Result<(u64, std::collections::BTreeMap<String, u32>), sqlx::Error> {
        let _timer = self.timer("inventory");
        let gold: i64 = sqlx::query("SELECT gold FROM inventory_gold WHERE player = $1")
            .bind(player)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        let rows = sqlx::query("SELECT item, count FROM inventory_items WHERE player = $1")
            .bind(player)
            .fetch_all(&self.pool)
            .await?;
        let mut items = std::collections::BTreeMap::new();
        for row in rows {
            let count: i64 = row.try_get(1)?;
            items.insert(row.try_get(0)?, count.clamp(0, i64::from(u32::MAX)) as u32);
        }
        Ok((gold.max(0) as u64, items))
    }

    /// Adds `count` of `item` (`None`: gold) to what `player` holds.
    pub async fn add_to_inventory(
        &self,
        player: &str,
        item: Option<&str>,
        count: u32,
    ) -> Result<(), sqlx::Error> {
        let _timer = self.timer("add_to_inventory");
        let query = match item {
            None => sqlx::query(
                "INSERT INTO inventory_gold (player, gold) VALUES ($1, $2) \
                 ON CONFLICT (player) DO UPDATE SET gold = inventory_gold.gold + excluded.gold",
            )
            .bind(player)
            .bind(i64::from(count)),
            Some(item) => sqlx::query(
                "INSERT INTO inventory_items (player, item, count) VALUES ($1, $2, $3) \
                 ON CONFLICT (player, item) DO UPDATE SET count = inventory_items.count + excluded.count",
            )
            .bind(player)
            .bind(item)
            .bind(i64::from(count)),
        };
        query.execute(&self.pool).await.map(|_| ())
    }

    /// Takes one of `item` from `player`; false when it holds none.
    pub async fn take_from_inventory(&self, player: &str, item: &str) -> Result<bool, sqlx::Error> {
        let _timer = self.timer("take_from_inventory");
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query(
            "UPDATE inventory_items SET count = count - 1 WHERE player = $1 AND item = $2 AND count > 0",
        )
        .bind(player)
        .bind(item)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        sqlx::query("DELETE FROM inventory_items WHERE player = $1 AND item = $2 AND count <= 0")
            .bind(player)
            .bind(item)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(taken)
    }

    /// Appends combat events (map, entry) in one transaction.
    pub async fn append_events(
        &self,
        events: &[(String, tavern_shared::api::CombatLogEntry)],
    ) -> Result<(), sqlx::Error> {
        let _timer = self.timer("append_events");
        let mut tx = self.pool.begin().await?;
        for (map, e) in events {
            sqlx::query(
                "INSERT INTO combat_events (map, seq, at_ms, tick, kind, actor, target, amount, x, y, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(map)
            .bind(e.seq)
            .bind(e.at_ms)
            .bind(e.tick)
            .bind(&e.kind)
            .bind(&e.actor)
            .bind(&e.target)
            .bind(e.amount)
            .bind(e.x)
            .bind(e.y)
            .bind(&e.detail)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// A map's events after `after`, oldest first, at most `limit`.
    pub async fn events(
        &self,
        map: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<tavern_shared::api::CombatLogEntry>, sqlx::Error> {
        let _timer = self.timer("events");
        let rows = sqlx::query(
            "SELECT seq, at_ms, tick, kind, actor, target, amount, x, y, detail FROM combat_events \
             WHERE map = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(map)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(tavern_shared::api::CombatLogEntry {
                    seq: r.try_get(0)?,
                    at_ms: r.try_get(1)?,
                    tick: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    actor: r.try_get(4)?,
                    target: r.try_get(5)?,
                    amount: r.try_get(6)?,
                    x: r.try_get(7)?,
                    y: r.try_get(8)?,
                    detail: r.try_get(9)?,
                })
            })
            .collect()
    }

    /// The last event number of each map (to number on after a restart).
    pub async fn last_event_seqs(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query("SELECT map, MAX(seq) FROM combat_events GROUP BY map")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Forgets events older than `before_ms`; returns how many.
    pub async fn forget_events_before(&self, before_ms: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("DELETE FROM combat_events WHERE at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
    }

    /// Runs raw SQL: for tests that need to break the database on purpose.
    pub async fn execute_raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(sql).execute(&self.pool).await.map(|_| ())
    }
}

/// How a guest's session secret is stored.
/// 128 random bits from the OS, URL-safe base64.
fn random_secret() -> Result<String, sqlx::Error> {
    let mut bytes = [0u8; 16];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes)
        .map_err(|e| sqlx::Error::Protocol(format!("no random bytes from the OS: {e}")))?;
    Ok(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        bytes,
    ))
}

fn secret_hash(secret: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(
            redact("postgres://tavern:s3cret@db:5432/tavern"),
            "postgres://tavern:***@db:5432/tavern"
        );
        assert_eq!(redact("sqlite://data/tavern.db"), "sqlite://data/tavern.db");
        assert_eq!(
            channel_from(&channel_text(&ChatChannel::Whisper("Bo".into()))),
            ChatChannel::Whisper("Bo".into())
        );
        assert_eq!(channel_from("map"), ChatChannel::Map);
    }
}
