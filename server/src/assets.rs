//! The images loaded maps reference, served over HTTP at content-addressed URLs
//! (`/assets/HASH/NAME`): a map brings its tilesets' pictures to every client, wherever
//! the map lives on the server's disk, and an edited image gets a new URL, so clients
//! can cache a URL for ever. Only files a loaded map references are served: the URL's
//! hash is looked up among them, never used as a path.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use bevy::prelude::*;
use tavern_shared::assets::{MAX_ASSET_BYTES, asset_url, content_hash};
use tavern_shared::map::MapData;

use crate::world::LoadedMap;

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
}

/// Reads every image `data` references (tileset images and image-collection tiles),
/// writes their URLs into it, and answers the files by hash and the paths read; or
/// every image that could not be served, each named.
pub fn address_images(
    data: &mut MapData,
) -> Result<(Vec<(String, ServedFile)>, Vec<String>), Vec<String>> {
    // By path: the file's hash and the file.
    let mut served: HashMap<String, (String, ServedFile)> = HashMap::new();
    let mut errors = Vec::new();
    let mut serve = |path: &str| -> Option<String> {
        if let Some((hash, file)) = served.get(path) {
            return Some(asset_url(hash, &file.name));
        }
        match read_image(Path::new(path)) {
            Ok(file) => {
                let hash = content_hash(&file.bytes);
                let url = asset_url(&hash, &file.name);
                served.insert(path.to_string(), (hash, file));
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
    Ok((served.into_values().collect(), paths))
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
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type("A.PNG"), "image/png");
        assert_eq!(content_type("a.jpeg"), "image/jpeg");
        assert_eq!(content_type("notes"), "application/octet-stream");
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
