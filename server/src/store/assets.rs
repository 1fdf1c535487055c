//! The files campaigns' GMs shared, in the store: which campaign, under which name,
//! what kind, and the hashes of the file and of an image's view and thumbnail PNGs
//! (the bytes themselves lie in the asset store, [`crate::gm::files`]).

use sqlx::Row;
use tavern_shared::assets::asset_url;
use tavern_shared::gm::assets::{AssetKind, SharedAsset};

use super::ChatStore;
use crate::chat::now_ms;

/// A shared file as stored: what the table is told of it, and the hashes of the
/// pictures made of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRecord {
    pub asset: SharedAsset,
    pub view_hash: Option<String>,
    pub thumb_hash: Option<String>,
}

/// The first 32 hex digits of a SHA-256: what asset URLs carry.
pub fn url_hash(hash: &str) -> &str {
    &hash[..hash.len().min(32)]
}

/// `name` without its extension, for the names of the pictures made of it.
fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

impl AssetRecord {
    /// A record, its URLs made from its hashes.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        hash: String,
        name: String,
        kind: AssetKind,
        content_type: String,
        bytes: u64,
        (width, height): (u32, u32),
        view_hash: Option<String>,
        thumb_hash: Option<String>,
        uploaded_by: i64,
    ) -> Self {
        let picture = |hash: &Option<String>, suffix: &str| {
            hash.as_deref()
                .map(|h| asset_url(url_hash(h), &format!("{}{suffix}.png", stem(&name))))
        };
        let asset = SharedAsset {
            url: asset_url(url_hash(&hash), &name),
            view_url: picture(&view_hash, ""),
            thumbnail_url: picture(&thumb_hash, ".thumb"),
            hash,
            name,
            kind,
            content_type,
            bytes,
            width,
            height,
            uploaded_by,
        };
        AssetRecord {
            asset,
            view_hash,
            thumb_hash,
        }
    }
}

fn kind_name(kind: AssetKind) -> &'static str {
    match kind {
        AssetKind::Image => "image",
        AssetKind::Audio => "audio",
    }
}

fn record_from(row: &sqlx::any::AnyRow) -> Result<AssetRecord, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let kind = match kind.as_str() {
        "image" => AssetKind::Image,
        "audio" => AssetKind::Audio,
        other => {
            return Err(sqlx::Error::Decode(
                format!("unknown asset kind `{other}`").into(),
            ));
        }
    };
    let optional = |column: &str| -> Result<Option<String>, sqlx::Error> {
        let hash: String = row.try_get(column)?;
        Ok((!hash.is_empty()).then_some(hash))
    };
    let number = |column: &str| -> Result<u64, sqlx::Error> {
        let n: i64 = row.try_get(column)?;
        Ok(n.max(0) as u64)
    };
    Ok(AssetRecord::new(
        row.try_get("hash")?,
        row.try_get("name")?,
        kind,
        row.try_get("content_type")?,
        number("bytes")?,
        (number("width")? as u32, number("height")? as u32),
        optional("view_hash")?,
        optional("thumb_hash")?,
        row.try_get("uploaded_by")?,
    ))
}

const COLUMNS: &str = "hash, name, kind, content_type, bytes, width, height, view_hash, \
                       thumb_hash, uploaded_by";

impl ChatStore {
    /// Keeps `record` as a file of campaign `room`: `true` if it is new, `false` if the
    /// campaign has this content already (kept under its first name).
    pub async fn add_asset(&self, room: &str, record: &AssetRecord) -> Result<bool, sqlx::Error> {
        let _timer = self.timer("add_asset");
        let a = &record.asset;
        // Numbered after the campaign's last file, so "oldest first" holds within a
        // millisecond too.
        let done = sqlx::query(&format!(
            "INSERT INTO campaign_assets (room, {COLUMNS}, created_at, seq) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             COALESCE(MAX(seq), 0) + 1 FROM campaign_assets WHERE room = $1 \
             ON CONFLICT (room, hash) DO NOTHING"
        ))
        .bind(room)
        .bind(&a.hash)
        .bind(&a.name)
        .bind(kind_name(a.kind))
        .bind(&a.content_type)
        .bind(a.bytes as i64)
        .bind(i64::from(a.width))
        .bind(i64::from(a.height))
        .bind(record.view_hash.clone().unwrap_or_default())
        .bind(record.thumb_hash.clone().unwrap_or_default())
        .bind(a.uploaded_by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The file of campaign `room` with content `hash`, if it has it.
    pub async fn asset(&self, room: &str, hash: &str) -> Result<Option<AssetRecord>, sqlx::Error> {
        let _timer = self.timer("asset");
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM campaign_assets WHERE room = $1 AND hash = $2"
        ))
        .bind(room)
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from).transpose()
    }

    /// Every file shared in campaign `room`, oldest first.
    pub async fn assets(&self, room: &str) -> Result<Vec<AssetRecord>, sqlx::Error> {
        let _timer = self.timer("assets");
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM campaign_assets WHERE room = $1 ORDER BY seq"
        ))
        .bind(room)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from).collect()
    }

    /// Every campaign's files: the campaign's room and the file.
    pub async fn all_assets(&self) -> Result<Vec<(String, AssetRecord)>, sqlx::Error> {
        let _timer = self.timer("all_assets");
        let rows = sqlx::query(&format!(
            "SELECT room, {COLUMNS} FROM campaign_assets ORDER BY room, seq"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("room")?, record_from(r)?)))
            .collect()
    }
}
