//! The images loaded maps reference, served over HTTP at content-addressed URLs
//! (`/assets/HASH/NAME`): a map brings its tilesets' pictures to every client, wherever
//! the map lives on the server's disk, and an edited image gets a new URL, so clients
//! can cache a URL for ever. Only files a loaded map references are served: the URL's
//! hash is looked up among them, never used as a path.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use bevy::prelude::*;
use sha2::{Digest, Sha256};
use tavern_shared::map::MapData;

use crate::world::LoadedMap;

/// Largest image served (and read at load).
pub const MAX_ASSET_BYTES: u64 = 16 * 1024 * 1024;
/// Hex digits of SHA-256 in an asset's URL (128 bits).
const HASH_DIGITS: usize = 32;

/// One file the server serves.
#[derive(Clone, Debug)]
pub struct ServedFile {
    /// Its file name (the last part of its URL).
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Arc<[u8]>,
}

/// The files every loaded map references, by content hash; shared by the game (which
/// rebuilds it when a map is swapped in) and the HTTP API (which serves it).
#[derive(Resource, Clone, Debug, Default)]
pub struct ServedAssets(Arc<RwLock<HashMap<String, ServedFile>>>);

impl ServedAssets {
    /// Serves exactly what `maps` reference (an image no map uses any more is gone).
    pub fn rebuild<'a>(&self, maps: impl Iterator<Item = &'a LoadedMap>) {
        let files: HashMap<String, ServedFile> =
            maps.flat_map(|m| m.assets.iter().cloned()).collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = files;
    }

    /// The file whose content hash is `hash`.
    pub fn get(&self, hash: &str) -> Option<ServedFile> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hash)
            .cloned()
    }

    /// How many files are served.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads every image `data` references (tileset images and image-collection tiles),
/// writes their URLs into it, and answers the files by hash and the paths read; or
/// every image that could not be served, each named.
pub fn address_images(
    data: &mut MapData,
) -> Result<(Vec<(String, ServedFile)>, Vec<String>), Vec<String>> {
    let mut served: HashMap<String, (String, ServedFile)> = HashMap::new();
    let mut errors = Vec::new();
    let mut serve = |path: &str| -> Option<String> {
        if let Some((url, _)) = served.get(path) {
            return Some(url.clone());
        }
        match read_image(Path::new(path)) {
            Ok(file) => {
                let hash = content_hash(&file.bytes);
                let url = format!("/assets/{hash}/{}", url_encode(&file.name));
                served.insert(path.to_string(), (url.clone(), file));
                Some(url)
            }
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };
    for ts in &mut data.tilesets {
        if let Some(path) = ts.image_path.clone() {
            ts.image_url = serve(&path);
        }
        for tile in &mut ts.tile_images {
            let path = tile.path.clone();
            tile.url = serve(&path);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let paths = served.keys().cloned().collect();
    let files = served
        .into_values()
        .map(|(url, file)| (hash_of(&url).to_string(), file))
        .collect();
    Ok((files, paths))
}

fn read_image(path: &Path) -> Result<ServedFile, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("the image `{shown}` cannot be read: {e}"))?
        .len();
    if size > MAX_ASSET_BYTES {
        return Err(format!(
            "the image `{shown}` is {} MB; images of at most {} MB are served",
            size / (1024 * 1024),
            MAX_ASSET_BYTES / (1024 * 1024)
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| format!("the image `{shown}` cannot be read: {e}"))?;
    let name = path
        .file_name()
        .map_or_else(|| "image".into(), |n| n.to_string_lossy().into_owned());
    Ok(ServedFile {
        content_type: content_type(&name),
        name,
        bytes: bytes.into(),
    })
}

/// The first 128 bits of the SHA-256 of `bytes`, in hex.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(HASH_DIGITS);
    hex
}

/// The hash part of an asset URL made by [`address_images`].
fn hash_of(url: &str) -> &str {
    url.trim_start_matches("/assets/")
        .split('/')
        .next()
        .unwrap_or_default()
}

/// A file name as a URL path segment: letters, digits, `.`, `-` and `_` as they are,
/// every other byte percent-encoded.
fn url_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The content type of an image file, by its extension.
fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tga" => "image/x-tga",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_and_types_known() {
        assert_eq!(
            url_encode("town tiles (v2).png"),
            "town%20tiles%20%28v2%29.png"
        );
        assert_eq!(url_encode("Zoë.png"), "Zo%C3%AB.png");
        assert_eq!(content_type("A.PNG"), "image/png");
        assert_eq!(content_type("a.jpeg"), "image/jpeg");
        assert_eq!(content_type("notes"), "application/octet-stream");
        assert_eq!(hash_of("/assets/abc/x.png"), "abc");
    }

    #[test]
    fn a_hash_names_content_not_files() {
        let a = content_hash(b"one picture");
        assert_eq!(a.len(), HASH_DIGITS);
        assert_eq!(a, content_hash(b"one picture"));
        assert_ne!(a, content_hash(b"another picture"));
    }

    #[test]
    fn every_missing_or_oversized_image_is_named() {
        let dir = std::env::temp_dir().join(format!("tavern-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("huge.png");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_ASSET_BYTES + 1).unwrap();
        let mut map = tavern_shared::map::MapData::from_ascii("t", 16, &["S."]);
        map.tilesets[0].image_path = Some(big.display().to_string());
        let mut second = map.tilesets[0].clone();
        second.image_path = Some(dir.join("gone.png").display().to_string());
        map.tilesets.push(second);
        let errors = address_images(&mut map).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("huge.png") && errors[0].contains("at most 16 MB"));
        assert!(errors[1].contains("gone.png") && errors[1].contains("cannot be read"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
