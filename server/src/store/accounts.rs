//! Registered accounts and their sessions in the store. A name is kept by its key
//! ([`tavern_shared::avatar::name_key`]), so no one else registers it in another case
//! or Unicode form; passwords are kept only as argon2id hashes (made by the caller, off
//! the async threads); session tokens are 128 random bits from the OS, kept only as
//! their SHA-256 and looked up by it, each with its expiry.

use std::time::Duration;

use sqlx::Row;
use tavern_shared::avatar::name_key;

use super::{ChatStore, random_secret, secret_hash};
use crate::chat::now_ms;

/// A registered account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    /// As registered (its case and form).
    pub name: String,
    pub password_hash: String,
}

/// A session of an account: its token (only when just opened) and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSession {
    pub account: i64,
    pub name: String,
    pub token: String,
    pub expires_at_ms: i64,
}

/// Registering a name someone already has (in any case or Unicode form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTaken;

impl ChatStore {
    /// Registers `name` with a password hash; [`NameTaken`] if its key is registered.
    pub async fn create_account(
        &self,
        name: &str,
        password_hash: &str,
    ) -> Result<Result<i64, NameTaken>, sqlx::Error> {
        let _timer = self.timer("create_account");
        let row = sqlx::query(
            "INSERT INTO accounts (name, name_key, password_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name_key) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(name_key(name))
        .bind(password_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Ok(row.try_get(0)?)),
            None => Ok(Err(NameTaken)),
        }
    }

    /// The account registered under `name` (any case or Unicode form).
    pub async fn account_named(&self, name: &str) -> Result<Option<Account>, sqlx::Error> {
        let _timer = self.timer("account_named");
        let row = sqlx::query("SELECT id, name, password_hash FROM accounts WHERE name_key = $1")
            .bind(name_key(name))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Account {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                password_hash: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Opens a session of `account` lasting `ttl`; expired sessions are forgotten.
    pub async fn open_account_session(
        &self,
        account: &Account,
        ttl: Duration,
    ) -> Result<AccountSession, sqlx::Error> {
        let _timer = self.timer("open_account_session");
        let now = now_ms();
        sqlx::query("DELETE FROM account_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let token = random_secret()?;
        let expires_at_ms = now.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64);
        sqlx::query(
            "INSERT INTO account_sessions (token_hash, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(secret_hash(&token))
        .bind(account.id)
        .bind(now)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(AccountSession {
            account: account.id,
            name: account.name.clone(),
            token,
            expires_at_ms,
        })
    }

    /// The live session whose token is `token` (`None`: unknown, expired or logged
    /// out). The token is returned as given.
    pub async fn account_session(
        &self,
        token: &str,
    ) -> Result<Option<AccountSession>, sqlx::Error> {
        let _timer = self.timer("account_session");
        if token.len() > 64 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT s.account_id, a.name, s.expires_at FROM account_sessions s \
             JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(secret_hash(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AccountSession {
                account: r.try_get(0)?,
                name: r.try_get(1)?,
                token: token.to_string(),
                expires_at_ms: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Ends the session `token`; false when there was no live one.
    pub async fn close_account_session(&self, token: &str) -> Result<bool, sqlx::Error> {
        let _timer = self.timer("close_account_session");
        let done =
            sqlx::query("DELETE FROM account_sessions WHERE token_hash = $1 AND expires_at > $2")
                .bind(secret_hash(token))
                .bind(now_ms())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}
