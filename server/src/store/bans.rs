//! Bans from the whole server (the admin API's): stored before the player is sent away,
//! read at start.

use sqlx::Row;

use super::ChatStore;
use crate::chat::now_ms;

/// A player banned from the server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerBan {
    pub identity: String,
    pub name: String,
    pub reason: String,
    pub banned_at_ms: i64,
}

impl ChatStore {
    /// Bans `identity` (called `name`) from the server, or changes the reason.
    pub async fn ban_from_server(&self, ban: &ServerBan) -> Result<(), sqlx::Error> {
        let _timer = self.timer("ban_from_server");
        sqlx::query(
            "INSERT INTO server_bans (identity, name, reason, banned_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (identity) DO UPDATE SET reason = excluded.reason",
        )
        .bind(&ban.identity)
        .bind(&ban.name)
        .bind(&ban.reason)
        .bind(ban.banned_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lifts the ban of `identity`; whether there was one.
    pub async fn unban_from_server(&self, identity: &str) -> Result<bool, sqlx::Error> {
        let _timer = self.timer("unban_from_server");
        let done = sqlx::query("DELETE FROM server_bans WHERE identity = $1")
            .bind(identity)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every ban, oldest first.
    pub async fn server_bans(&self) -> Result<Vec<ServerBan>, sqlx::Error> {
        let _timer = self.timer("server_bans");
        let rows = sqlx::query(
            "SELECT identity, name, reason, banned_at FROM server_bans ORDER BY banned_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ServerBan {
                    identity: r.try_get(0)?,
                    name: r.try_get(1)?,
                    reason: r.try_get(2)?,
                    banned_at_ms: r.try_get(3)?,
                })
            })
            .collect()
    }
}

/// A ban made now.
pub fn ban_now(identity: &str, name: &str, reason: &str) -> ServerBan {
    ServerBan {
        identity: identity.to_string(),
        name: name.to_string(),
        reason: reason.to_string(),
        banned_at_ms: now_ms(),
    }
}
