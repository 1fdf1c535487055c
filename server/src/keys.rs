//! The netcode private key: read from the environment, or from the data directory,
//! where it is created (mode 0600) on first run. It is never logged.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bevy_replicon_renet2::netcode::{NETCODE_KEY_BYTES, generate_random_bytes};

/// Environment variable that can hold the key (base64), for deployments that keep
/// secrets out of files.
pub const KEY_ENV: &str = "TAVERN_NETCODE_KEY";
/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "netcode.key";

pub type NetcodeKey = [u8; NETCODE_KEY_BYTES];

/// Decodes a base64 key as given in [`KEY_ENV`].
pub fn decode_key(text: &str) -> anyhow::Result<NetcodeKey> {
    let bytes = STANDARD
        .decode(text.trim())
        .with_context(|| format!("{KEY_ENV} is not valid base64"))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        anyhow::anyhow!(
            "{KEY_ENV} decodes to {} bytes; a netcode key is {NETCODE_KEY_BYTES} bytes",
            b.len()
        )
    })
}

/// The key from `from_env` if given, else from `data_dir/netcode.key`, creating it.
pub fn load_or_create(data_dir: &Path, from_env: Option<&str>) -> anyhow::Result<NetcodeKey> {
    if let Some(text) = from_env {
        return decode_key(text);
    }
    let path = data_dir.join(KEY_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            crate::files::warn_if_open(&path, "the netcode key", "600");
            let len = bytes.len();
            bytes.try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{}: holds {len} bytes; a netcode key is {NETCODE_KEY_BYTES} bytes. \
                     Delete the file to have a new key made.",
                    path.display()
                )
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path),
        Err(e) => {
            Err(e).with_context(|| format!("{}: cannot read the netcode key", path.display()))
        }
    }
}

fn create(path: &Path) -> anyhow::Result<NetcodeKey> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    crate::files::prepare_dir(&dir)?;
    let key: NetcodeKey = generate_random_bytes();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("{}: cannot create the netcode key", path.display()))?;
    file.write_all(&key)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("{}: cannot write the netcode key", path.display()))?;
    tracing::info!(path = %path.display(), "created a new netcode key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tavern-keys-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_key_is_created_once_with_mode_0600_and_then_reused() {
        let dir = temp_dir("create");
        let first = load_or_create(&dir, None).unwrap();
        let second = load_or_create(&dir, None).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_key_file_is_reported_with_its_path() {
        let dir = temp_dir("damaged");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(KEY_FILE), b"short").unwrap();
        let err = load_or_create(&dir, None).unwrap_err().to_string();
        assert!(
            err.contains("netcode.key") && err.contains("5 bytes"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_from_the_environment_are_checked() {
        let key = STANDARD.encode([7u8; 32]);
        assert_eq!(
            load_or_create(Path::new("/nonexistent"), Some(&key)).unwrap(),
            [7u8; 32]
        );
        let err = decode_key("AAAA").unwrap_err().to_string();
        assert!(err.contains("3 bytes"), "{err}");
        assert!(decode_key("not base64!").is_err());
    }
}
