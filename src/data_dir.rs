//! The folder where Preamble keeps its models, logs and store.
//!
//! It is `$PREAMBLE_DATA_DIR` when that is set (tests and portable installs use it), otherwise
//! the XDG data folder: `$XDG_DATA_HOME/preamble`, by default `~/.local/share/preamble`. The CLI
//! and the desktop app resolve it the same way, so they share one store and one model folder.

use std::path::{Path, PathBuf};

/// The environment variable that overrides the data folder.
pub const ENV_VAR: &str = "PREAMBLE_DATA_DIR";

/// Preamble's data folder. Creating the value does not touch the disk; the folders are created
/// by whoever first writes into them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

/// The data folder could not be determined: neither the override nor a home folder is set.
#[derive(Debug, thiserror::Error)]
#[error("cannot find a data folder: set ${ENV_VAR} or $HOME")]
pub struct NoDataDir;

impl DataDir {
    /// Resolves the data folder from the environment (see the module documentation).
    pub fn resolve() -> Result<Self, NoDataDir> {
        match std::env::var_os(ENV_VAR) {
            Some(root) if !root.is_empty() => Ok(Self::at(PathBuf::from(root))),
            _ => dirs::data_dir()
                .map(|base| Self::at(base.join("preamble")))
                .ok_or(NoDataDir),
        }
    }

    /// A data folder rooted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where model files live.
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }

    /// Where log files go.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subfolders_hang_off_the_root() {
        let dir = DataDir::at("/data/preamble");
        assert_eq!(dir.root(), Path::new("/data/preamble"));
        assert_eq!(dir.models(), Path::new("/data/preamble/models"));
        assert_eq!(dir.logs(), Path::new("/data/preamble/logs"));
    }
}
