//! Campaign rooms in the store: the room itself (its GM's account, the session's
//! status), the accounts banned from it, and each player's character sheet with the
//! version of its last write, so that a write based on an older version is refused
//! instead of overwriting what someone else saved.

use sqlx::Row;
use tavern_shared::gm::{CampaignStatus, CharacterSheet, Scene, StoredSheet};

use super::ChatStore;
use crate::chat::now_ms;

/// A campaign room as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCampaign {
    pub room: String,
    pub name: String,
    pub map: String,
    pub gm_account: i64,
    /// The GM's account name (read with the campaign; not stored with it).
    pub gm_name: String,
    /// Players at most, besides the GM.
    pub max_players: u32,
    pub private: bool,
    /// The room password's argon2id hash, when it has one.
    pub password_hash: Option<String>,
    pub status: CampaignStatus,
    pub scene: Scene,
    /// An encounter turn's time limit, in seconds.
    pub turn_secs: u32,
    /// Identities banned from it.
    pub banned: Vec<String>,
}

/// A sheet write refused because it was based on an old version: the sheet as it is
/// (`None`: there is none yet, so the write must be based on version 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleSheet(pub Option<StoredSheet>);

fn sheet_from(row: &sqlx::any::AnyRow) -> Result<StoredSheet, sqlx::Error> {
    let json: String = row.try_get("sheet")?;
    let sheet: CharacterSheet =
        serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(StoredSheet {
        account: row.try_get("account_id")?,
        version: row.try_get("version")?,
        sheet,
        updated_at_ms: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

/// A value for a campaign's column.
enum Value {
    Text(String),
    Number(i64),
}

const SHEET_COLUMNS: &str = "account_id, version, sheet, updated_at, updated_by";

impl ChatStore {
    /// Stores a new campaign room (its id is fresh).
    pub async fn create_campaign(&self, c: &StoredCampaign) -> Result<(), sqlx::Error> {
        let _timer = self.timer("create_campaign");
        let now = now_ms();
        sqlx::query(
            "INSERT INTO campaigns (room, name, map, gm_account, max_players, private, \
             password_hash, status, turn_secs, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(&c.room)
        .bind(&c.name)
        .bind(&c.map)
        .bind(c.gm_account)
        .bind(i64::from(c.max_players))
        .bind(i64::from(c.private))
        .bind(c.password_hash.clone().unwrap_or_default())
        .bind(c.status.as_str())
        .bind(i64::from(c.turn_secs))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every campaign room, with its GM's name and its bans, oldest first.
    pub async fn campaigns(&self) -> Result<Vec<StoredCampaign>, sqlx::Error> {
        let _timer = self.timer("campaigns");
        let rows = sqlx::query(
            "SELECT c.room, c.name, c.map, c.gm_account, a.name, c.max_players, c.private, \
             c.password_hash, c.status, c.scene, c.turn_secs FROM campaigns c \
             JOIN accounts a ON a.id = c.gm_account \
             ORDER BY c.created_at, c.room",
        )
        .fetch_all(&self.pool)
        .await?;
        let bans = sqlx::query("SELECT room, identity FROM campaign_bans ORDER BY banned_at")
            .fetch_all(&self.pool)
            .await?;
        let mut campaigns = Vec::with_capacity(rows.len());
        for r in rows {
            let room: String = r.try_get(0)?;
            let status: String = r.try_get(8)?;
            let password: String = r.try_get(7)?;
            let max: i64 = r.try_get(5)?;
            let scene: String = r.try_get(9)?;
            let turn_secs: i64 = r.try_get(10)?;
            // Written by this server as JSON; empty before any scene was set.
            let scene = if scene.is_empty() {
                Scene::default()
            } else {
                serde_json::from_str(&scene).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
            };
            let mut banned = Vec::new();
            for b in &bans {
                if b.try_get::<String, _>(0)? == room {
                    banned.push(b.try_get(1)?);
                }
            }
            campaigns.push(StoredCampaign {
                name: r.try_get(1)?,
                map: r.try_get(2)?,
                gm_account: r.try_get(3)?,
                gm_name: r.try_get(4)?,
                max_players: u32::try_from(max).unwrap_or(0),
                private: r.try_get::<i64, _>(6)? != 0,
                password_hash: (!password.is_empty()).then_some(password),
                status: CampaignStatus::parse(&status).ok_or_else(|| {
                    sqlx::Error::Protocol(format!(
                        "campaign {room} has an unknown status `{status}`"
                    ))
                })?,
                scene,
                turn_secs: u32::try_from(turn_secs).unwrap_or(u32::MAX),
                banned,
                room,
            });
        }
        Ok(campaigns)
    }

    /// Sets one column of a campaign (one of a fixed few, never from outside).
    async fn update_campaign(
        &self,
        room: &str,
        column: &'static str,
        value: Value,
    ) -> Result<(), sqlx::Error> {
        let _timer = self.timer(&format!("set_campaign_{column}"));
        let sql = format!("UPDATE campaigns SET {column} = $1, updated_at = $2 WHERE room = $3");
        let query = sqlx::query(&sql);
        let query = match value {
            Value::Text(text) => query.bind(text),
            Value::Number(n) => query.bind(n),
        };
        query.bind(now_ms()).bind(room).execute(&self.pool).await?;
        Ok(())
    }

    /// Records the session's new status.
    pub async fn set_campaign_status(
        &self,
        room: &str,
        status: CampaignStatus,
    ) -> Result<(), sqlx::Error> {
        self.update_campaign(room, "status", Value::Text(status.as_str().into()))
            .await
    }

    /// Records the campaign's scene.
    pub async fn set_campaign_scene(&self, room: &str, scene: &Scene) -> Result<(), sqlx::Error> {
        let json = serde_json::to_string(scene).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        self.update_campaign(room, "scene", Value::Text(json)).await
    }

    /// Records the campaign's turn time limit.
    pub async fn set_campaign_turn_secs(&self, room: &str, secs: u32) -> Result<(), sqlx::Error> {
        self.update_campaign(room, "turn_secs", Value::Number(i64::from(secs)))
            .await
    }

    /// Hands the campaign to another GM (an account).
    pub async fn set_campaign_gm(&self, room: &str, account: i64) -> Result<(), sqlx::Error> {
        self.update_campaign(room, "gm_account", Value::Number(account))
            .await
    }

    /// Bans `identity` from the campaign for good (again: the reason is updated).
    pub async fn ban_from_campaign(
        &self,
        room: &str,
        identity: &str,
        reason: &str,
    ) -> Result<(), sqlx::Error> {
        let _timer = self.timer("ban_from_campaign");
        sqlx::query(
            "INSERT INTO campaign_bans (room, identity, reason, banned_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (room, identity) DO UPDATE SET reason = excluded.reason",
        )
        .bind(room)
        .bind(identity)
        .bind(reason)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a campaign with its bans and sheets.
    pub async fn delete_campaign(&self, room: &str) -> Result<bool, sqlx::Error> {
        let _timer = self.timer("delete_campaign");
        let mut tx = self.pool.begin().await?;
        for table in ["character_sheets", "campaign_bans", "campaign_assets"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE room = $1"))
                .bind(room)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM campaigns WHERE room = $1")
            .bind(room)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The name of account `id`, if there is one.
    pub async fn account_name(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        let _timer = self.timer("account_name");
        let row = sqlx::query("SELECT name FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get(0)).transpose()
    }

    /// Every character sheet of the campaign, by account id.
    pub async fn sheets(&self, room: &str) -> Result<Vec<StoredSheet>, sqlx::Error> {
        let _timer = self.timer("sheets");
        let rows = sqlx::query(&format!(
            "SELECT {SHEET_COLUMNS} FROM character_sheets WHERE room = $1 ORDER BY account_id"
        ))
        .bind(room)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sheet_from).collect()
    }

    /// The sheet of `account` in the campaign, if it has one.
    pub async fn sheet(
        &self,
        room: &str,
        account: i64,
    ) -> Result<Option<StoredSheet>, sqlx::Error> {
        let _timer = self.timer("sheet");
        let row = sqlx::query(&format!(
            "SELECT {SHEET_COLUMNS} FROM character_sheets WHERE room = $1 AND account_id = $2"
        ))
        .bind(room)
        .bind(account)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(sheet_from).transpose()
    }

    /// Writes the sheet of `account` (by account `by`) if the stored one is still at
    /// version `based_on` (0: there is none yet): the sheet as stored, at the next
    /// version; or [`StaleSheet`] with the sheet as it is, changing nothing. One
    /// statement each way, so two writers based on the same version cannot both win.
    pub async fn put_sheet(
        &self,
        room: &str,
        account: i64,
        based_on: i64,
        sheet: &CharacterSheet,
        by: i64,
    ) -> Result<Result<StoredSheet, StaleSheet>, sqlx::Error> {
        let _timer = self.timer("put_sheet");
        let json = serde_json::to_string(sheet).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let now = now_ms();
        let written = if based_on == 0 {
            sqlx::query(&format!(
                "INSERT INTO character_sheets (room, account_id, version, sheet, updated_at, updated_by) \
                 VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT (room, account_id) DO NOTHING \
                 RETURNING {SHEET_COLUMNS}"
            ))
            .bind(room)
            .bind(account)
            .bind(&json)
            .bind(now)
            .bind(by)
            .fetch_optional(&self.pool)
            .await?
        } else {
            sqlx::query(&format!(
                "UPDATE character_sheets SET version = version + 1, sheet = $1, updated_at = $2, \
                 updated_by = $3 WHERE room = $4 AND account_id = $5 AND version = $6 \
                 RETURNING {SHEET_COLUMNS}"
            ))
            .bind(&json)
            .bind(now)
            .bind(by)
            .bind(room)
            .bind(account)
            .bind(based_on)
            .fetch_optional(&self.pool)
            .await?
        };
        match written {
            Some(row) => Ok(Ok(sheet_from(&row)?)),
            None => Ok(Err(StaleSheet(self.sheet(room, account).await?))),
        }
    }
}
