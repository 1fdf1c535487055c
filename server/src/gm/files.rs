//! Where shared campaign files lie: content-addressed in `DATA_DIR/assets` (a file is
//! named by the SHA-256 of its bytes, under a folder of its first two hex digits), or
//! under the same names in an S3-compatible bucket (`--assets-s3`), so the same
//! picture shared twice is kept once and a name can never reach another path. The
//! index maps the hashes asset URLs carry to the files the store lists; the HTTP API
//! serves only what it names.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use sha2::{Digest, Sha256};

use crate::store::assets::{AssetRecord, url_hash};

/// A file the index names: its full hash and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    hash: String,
    content_type: String,
}

/// The asset store (a folder or a bucket) and the index of what it serves; cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct AssetFiles {
    place: Place,
    /// By the hash in URLs (32 hex digits).
    index: Arc<RwLock<HashMap<String, Entry>>>,
}

#[derive(Debug, Clone)]
enum Place {
    Disk(PathBuf),
    Bucket(Arc<crate::gm::bucket::Bucket>),
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AssetFiles {
    /// Files kept in the folder `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AssetFiles {
            place: Place::Disk(dir.into()),
            index: Arc::default(),
        }
    }

    /// Files kept in an S3-compatible bucket.
    pub fn in_bucket(bucket: crate::gm::bucket::Bucket) -> Self {
        AssetFiles {
            place: Place::Bucket(Arc::new(bucket)),
            index: Arc::default(),
        }
    }

    /// The name of the file with content `hash`: `ab/abcd…`.
    fn name(hash: &str) -> String {
        format!("{}/{hash}", &hash[..2.min(hash.len())])
    }

    /// Where the file with content `hash` lies on disk.
    fn path(dir: &Path, hash: &str) -> PathBuf {
        dir.join(Self::name(hash))
    }

    /// Keeps `bytes` (if not kept already) and answers their hash. On disk written to a
    /// temporary name and renamed, so a file under its hash is always whole. Blocks:
    /// for `spawn_blocking`.
    pub fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let hash = sha256_hex(bytes);
        let dir = match &self.place {
            Place::Disk(dir) => dir,
            Place::Bucket(bucket) => {
                bucket.put(&Self::name(&hash), bytes)?;
                return Ok(hash);
            }
        };
        let path = Self::path(dir, &hash);
        if path.try_exists()? {
            return Ok(hash);
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder)?;
        let temporary = folder.join(format!(".{hash}.{}", std::process::id()));
        std::fs::write(&temporary, bytes)?;
        std::fs::rename(&temporary, &path)?;
        Ok(hash)
    }

    /// Serves the files of `record`: the upload, its view and thumbnail.
    pub fn index(&self, record: &AssetRecord) {
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        let mut add = |hash: &str, content_type: &str| {
            index.insert(
                url_hash(hash).to_string(),
                Entry {
                    hash: hash.to_string(),
                    content_type: content_type.to_string(),
                },
            );
        };
        add(&record.asset.hash, &record.asset.content_type);
        for hash in [&record.view_hash, &record.thumb_hash]
            .into_iter()
            .flatten()
        {
            add(hash, "image/png");
        }
    }

    /// Stops serving the files of `record` and deletes them, but for those `kept`
    /// (other campaigns' records) still use. Blocks: for `spawn_blocking`.
    pub fn forget(&self, record: &AssetRecord, kept: &[AssetRecord]) {
        let used: Vec<&String> = kept
            .iter()
            .flat_map(|r| {
                [
                    Some(&r.asset.hash),
                    r.view_hash.as_ref(),
                    r.thumb_hash.as_ref(),
                ]
            })
            .flatten()
            .collect();
        let hashes = [
            Some(&record.asset.hash),
            record.view_hash.as_ref(),
            record.thumb_hash.as_ref(),
        ];
        for hash in hashes.into_iter().flatten() {
            if used.contains(&hash) {
                continue;
            }
            self.index
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(url_hash(hash));
            let removed = match &self.place {
                Place::Disk(dir) => std::fs::remove_file(Self::path(dir, hash)),
                Place::Bucket(bucket) => bucket.delete(&Self::name(hash)),
            };
            if let Err(e) = removed
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(%hash, "a shared file of a deleted campaign could not be removed: {e}");
            }
        }
    }

    /// The content type and bytes of the file an asset URL's hash names, if it is a
    /// shared file; a file that does not hash to what it is named is not served.
    pub async fn read(&self, url_hash: &str) -> Option<(String, Vec<u8>)> {
        let entry = self
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url_hash)
            .cloned()?;
        let (place, name) = (self.place.clone(), Self::name(&entry.hash));
        let read = tokio::task::spawn_blocking(move || match place {
            Place::Disk(dir) => std::fs::read(dir.join(name)),
            Place::Bucket(bucket) => bucket.get(&name),
        })
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)));
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(hash = %entry.hash, "a shared file cannot be read: {e}");
                return None;
            }
        };
        if sha256_hex(&bytes) != entry.hash {
            tracing::error!(hash = %entry.hash, "a shared file on disk does not match its hash; not served");
            return None;
        }
        Some((entry.content_type, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::gm::assets::AssetKind;

    #[tokio::test]
    async fn files_are_kept_once_by_hash_served_when_indexed_and_forgotten() {
        let dir = std::env::temp_dir().join(format!("tavern-files-{}", std::process::id()));
        let files = AssetFiles::new(&dir);
        let hash = files.put(b"a handout").unwrap();
        assert_eq!(hash, sha256_hex(b"a handout"));
        assert_eq!(files.put(b"a handout").unwrap(), hash);
        let path = AssetFiles::path(&dir, &hash);
        assert!(path.starts_with(dir.join(&hash[..2])));
        let record = AssetRecord::new(
            hash.clone(),
            "note.png".into(),
            AssetKind::Image,
            "image/png".into(),
            9,
            (1, 1),
            None,
            None,
            1,
        );
        assert!(
            files.read(url_hash(&hash)).await.is_none(),
            "not indexed yet"
        );
        files.index(&record);
        let (content_type, bytes) = files.read(url_hash(&hash)).await.unwrap();
        assert_eq!(
            (content_type.as_str(), bytes.as_slice()),
            ("image/png", &b"a handout"[..])
        );
        // A file changed on disk is not served.
        std::fs::write(&path, b"tampered").unwrap();
        assert!(files.read(url_hash(&hash)).await.is_none());
        // Still used by another campaign: kept.
        files.forget(&record, std::slice::from_ref(&record));
        assert!(path.exists());
        files.forget(&record, &[]);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
