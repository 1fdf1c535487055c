//! The desktop game remembers the guest session each server gave it (per server and
//! name) in `sessions.json` in its data folder, readable by the user only, so a
//! restarted game logs in as the same guest: same inventory, same conversations. In a
//! browser the same map is kept in the page's `localStorage` (per site, like a cookie).

use std::collections::BTreeMap;
use std::path::PathBuf;

use bevy::prelude::*;

use crate::connection::ServerTarget;

/// The game's own files: `$XDG_DATA_HOME/tavern` or `~/.local/share/tavern`, else a
/// folder in the system's temp dir.
#[cfg(not(target_arch = "wasm32"))]
pub fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("tavern")
}

/// The remembered sessions: `"<server> <name>"` → session secret.
#[derive(Resource, Debug, Clone)]
pub struct SessionFile {
    path: PathBuf,
    /// Which server the game plays on (`built-in` for its own, whose address changes).
    server: String,
}

impl SessionFile {
    pub fn new(path: impl Into<PathBuf>, server: &str) -> Self {
        SessionFile {
            path: path.into(),
            server: server.to_string(),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{} {name}", self.server)
    }

    fn read(&self) -> BTreeMap<String, String> {
        match self.stored() {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(
                    "{}: not a sessions file ({e}); starting a new one",
                    self.path.display()
                );
                BTreeMap::new()
            }),
            None => BTreeMap::new(),
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn stored(&self) -> Option<Vec<u8>> {
        std::fs::read(&self.path).ok()
    }

    #[cfg(target_arch = "wasm32")]
    fn stored(&self) -> Option<Vec<u8>> {
        let storage = web_sys::window()?.local_storage().ok()??;
        let text = storage.get_item(&self.path.to_string_lossy()).ok()??;
        Some(text.into_bytes())
    }

    /// The session remembered for `name` on this server.
    pub fn load(&self, name: &str) -> Option<String> {
        self.read().remove(&self.key(name))
    }

    /// Remembers `session` for `name` on this server (written whole, then moved into
    /// place, readable by the user only).
    pub fn save(&self, name: &str, session: &str) -> std::io::Result<()> {
        let mut all = self.read();
        if all.get(&self.key(name)).map(String::as_str) == Some(session) {
            return Ok(());
        }
        all.insert(self.key(name), session.to_string());
        self.store(&serde_json::to_vec_pretty(&all).unwrap_or_default())
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn store(&self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let fresh = self.path.with_extension("json.new");
        write_private(&fresh, bytes)?;
        std::fs::rename(&fresh, &self.path)
    }

    /// In a browser: the page's `localStorage`, under the key `path` names.
    #[cfg(target_arch = "wasm32")]
    fn store(&self, bytes: &[u8]) -> std::io::Result<()> {
        let refused = |what: &str| std::io::Error::other(format!("the browser {what}"));
        let storage = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .ok_or_else(|| refused("keeps no localStorage for this page"))?;
        storage
            .set_item(
                &self.path.to_string_lossy(),
                &String::from_utf8_lossy(bytes),
            )
            .map_err(|_| refused("refused to store the session (storage full or blocked)"))
    }
}

/// Writes `bytes` to `path`, readable by this user only.
#[cfg(not(target_arch = "wasm32"))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Saves the session the login answered, when it is new.
pub fn remember(file: Res<SessionFile>, target: Option<Res<ServerTarget>>) {
    let Some(target) = target.filter(|t| t.is_changed()) else {
        return;
    };
    if let Some(session) = &target.session
        && let Err(e) = file.save(&target.name, session)
    {
        warn!(
            "cannot remember the guest session in {}: {e}",
            file.path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_remembered_per_server_and_name_for_the_user_only() {
        let dir = std::env::temp_dir().join(format!("tavern-sessions-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sessions.json");
        let here = SessionFile::new(&path, "http://a:8080");
        assert_eq!(here.load("Ada"), None);
        here.save("Ada", "s1").unwrap();
        here.save("Bo", "s2").unwrap();
        SessionFile::new(&path, "built-in")
            .save("Ada", "s3")
            .unwrap();
        assert_eq!(here.load("Ada").as_deref(), Some("s1"));
        assert_eq!(here.load("Bo").as_deref(), Some("s2"));
        assert_eq!(
            SessionFile::new(&path, "built-in").load("Ada").as_deref(),
            Some("s3")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A broken file is replaced, not a reason to fail.
        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(here.load("Ada"), None);
        here.save("Ada", "s4").unwrap();
        assert_eq!(here.load("Ada").as_deref(), Some("s4"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
