//! What the integration tests on the real default model share: the repository's files, the
//! default model, and the `preamble` binary's worker process.

use std::path::{Path, PathBuf};

use preamble::constitution::{self, Constitution};
use preamble::data_dir::DataDir;
use preamble::default_model;
use preamble::engine::LoadOptions;
use preamble::prompt_set::{self, PromptItem};
use preamble::worker::{WarmWorker, WorkerCommand};

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The default model, which the test scripts fetch (`preamble model fetch`).
pub fn model_path() -> PathBuf {
    default_model::path(&DataDir::resolve().unwrap())
}

/// A worker process of the `preamble` binary (its hidden `worker` subcommand) on the default
/// model, started on first use.
pub fn worker() -> WarmWorker {
    let command = WorkerCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_preamble")),
        args: vec!["worker".into()],
    };
    WarmWorker::new(command, model_path(), LoadOptions::default())
}

/// The general sample constitution.
pub fn constitution() -> Constitution {
    constitution::load(&repo("constitutions/general-assistant.toml")).unwrap()
}

/// The first `count` prompts of the bundled benign set.
pub fn prompts(count: usize) -> Vec<PromptItem> {
    let mut prompts = prompt_set::load(&repo("prompts/benign-sensitive.jsonl")).unwrap();
    prompts.truncate(count);
    prompts
}
