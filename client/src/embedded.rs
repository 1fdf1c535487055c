//! The desktop client's own server: with no `--server`, the game starts one in-process on
//! loopback (its own Bevy app on its own thread) and joins it.

use std::path::PathBuf;

use crate::sessions::data_dir;
use tavern_server::{RunningServer, ServerConfig};

/// Starts a server on ephemeral loopback ports; `map` (a map file or folder) overrides
/// the sample world.
pub fn start(map: Option<PathBuf>) -> anyhow::Result<RunningServer> {
    let mut config = ServerConfig::local(data_dir());
    if let Some(map) = map {
        config.maps = vec![map];
    }
    tavern_server::start(config)
}
