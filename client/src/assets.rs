//! The current map's images, from the server that runs it: each tileset image has a
//! content-addressed URL (`/assets/HASH/NAME`) in the map message. The client looks in
//! its disk cache first, else downloads the file, checks that it has the hash its URL
//! names, and keeps it in the cache (a URL's content never changes). The window draws
//! them ([`crate::render`]); bots fetch them too, so tests see what a player would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bevy::prelude::*;
use tavern_shared::assets::{MAX_ASSET_BYTES, content_hash, url_hash};

use crate::PlaySystems;
use crate::connection::ServerTarget;
use crate::prediction::CurrentMap;

/// Where downloaded map images are kept: `$XDG_CACHE_HOME/tavern/assets`, else
/// `~/.cache/tavern/assets` (tests point it elsewhere).
#[derive(Resource, Clone, Debug)]
pub struct AssetCache(pub PathBuf);

impl Default for AssetCache {
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
    Loading(Mutex<Receiver<Result<Fetched, String>>>),
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
        if assets.files.contains_key(url) {
            continue;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (server, url_owned, dir) = (target.url.clone(), url.to_string(), cache.0.clone());
        std::thread::spawn(move || {
            let _ = tx.send(fetch(&server, &url_owned, &dir));
        });
        assets
            .files
            .insert(url.to_string(), Fetch::Loading(Mutex::new(rx)));
    }
}

fn take_in_images(mut assets: ResMut<MapAssets>) {
    let assets = &mut *assets;
    for (url, fetch) in &mut assets.files {
        let Fetch::Loading(rx) = fetch else { continue };
        let result = rx
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .try_recv();
        *fetch = match result {
            Err(TryRecvError::Empty) => continue,
            Ok(Ok(fetched)) => {
                if fetched.from_cache {
                    assets.from_cache += 1;
                } else {
                    assets.downloaded += 1;
                }
                Fetch::Ready(fetched.bytes.into())
            }
            Ok(Err(reason)) => {
                warn!(%url, "a map image is missing: {reason}");
                Fetch::Failed(reason)
            }
            Err(TryRecvError::Disconnected) => Fetch::Failed("the download stopped".into()),
        };
    }
}

/// The image at `url` on `server`: from the cache in `dir` if there, else downloaded,
/// checked against its hash and cached.
pub fn fetch(server: &str, url: &str, dir: &Path) -> Result<Fetched, String> {
    let hash = url_hash(url).ok_or_else(|| format!("`{url}` is not an asset URL"))?;
    let cached = dir.join(hash);
    if let Ok(bytes) = std::fs::read(&cached)
        && content_hash(&bytes) == hash
    {
        return Ok(Fetched {
            bytes,
            from_cache: true,
        });
    }
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent
        .get(&format!("{server}{url}"))
        .call()
        .map_err(|e| format!("cannot download it: {e}"))?;
    if response.status() != 200 {
        return Err(format!("the server answered {}", response.status()));
    }
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_ASSET_BYTES)
        .read_to_vec()
        .map_err(|e| format!("the download broke off: {e}"))?;
    if content_hash(&bytes) != hash {
        return Err("what arrived is not the file its URL names".into());
    }
    // Written whole, then renamed: a half-written file is never taken from the cache.
    if std::fs::create_dir_all(dir).is_ok() {
        let part = dir.join(format!("{hash}.part{}", std::process::id()));
        if std::fs::write(&part, &bytes).is_ok() {
            let _ = std::fs::rename(&part, &cached);
        }
    }
    Ok(Fetched {
        bytes,
        from_cache: false,
    })
}
