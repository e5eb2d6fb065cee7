//! Files the user chose in a file dialog. The shell keeps their paths; the page gets an opaque
//! handle and a display name, and names a file only by a handle.
//!
//! Invariants: the page cannot name a path. It can read only a file the user picked to open,
//! and write only a file the user picked to save to (whose replacement the save dialog already
//! confirmed); a handle for one purpose does not serve the other. Handles live as long as the
//! app runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::{CommandError, ErrorCode};

/// What a chosen file may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Picked in an open dialog: may be read.
    Open,
    /// Picked in a save dialog: may be written, and replaced.
    Save,
}

/// A chosen file as the page sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ChosenFile {
    /// Names the file in later commands.
    pub handle: String,
    /// The file's name, for display.
    pub name: String,
}

/// The files chosen so far, by handle.
#[derive(Debug, Default)]
pub struct ChosenFiles {
    files: Mutex<HashMap<String, (Purpose, PathBuf)>>,
}

impl ChosenFiles {
    /// Keeps `path`, chosen for `purpose`, and returns its handle.
    pub fn keep(&self, path: PathBuf, purpose: Purpose) -> ChosenFile {
        let mut files = crate::commands::lock(&self.files);
        let handle = format!("file-{}", files.len() + 1);
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy()
            .into_owned();
        files.insert(handle.clone(), (purpose, path));
        ChosenFile { handle, name }
    }

    /// The path behind `handle`, when it was chosen for `purpose`.
    pub fn path(&self, handle: &str, purpose: Purpose) -> Result<PathBuf, CommandError> {
        match crate::commands::lock(&self.files).get(handle) {
            Some((chosen_for, path)) if *chosen_for == purpose => Ok(path.clone()),
            Some(_) => Err(CommandError::new(
                ErrorCode::UnknownFile,
                format!("file {handle} was not chosen to be {}", purpose.verb()),
            )),
            None => Err(CommandError::new(
                ErrorCode::UnknownFile,
                format!("no file {handle} was chosen: choose the file first"),
            )),
        }
    }
}

impl Purpose {
    fn verb(self) -> &'static str {
        match self {
            Self::Open => "read",
            Self::Save => "written",
        }
    }
}

/// The file name of `suggested`, which the page proposes for a save dialog: only its last
/// component counts, so the page cannot steer the dialog to a folder.
pub fn suggested_name(suggested: &str) -> Option<String> {
    Path::new(suggested)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
}

/// The variable that, in a debug build, answers file dialogs instead of the user: it names a
/// file whose first line is the path to answer with (empty: the user cancelled). The E2E suites
/// cannot click through the desktop's native dialog; a release build ignores the variable.
pub const DIALOG_ANSWERS_VAR: &str = "PREAMBLE_DIALOG_ANSWERS";

/// The answer that [`DIALOG_ANSWERS_VAR`] gives, when it is set in a debug build.
pub fn scripted_answer() -> Option<Option<PathBuf>> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let file = std::env::var_os(DIALOG_ANSWERS_VAR)?;
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let answer = text.lines().next().unwrap_or("").trim();
    tracing::warn!(answer, "a file dialog answered by {DIALOG_ANSWERS_VAR}");
    Some((!answer.is_empty()).then(|| PathBuf::from(answer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_files_only_by_the_handles_it_was_given() {
        let chosen = ChosenFiles::default();
        let open = chosen.keep(PathBuf::from("/home/me/c.toml"), Purpose::Open);
        let save = chosen.keep(PathBuf::from("/home/me/out.md"), Purpose::Save);
        assert_eq!(open.name, "c.toml");
        assert_ne!(open.handle, save.handle);
        assert_eq!(
            chosen.path(&open.handle, Purpose::Open).unwrap(),
            PathBuf::from("/home/me/c.toml")
        );
        assert_eq!(
            chosen.path(&save.handle, Purpose::Save).unwrap(),
            PathBuf::from("/home/me/out.md")
        );
        // A file picked to be read cannot be overwritten, nor the reverse.
        let error = chosen.path(&open.handle, Purpose::Save).unwrap_err();
        assert_eq!(error.code, ErrorCode::UnknownFile);
        assert!(chosen.path(&save.handle, Purpose::Open).is_err());
        // A path, or a handle never handed out, names nothing.
        for named in ["/home/me/.bashrc", "file-99", ""] {
            let error = chosen.path(named, Purpose::Save).unwrap_err();
            assert_eq!(error.code, ErrorCode::UnknownFile, "{named}");
        }
    }

    #[test]
    fn a_suggested_name_cannot_pick_the_folder() {
        assert_eq!(suggested_name("report.md").as_deref(), Some("report.md"));
        assert_eq!(suggested_name("/etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(suggested_name("../../.bashrc").as_deref(), Some(".bashrc"));
        assert_eq!(suggested_name(".."), None);
    }
}
