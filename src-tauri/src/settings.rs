//! What the app remembers between launches: theme, window size and the constitution last open.
//!
//! Kept as JSON in the data folder (`app-settings.json`), written whole to a temporary file and
//! renamed over the old one, so a crash leaves the old or the new settings. A missing or
//! unreadable file means the defaults; nothing here stops the app from starting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use preamble::files::{Replace, WriteError};
use serde::{Deserialize, Serialize};

/// The settings file's name in the data folder.
pub const FILE_NAME: &str = "app-settings.json";

/// The colour theme; `System` follows the desktop's preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// The main window's size in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowSize {
    pub width: f64,
    pub height: f64,
    pub maximized: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub theme: Theme,
    /// The slug of the constitution open when the app last closed.
    pub last_open: Option<String>,
    pub window: Option<WindowSize>,
    /// Files the app was started with (absolute paths, as text), and the library constitution
    /// each was imported as.
    pub imports: BTreeMap<String, String>,
    /// The model as its worker process last described it (the device that ran it), shown in
    /// the status bar until the model is needed again.
    pub model: Option<preamble::engine::ModelInfo>,
    /// The GGUF file the user chose to run instead of the default model.
    pub model_file: Option<PathBuf>,
}

impl Settings {
    /// The settings in `path`, or the defaults when it is missing or unreadable (logged).
    pub fn load(path: &Path) -> Self {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|error| {
                tracing::warn!(path = %path.display(), %error, "ignoring unreadable settings");
                Self::default()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot read settings");
                Self::default()
            }
        }
    }

    /// Writes the settings to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), WriteError> {
        let io = |source| WriteError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        preamble::files::write(path, text.as_bytes(), Replace::Allow)
    }
}

/// Where the settings of the data folder `root` live.
pub fn path_in(root: &Path) -> PathBuf {
    root.join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        assert_eq!(Settings::load(&path), Settings::default());
        let settings = Settings {
            theme: Theme::Dark,
            last_open: Some("general-assistant".into()),
            window: Some(WindowSize {
                width: 1200.0,
                height: 800.0,
                maximized: false,
            }),
            imports: BTreeMap::from([("/c.toml".into(), "c".into())]),
            model: None,
            model_file: Some("/models/other.gguf".into()),
        };
        settings.save(&path).unwrap();
        assert_eq!(Settings::load(&path), settings);
        std::fs::write(&path, "{ not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
    }
}
