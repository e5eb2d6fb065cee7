//! The one error type every command returns: `{code, message}`, which the UI branches on.

use preamble::constitution::LoadError;
use preamble::data_dir::NoDataDir;
use preamble::engine::EngineError;
use preamble::interchange::ExportError;
use preamble::store::StoreError;
use preamble::worker::WorkerError;
use serde::Serialize;

/// A command's failure as the UI receives it. `code` is stable and machine-readable; `message`
/// is for people and names the file, line and field, or the model, at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<LoadError> for CommandError {
    fn from(error: LoadError) -> Self {
        let code = match error {
            LoadError::Io { .. } => "io",
            LoadError::Invalid(_) => "invalid_constitution",
        };
        Self::new(code, error.to_string())
    }
}

impl From<EngineError> for CommandError {
    fn from(error: EngineError) -> Self {
        let code = match error {
            EngineError::ModelMissing { .. } => "model_missing",
            EngineError::ModelUnreadable { .. }
            | EngineError::NotGguf { .. }
            | EngineError::LoadFailed { .. } => "model_invalid",
            _ => "engine",
        };
        Self::new(code, error.to_string())
    }
}

impl From<WorkerError> for CommandError {
    fn from(error: WorkerError) -> Self {
        match error {
            WorkerError::Model(error) => error.into(),
            WorkerError::LoadFailed(message) => Self::new("model_invalid", message),
            error => Self::new("engine", error.to_string()),
        }
    }
}

impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> Self {
        let code = match error {
            StoreError::UnknownConstitution(_) => "unknown_constitution",
            StoreError::ConstitutionExists(_) | StoreError::DeletedConstitutionExists(_) => {
                "constitution_exists"
            }
            StoreError::NotDeleted(_) => "not_deleted",
            StoreError::UnknownVersion { .. } | StoreError::UnknownReference { .. } => {
                "unknown_version"
            }
            StoreError::NoVersions { .. } => "no_versions",
            StoreError::InvalidName { .. } => "invalid_name",
            StoreError::NothingToCommit { .. } => "nothing_to_commit",
            StoreError::InvalidDraft { .. } => "invalid_draft",
            StoreError::UncommittedDraft { .. } => "uncommitted_draft",
            StoreError::DraftChanged { .. } => "draft_changed",
            _ => "store",
        };
        Self::new(code, error.to_string())
    }
}

impl From<ExportError> for CommandError {
    fn from(error: ExportError) -> Self {
        let code = match error {
            ExportError::Invalid(_) => "invalid_constitution",
            _ => "export_failed",
        };
        Self::new(code, error.to_string())
    }
}

impl From<preamble::files::WriteError> for CommandError {
    fn from(error: preamble::files::WriteError) -> Self {
        let code = match error {
            preamble::files::WriteError::Exists(_) => "file_exists",
            preamble::files::WriteError::Link(_) => "symlink_refused",
            preamble::files::WriteError::Io { .. } => "io",
        };
        Self::new(code, error.to_string())
    }
}

impl From<NoDataDir> for CommandError {
    fn from(error: NoDataDir) -> Self {
        Self::new("no_data_dir", error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn serializes_as_code_and_message() {
        let error = CommandError::from(EngineError::ModelMissing {
            path: PathBuf::from("/m.gguf"),
            hint: String::new(),
        });
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({"code": "model_missing", "message": "model file /m.gguf does not exist"})
        );
    }
}
