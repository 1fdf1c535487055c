//! The desktop client's own server: with no `--server`, the game starts one in-process on
//! loopback (its own Bevy app on its own thread) and joins it.

use std::path::PathBuf;

use tavern_server::{RunningServer, ServerConfig};

/// Where the embedded server keeps its files: `$XDG_DATA_HOME/tavern` or
/// `~/.local/share/tavern`, else a folder in the system's temp dir.
pub fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("tavern")
}

/// Starts a server on ephemeral loopback ports; `map` (a map file or folder) overrides
/// the sample world.
pub fn start(map: Option<PathBuf>) -> anyhow::Result<RunningServer> {
    let mut config = ServerConfig::local(data_dir());
    if let Some(map) = map {
        config.maps = vec![map];
    }
    tavern_server::start(config)
}
