//! What server and client agree on about map images served over HTTP: an image's URL is
//! `/assets/HASH/NAME`, HASH naming its content (the first 128 bits of its SHA-256, in
//! lowercase hex), so a URL's content never changes and a client can check what it got.

use sha2::{Digest, Sha256};

/// Largest image served (and downloaded).
pub const MAX_ASSET_BYTES: u64 = 16 * 1024 * 1024;
/// Hex digits of SHA-256 in an asset's URL (128 bits).
const HASH_DIGITS: usize = 32;

/// The hash naming `bytes` in their URL.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex.truncate(HASH_DIGITS);
    hex
}

/// The URL of the file `name` whose content hashes to `hash`.
pub fn asset_url(hash: &str, name: &str) -> String {
    format!("/assets/{hash}/{}", url_encode(name))
}

/// The hash an asset URL names, if it is one.
pub fn url_hash(url: &str) -> Option<&str> {
    let mut parts = url.strip_prefix("/assets/")?.split('/');
    let hash = parts.next()?;
    (!hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()) && parts.next().is_some())
        .then_some(hash)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_content_and_carry_the_name() {
        let hash = content_hash(b"one picture");
        assert_eq!(hash.len(), HASH_DIGITS);
        assert_eq!(hash, content_hash(b"one picture"));
        assert_ne!(hash, content_hash(b"another picture"));
        let url = asset_url(&hash, "town tiles (v2).png");
        assert_eq!(url, format!("/assets/{hash}/town%20tiles%20%28v2%29.png"));
        assert_eq!(url_hash(&url), Some(hash.as_str()));
        assert_eq!(asset_url("ab", "Zoë.png"), "/assets/ab/Zo%C3%AB.png");
    }

    #[test]
    fn only_asset_urls_name_a_hash() {
        assert_eq!(url_hash("/assets/ab12/town.png"), Some("ab12"));
        for bad in [
            "/assets/ab12",
            "/assets//x.png",
            "/assets/zz/x.png",
            "/other/ab/x.png",
        ] {
            assert_eq!(url_hash(bad), None, "{bad}");
        }
    }
}
