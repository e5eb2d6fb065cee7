//! Writing files users keep: exports, reports, settings. One rule for the CLI and the app.
//!
//! A file is written whole to a temporary file in the same folder, flushed to disk (fsync), and
//! renamed over the target: a crash or a failed write leaves the old file whole, never half a
//! file. Replacing an existing file happens only when the caller says so ([`Replace::Allow`]:
//! the user was asked, or passed `--force`); otherwise the write is refused with
//! [`WriteError::Exists`], so that the caller can ask. A replaced file keeps its permissions; a
//! new one gets the usual `rw-rw-rw-` less the process's umask. A symbolic link is never
//! written through or replaced ([`WriteError::Link`]): a path chosen for an export must not
//! overwrite whatever the link points to.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether an existing file may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Refuse: the caller asks the user first.
    Refuse,
    /// Replace it (the user agreed).
    Allow,
}

impl Replace {
    /// `Allow` when the user said so (`--force`, or yes to "replace it?").
    pub fn when(allowed: bool) -> Self {
        if allowed { Self::Allow } else { Self::Refuse }
    }
}

/// Why a file was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} already exists")]
    Exists(PathBuf),
    #[error("{0} is a symbolic link; choose the file itself")]
    Link(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `bytes` to `path` atomically (see the module docs).
pub fn write(path: &Path, bytes: &[u8], replace: Replace) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_owned(),
        source,
    };
    let existing = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            return Err(WriteError::Link(path.to_owned()));
        }
        Ok(metadata) => Some(metadata),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(io(error)),
    };
    if existing.is_some() && replace == Replace::Refuse {
        return Err(WriteError::Exists(path.to_owned()));
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".preamble-")
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(io)?;
    temporary.write_all(bytes).map_err(io)?;
    let permissions = existing
        .as_ref()
        .map(std::fs::Metadata::permissions)
        .or_else(new_file_permissions);
    if let Some(permissions) = permissions {
        temporary
            .as_file()
            .set_permissions(permissions)
            .map_err(io)?;
    }
    temporary.as_file().sync_all().map_err(io)?;
    match replace {
        Replace::Allow => temporary.persist(path).map_err(|error| io(error.error))?,
        // No replacing: a file that appeared meanwhile is not overwritten either.
        Replace::Refuse => temporary.persist_noclobber(path).map_err(|error| {
            if error.error.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::Exists(path.to_owned())
            } else {
                io(error.error)
            }
        })?,
    };
    // The rename itself reaches the disk with the folder's entry.
    if let Ok(folder) = std::fs::File::open(folder) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// What `File::create` would give: `rw-rw-rw-` less the umask (read from `/proc/self/status`
/// on Linux, which does not change it; `022` elsewhere). `None` where files have no modes.
fn new_file_permissions() -> Option<std::fs::Permissions> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let umask = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status.lines().find_map(|line| {
                    let value = line.strip_prefix("Umask:")?.trim();
                    u32::from_str_radix(value, 8).ok()
                })
            })
            .unwrap_or(0o022);
        Some(std::fs::Permissions::from_mode(0o666 & !umask))
    }
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_replace_unless_allowed_and_keeps_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.md");
        write(&path, b"first", Replace::Refuse).unwrap();
        let error = write(&path, b"second", Replace::Refuse).unwrap_err();
        assert!(matches!(error, WriteError::Exists(_)), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        write(&path, b"third", Replace::Allow).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "third");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing is left behind in the folder.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.md"]);
        let error = write(&dir.path().join("missing/out.md"), b"x", Replace::Allow).unwrap_err();
        assert!(error.to_string().contains("missing/out.md"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_the_usual_permissions_and_links_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.md");
        write(&path, b"x", Replace::Refuse).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, new_file_permissions().unwrap().mode() & 0o777);
        assert_ne!(
            mode & 0o044,
            0,
            "readable by others under the usual umask: {mode:o}"
        );
        let target = dir.path().join(".bashrc");
        std::fs::write(&target, "keep me").unwrap();
        let link = dir.path().join("report.md");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = write(&link, b"overwritten", Replace::Allow).unwrap_err();
        assert!(matches!(error, WriteError::Link(_)), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }
}
