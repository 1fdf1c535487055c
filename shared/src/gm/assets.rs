//! Shared campaign assets (scene images, portraits, handouts, narration audio): what a
//! file is, told by its content and never by its name, and what the table is told of
//! the files its GM shared, showed or played.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// Largest file a GM may upload unless the server says otherwise (`--max-asset-size`).
pub const DEFAULT_MAX_ASSET_BYTES: u64 = 5 * 1024 * 1024;
/// Longest side of an image's thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// Longest side of the picture clients draw of an image, in pixels.
pub const VIEW_SIDE: u32 = 2048;
/// Longest side of an image the server takes (a larger one would take too much memory
/// to decode).
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Longest asset name, in characters.
pub const ASSET_NAME_CHARS: usize = 80;
/// How long after a sound is announced every client starts it, in milliseconds.
pub const SOUND_LEAD_MS: u32 = 500;

/// What a shared asset is for a client: a picture to draw or a sound to play.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Image,
    Audio,
}

/// The file types a GM may share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetType {
    Png,
    Jpeg,
    Webp,
    Ogg,
    Mp3,
    Wav,
}

impl AssetType {
    pub fn kind(self) -> AssetKind {
        match self {
            AssetType::Png | AssetType::Jpeg | AssetType::Webp => AssetKind::Image,
            AssetType::Ogg | AssetType::Mp3 | AssetType::Wav => AssetKind::Audio,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            AssetType::Png => "image/png",
            AssetType::Jpeg => "image/jpeg",
            AssetType::Webp => "image/webp",
            AssetType::Ogg => "audio/ogg",
            AssetType::Mp3 => "audio/mpeg",
            AssetType::Wav => "audio/wav",
        }
    }

    /// The extension a file of this type has.
    pub fn extension(self) -> &'static str {
        match self {
            AssetType::Png => "png",
            AssetType::Jpeg => "jpg",
            AssetType::Webp => "webp",
            AssetType::Ogg => "ogg",
            AssetType::Mp3 => "mp3",
            AssetType::Wav => "wav",
        }
    }

    /// The type whose content type is `content_type`.
    pub fn from_content_type(content_type: &str) -> Option<AssetType> {
        [
            AssetType::Png,
            AssetType::Jpeg,
            AssetType::Webp,
            AssetType::Ogg,
            AssetType::Mp3,
            AssetType::Wav,
        ]
        .into_iter()
        .find(|t| t.content_type() == content_type)
    }
}

/// What the file types taken are, for messages.
pub const TYPES_TAKEN: &str = "PNG, JPEG, WebP, OGG, MP3 or WAV";

/// The type of a file by its first bytes, or what it looks like instead (an
/// executable, an archive, another kind of file): the file's name plays no part.
pub fn sniff(bytes: &[u8]) -> Result<AssetType, String> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let riff = |form: &[u8]| bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == form;
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(AssetType::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(AssetType::Jpeg);
    }
    if riff(b"WEBP") {
        return Ok(AssetType::Webp);
    }
    if riff(b"WAVE") {
        return Ok(AssetType::Wav);
    }
    // An Ogg page: capture pattern, stream structure version 0.
    if bytes.len() >= 27 && starts(b"OggS") && bytes[4] == 0 {
        return Ok(AssetType::Ogg);
    }
    if starts(b"ID3") && bytes.len() >= 10 && bytes[3] <= 4 {
        return Ok(AssetType::Mp3);
    }
    if is_mpeg_audio_frame(bytes) {
        return Ok(AssetType::Mp3);
    }
    let looks_like = if starts(b"\x7fELF") {
        "an ELF executable"
    } else if starts(b"MZ") {
        "a Windows executable"
    } else if starts(&[0xCF, 0xFA, 0xED, 0xFE]) || starts(&[0xCA, 0xFE, 0xBA, 0xBE]) {
        "a macOS executable"
    } else if starts(b"#!") {
        "a script"
    } else if starts(b"PK\x03\x04") {
        "a ZIP archive"
    } else if starts(b"%PDF") {
        "a PDF document"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "a GIF image (not taken: convert it to PNG)"
    } else if starts(b"fLaC") {
        "a FLAC file (not taken: convert it to OGG)"
    } else if bytes.is_empty() {
        "empty"
    } else if bytes
        .iter()
        .take(512)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "text"
    } else {
        "none of them"
    };
    Err(format!(
        "its content is not {TYPES_TAKEN}: it looks like {looks_like}"
    ))
}

/// Whether `bytes` start with an MPEG-1/2 audio layer III frame header: frame sync,
/// a known version, layer III, a usable bitrate and sample rate.
fn is_mpeg_audio_frame(bytes: &[u8]) -> bool {
    let [a, b, c, ..] = *bytes else {
        return false;
    };
    let sync = a == 0xFF && b & 0xE0 == 0xE0;
    let version = (b >> 3) & 0b11; // 01 is reserved
    let layer = (b >> 1) & 0b11; // 01 is layer III
    let bitrate = c >> 4; // 0000 free, 1111 bad
    let rate = (c >> 2) & 0b11; // 11 reserved
    sync && version != 0b01 && layer == 0b01 && bitrate != 0 && bitrate != 0xF && rate != 0b11
}

/// An asset's name as the GM gave it (the uploaded file's name), or what is wrong.
pub fn check_asset_name(name: &str) -> Result<(), String> {
    let count = name.chars().count();
    if name.trim().is_empty() {
        return Err("the file needs a name".into());
    }
    if count > ASSET_NAME_CHARS {
        return Err(format!(
            "the file name has {count} characters; at most {ASSET_NAME_CHARS}"
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err("the file name must not contain control characters or slashes".into());
    }
    Ok(())
}

/// A file the GM shared with the campaign, as everyone at the table knows it. Its URLs
/// are content-addressed (`/assets/HASH/NAME`): each one's content never changes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SharedAsset {
    /// The SHA-256 of the file, in lowercase hex.
    pub hash: String,
    pub name: String,
    pub kind: AssetKind,
    pub content_type: String,
    /// The file's size in bytes.
    pub bytes: u64,
    /// The file as uploaded.
    pub url: String,
    /// For an image: a PNG of at most [`VIEW_SIDE`] pixels a side, what clients draw.
    pub view_url: Option<String>,
    /// For an image: a PNG of at most [`THUMBNAIL_SIDE`] pixels a side.
    pub thumbnail_url: Option<String>,
    /// An image's size in pixels (0 for a sound).
    pub width: u32,
    pub height: u32,
    /// The account that uploaded it.
    pub uploaded_by: i64,
}

impl SharedAsset {
    /// Whether `key` names this asset: its name (case aside) or the start of its hash
    /// (at least 6 digits).
    pub fn is_named(&self, key: &str) -> bool {
        self.name.eq_ignore_ascii_case(key)
            || (key.len() >= 6
                && key.bytes().all(|b| b.is_ascii_hexdigit())
                && self.hash.starts_with(&key.to_ascii_lowercase()))
    }
}

/// Server → client, reliable: files shared with the campaign (on arrival every one of
/// them, then each new one as the GM uploads it).
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetsShared {
    pub assets: Vec<SharedAsset>,
}

/// Server → client, reliable: the GM shows an image to the whole table (a full-screen
/// handout each player may close), or (`None`) takes it away.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowHandout {
    pub asset: Option<SharedAsset>,
    /// The GM's name.
    pub by: String,
}

/// Server → client, reliable: the GM plays a sound for the table. Every client starts
/// it `lead_ms` after the server sent this (the message's arrival, less half the round
/// trip), so the table hears it together.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaySound {
    pub asset: SharedAsset,
    pub lead_ms: u32,
    pub by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_content_and_impostors_are_named() {
        let cases: [(&[u8], AssetType); 7] = [
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", AssetType::Png),
            (
                &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F'],
                AssetType::Jpeg,
            ),
            (b"RIFF\x24\0\0\0WEBPVP8 ", AssetType::Webp),
            (b"RIFF\x24\0\0\0WAVEfmt ", AssetType::Wav),
            (
                b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01",
                AssetType::Ogg,
            ),
            (b"ID3\x04\0\0\0\0\0\x21", AssetType::Mp3),
            // MPEG-1 layer III, 128 kbit/s, 44.1 kHz.
            (&[0xFF, 0xFB, 0x90, 0x64], AssetType::Mp3),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff(bytes), Ok(expected), "{bytes:?}");
        }
        let refused = |bytes: &[u8]| sniff(bytes).unwrap_err();
        assert!(refused(b"\x7fELF\x02\x01\x01\0").contains("an ELF executable"));
        assert!(refused(b"MZ\x90\0").contains("a Windows executable"));
        assert!(refused(b"#!/bin/sh\nrm -rf /").contains("a script"));
        assert!(refused(b"GIF89a....").contains("GIF"));
        assert!(refused(b"hello there").contains("text"));
        assert!(refused(b"").contains("empty"));
        assert!(refused(&[0, 1, 2, 3, 250]).contains(TYPES_TAKEN));
        // A frame sync with layer I, or a reserved sample rate, is no MP3.
        assert!(sniff(&[0xFF, 0xFF, 0x90, 0x64]).is_err());
        assert!(sniff(&[0xFF, 0xFB, 0x9C, 0x64]).is_err());
        // A RIFF of another form.
        assert!(sniff(b"RIFF\x24\0\0\0AVI LIST").is_err());
    }

    #[test]
    fn types_map_to_kinds_and_content_types() {
        assert_eq!(AssetType::Webp.kind(), AssetKind::Image);
        assert_eq!(AssetType::Mp3.kind(), AssetKind::Audio);
        assert_eq!(
            AssetType::from_content_type("audio/ogg"),
            Some(AssetType::Ogg)
        );
        assert_eq!(AssetType::from_content_type("text/html"), None);
    }

    #[test]
    fn names_are_checked_and_assets_found_by_name_or_hash() {
        assert!(check_asset_name("map of the keep.png").is_ok());
        assert!(check_asset_name("  ").is_err());
        assert!(check_asset_name("../../etc/passwd").is_err());
        assert!(check_asset_name(&"a".repeat(81)).is_err());
        let asset = SharedAsset {
            hash: "ab12cd34ef".repeat(6) + "abcd",
            name: "Keep.png".into(),
            kind: AssetKind::Image,
            content_type: "image/png".into(),
            bytes: 10,
            url: String::new(),
            view_url: None,
            thumbnail_url: None,
            width: 1,
            height: 1,
            uploaded_by: 1,
        };
        assert!(asset.is_named("keep.png"));
        assert!(asset.is_named("AB12CD"));
        assert!(!asset.is_named("ab12c"));
        assert!(!asset.is_named("keep"));
    }
}
