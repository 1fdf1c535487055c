//! The current map's images, from the server that runs it: each tileset image has a
//! content-addressed URL (`/assets/HASH/NAME`) in the map message. The desktop client
//! looks in its disk cache first, else downloads the file, checks that it has the hash
//! its URL names, and keeps it in the cache (a URL's content never changes); in a
//! browser the browser's own cache keeps it (the server marks it immutable). The window
//! draws them ([`crate::render`]); bots fetch them too, so tests see what a player would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bevy::prelude::*;
use tavern_shared::assets::{MAX_ASSET_BYTES, content_hash, url_hash};

use crate::PlaySystems;
use crate::connection::ServerTarget;
use crate::http::{Pending, Request, Taken, send};
use crate::prediction::CurrentMap;

/// Where downloaded map images are kept: `$XDG_CACHE_HOME/tavern/assets`, else
/// `~/.cache/tavern/assets` (tests point it elsewhere). Unused in a browser.
#[derive(Resource, Clone, Debug)]
pub struct AssetCache(pub PathBuf);

impl Default for AssetCache {
    #[cfg(target_arch = "wasm32")]
    fn default() -> Self {
        AssetCache(PathBuf::new())
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn default() -> Self {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        AssetCache(base.join("tavern").join("assets"))
    }
}

/// One image: on its way, here, or not to be had.
pub enum Fetch {
    Loading(Pending<Result<Fetched, String>>),
    Ready(Arc<[u8]>),
    Failed(String),
}

/// A file that arrived, and whether it came from the disk cache.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub from_cache: bool,
}

/// The map images asked for, by URL path, and where they came from.
#[derive(Resource, Default)]
pub struct MapAssets {
    pub files: HashMap<String, Fetch>,
    /// Images downloaded from the server, and taken from the disk cache.
    pub downloaded: u32,
    pub from_cache: u32,
}

impl MapAssets {
    /// The bytes of the image at `url`, once here.
    pub fn ready(&self, url: &str) -> Option<&Arc<[u8]>> {
        match self.files.get(url) {
            Some(Fetch::Ready(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// Starts downloading the file at `url` (an asset URL) from `server` unless it is
    /// here or on its way already.
    pub fn request(&mut self, server: &str, url: &str, cache: &AssetCache) {
        if self.files.contains_key(url) {
            return;
        }
        let (server, url_owned, dir) = (server.to_string(), url.to_string(), cache.0.clone());
        let pending = crate::http::spawn(async move { fetch(&server, &url_owned, &dir).await });
        self.files.insert(url.to_string(), Fetch::Loading(pending));
    }

    /// Whether every image asked for has arrived or failed.
    pub fn settled(&self) -> bool {
        !self.files.values().any(|f| matches!(f, Fetch::Loading(_)))
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<MapAssets>()
        .init_resource::<AssetCache>()
        .add_systems(
            PreUpdate,
            (ask_for_map_images, take_in_images)
                .chain()
                .in_set(PlaySystems::Receive),
        );
}

/// The image URLs of `map`.
pub fn image_urls(map: &tavern_shared::map::MapData) -> impl Iterator<Item = &str> {
    map.tilesets.iter().flat_map(|ts| {
        ts.image_url
            .as_deref()
            .into_iter()
            .chain(ts.tile_images.iter().filter_map(|t| t.url.as_deref()))
    })
}

fn ask_for_map_images(
    map: Option<Res<CurrentMap>>,
    target: Option<Res<ServerTarget>>,
    cache: Res<AssetCache>,
    mut assets: ResMut<MapAssets>,
) {
    let (Some(map), Some(target)) = (map, target) else {
        return;
    };
    if !map.is_changed() {
        return;
    }
    for url in image_urls(&map.data) {
        assets.request(&target.url, url, &cache);
    }
}

fn take_in_images(mut assets: ResMut<MapAssets>) {
    let assets = &mut *assets;
    for (url, fetch) in &mut assets.files {
        let Fetch::Loading(rx) = fetch else { continue };
        *fetch = match rx.take() {
            Taken::Waiting => continue,
            Taken::Done(Ok(fetched)) => {
                if fetched.from_cache {
                    assets.from_cache += 1;
                } else {
                    assets.downloaded += 1;
                }
                Fetch::Ready(fetched.bytes.into())
            }
            Taken::Done(Err(reason)) => {
                warn!(%url, "a file from the server is missing: {reason}");
                Fetch::Failed(reason)
            }
            Taken::Lost => Fetch::Failed("the download stopped".into()),
        };
    }
}

/// The image at `url` on `server`: from the cache in `dir` if there, else downloaded,
/// checked against its hash and cached.
pub async fn fetch(server: &str, url: &str, dir: &Path) -> Result<Fetched, String> {
    let hash = url_hash(url).ok_or_else(|| format!("`{url}` is not an asset URL"))?;
    if let Some(bytes) = cached(dir, hash) {
        return Ok(Fetched {
            bytes,
            from_cache: true,
        });
    }
    let reply = send(
        Request::get(format!("{server}{url}"))
            .limit(MAX_ASSET_BYTES)
            .timeout(Duration::from_secs(30)),
    )
    .await
    .map_err(|e| format!("cannot download it: {e}"))?;
    if reply.status != 200 {
        return Err(format!("the server answered {}", reply.status));
    }
    if content_hash(&reply.body) != hash {
        return Err("what arrived is not the file its URL names".into());
    }
    keep(dir, hash, &reply.body);
    Ok(Fetched {
        bytes: reply.body,
        from_cache: false,
    })
}

/// The file of `hash` in the disk cache, if it is there whole.
#[cfg(not(target_arch = "wasm32"))]
fn cached(dir: &Path, hash: &str) -> Option<Vec<u8>> {
    std::fs::read(dir.join(hash))
        .ok()
        .filter(|bytes| content_hash(bytes) == hash)
}

/// Keeps a downloaded file in the disk cache: written whole, then renamed, so a
/// half-written file is never taken from the cache.
#[cfg(not(target_arch = "wasm32"))]
fn keep(dir: &Path, hash: &str, bytes: &[u8]) {
    if std::fs::create_dir_all(dir).is_ok() {
        let part = dir.join(format!("{hash}.part{}", std::process::id()));
        if std::fs::write(&part, bytes).is_ok() {
            let _ = std::fs::rename(&part, dir.join(hash));
        }
    }
}

/// A browser has no disk to keep files on: its HTTP cache keeps them instead.
#[cfg(target_arch = "wasm32")]
fn cached(_dir: &Path, _hash: &str) -> Option<Vec<u8>> {
    None
}

#[cfg(target_arch = "wasm32")]
fn keep(_dir: &Path, _hash: &str, _bytes: &[u8]) {}
