//! The server's own files are private: the data directory is created 0700 and the
//! files in it (key, database) 0600; existing ones that others can read get a warning.

use std::fs;
use std::path::Path;

use anyhow::Context;

/// Creates `dir` (and parents) for the owner only, or warns if it exists and is open
/// to others.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        warn_if_open(dir, "the data directory", "700");
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("{}: cannot create the data directory", dir.display()))
}

/// Creates `path` empty for the owner only if it is missing (so that what writes it
/// later keeps those permissions), or warns if it exists and is open to others.
pub fn prepare_file(path: &Path, what: &str) -> anyhow::Result<()> {
    if path.exists() {
        warn_if_open(path, what, "600");
        return Ok(());
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .with_context(|| format!("{}: cannot create {what}", path.display()))
}

/// Logs a warning when group or others have any access to `path`.
pub fn warn_if_open(path: &Path, what: &str, mode: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "{what} is open to other users of this machine; run `chmod {mode}` on it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what, mode);
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_fresh_data_directory_and_its_files_are_private() {
        let root = std::env::temp_dir().join(format!("tavern-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let dir = root.join("data");
        prepare_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("tavern.db");
        prepare_file(&db, "the database").unwrap();
        assert_eq!(mode(&db), 0o600);
        fs::write(&db, b"kept").unwrap();
        prepare_file(&db, "the database").unwrap();
        assert_eq!(
            fs::read(&db).unwrap(),
            b"kept",
            "an existing file is left as it is"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
