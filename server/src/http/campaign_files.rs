//! Files a campaign's GM shares with the table (scene images, portraits, handouts,
//! narration audio): `POST /api/campaigns/{room}/assets` (multipart, one `file` part)
//! and `GET /api/campaigns/{room}/assets`. A file is taken by its content, never its
//! name (PNG, JPEG, WebP, OGG, MP3, WAV; an image decoded in full), at most
//! `--max-asset-mb`; kept content-addressed; the room is told at once. The files are
//! served at their `/assets/HASH/NAME` URLs like map images.

use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tavern_shared::gm::assets::{SharedAsset, check_asset_name, sniff};

use super::campaigns::{account_of, campaign, read_campaign, store, unavailable};
use super::{ApiState, error};
use crate::gm::TableMail;
use crate::gm::files::AssetFiles;
use crate::gm::media::prepare;
use crate::store::assets::AssetRecord;

/// Room for a multipart body's boundaries and part headers beyond the file itself.
pub const MULTIPART_OVERHEAD: u64 = 16 * 1024;

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

fn too_large(max: u64) -> Box<Response> {
    Box::new(error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("shared files are at most {}", megabytes(max)),
    ))
}

fn files(state: &ApiState) -> Result<&AssetFiles, Box<Response>> {
    state.asset_files.as_ref().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server keeps no files for campaigns",
        ))
    })
}

/// The uploaded file's name and bytes: the first part named `file`, read up to `max`.
async fn read_file(mut multipart: Multipart, max: u64) -> Result<(String, Vec<u8>), Box<Response>> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            Box::new(error(
                e.status(),
                format!("the upload is not readable multipart: {}", e.body_text()),
            ))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string).ok_or_else(|| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                "the `file` part has no filename (send it as a file: curl -F file=@handout.png)",
            ))
        })?;
        if let Err(why) = check_asset_name(&name) {
            return Err(Box::new(error(StatusCode::BAD_REQUEST, why)));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(too_large(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err(Box::new(error(
        StatusCode::BAD_REQUEST,
        "the upload has no `file` part (curl -F file=@handout.png)",
    )))
}

/// `POST /api/campaigns/{room}/assets`: the GM shares a file. 201 with the asset when
/// it is new, 200 when the campaign has this content already; 403 for anyone but the
/// GM, 413 over the size limit, 415 for a file that is none of the types taken, 422
/// for a damaged image.
pub async fn upload(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let max = state.limits.max_asset_bytes;
    let result = async {
        let caller = state.caller(&headers)?;
        let room = campaign(&state, &id)?;
        if !room.is_gm(&caller.identity) {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "only the GM can share files with the table",
            )));
        }
        let uploader = account_of(&caller.identity).unwrap_or_default();
        let store = store(&state)?;
        let files = files(&state)?.clone();
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max + MULTIPART_OVERHEAD) {
            return Err(too_large(max));
        }
        let multipart = multipart.map_err(|e| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "send the file as multipart/form-data with a `file` part: {}",
                    e.body_text()
                ),
            ))
        })?;
        let (name, bytes) = read_file(multipart, max).await?;
        if let Err(why) = sniff(&bytes) {
            return Err(Box::new(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("`{name}` is refused: {why}"),
            )));
        }
        // Decoding, scaling and writing files take a while: off the async threads.
        let size = bytes.len() as u64;
        let kept = tokio::task::spawn_blocking(move || {
            let prepared =
                prepare(&bytes).map_err(|why| (StatusCode::UNPROCESSABLE_ENTITY, why))?;
            let io = |e: std::io::Error| {
                tracing::error!("a shared file cannot be written: {e}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the file cannot be kept right now; try again".to_string(),
                )
            };
            let hash = files.put(&bytes).map_err(io)?;
            let view = match &prepared.view {
                Some(png) => Some(files.put(png).map_err(io)?),
                // A PNG small enough is drawn as it is.
                None if prepared.kind.kind() == tavern_shared::gm::assets::AssetKind::Image => {
                    Some(hash.clone())
                }
                None => None,
            };
            let thumb = prepared
                .thumbnail
                .as_deref()
                .map(|png| files.put(png))
                .transpose()
                .map_err(io)?;
            Ok::<_, (StatusCode, String)>((prepared, hash, view, thumb))
        })
        .await
        .map_err(|e| {
            Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the upload failed: {e}"),
            ))
        })?
        .map_err(|(status, why)| Box::new(error(status, format!("`{name}` is refused: {why}"))))?;
        let (prepared, hash, view_hash, thumb_hash) = kept;
        let record = AssetRecord::new(
            hash.clone(),
            name,
            prepared.kind.kind(),
            prepared.kind.content_type().to_string(),
            size,
            prepared.size,
            view_hash,
            thumb_hash,
            uploader,
        );
        let new = store
            .add_asset(&room.id.0, &record)
            .await
            .map_err(|e| unavailable("keeping the file", e))?;
        if !new {
            let existing = store
                .asset(&room.id.0, &hash)
                .await
                .map_err(|e| unavailable("reading the file", e))?
                .unwrap_or(record);
            return Ok((StatusCode::OK, existing.asset));
        }
        if let Some(files) = &state.asset_files {
            files.index(&record);
        }
        tracing::info!(room = %room.id, hash = %record.asset.hash, name = %record.asset.name, bytes = size, "file shared with the table");
        state.table_mail.post(TableMail::Asset {
            room: room.id.clone(),
            asset: record.asset.clone(),
        });
        Ok((StatusCode::CREATED, record.asset))
    };
    match result.await {
        Ok((status, asset)) => (status, axum::Json::<SharedAsset>(asset)).into_response(),
        Err(r) => *r,
    }
}

/// `GET /api/campaigns/{room}/assets`: every file shared with the campaign, oldest
/// first (for its GM and players).
pub async fn list(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    read_campaign(
        &state,
        &id,
        &headers,
        "its files",
        |store, room| async move {
            let records = store.assets(&room).await?;
            Ok(records
                .into_iter()
                .map(|r| r.asset)
                .collect::<Vec<SharedAsset>>())
        },
    )
    .await
}

/// Deletes the files of a deleted campaign `room` (`records`, read before it was
/// deleted) that no other campaign shares.
pub async fn forget_files(state: &ApiState, records: Vec<AssetRecord>) {
    let (Some(files), Some(store)) = (state.asset_files.clone(), state.store.as_ref()) else {
        return;
    };
    if records.is_empty() {
        return;
    }
    let kept: Vec<AssetRecord> = match store.all_assets().await {
        Ok(all) => all.into_iter().map(|(_, r)| r).collect(),
        Err(e) => {
            tracing::error!(
                "the files of a deleted campaign are kept: cannot read the others' ({e})"
            );
            return;
        }
    };
    let _ = tokio::task::spawn_blocking(move || {
        for record in &records {
            files.forget(record, &kept);
        }
    })
    .await;
}
