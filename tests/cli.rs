//! The `preamble` CLI as a user runs it: real model, real files, exit codes and messages.
//! The generation tests need the default model, which `scripts/setup.sh` fetches.

use std::path::Path;
use std::process::{Command, Output};

use preamble::data_dir::{self, DataDir};

fn preamble(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_preamble"));
    command.args(args);
    command
}

fn run(mut command: impl std::borrow::BorrowMut<Command>) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.borrow_mut().output().expect("the CLI runs");
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert!(!stderr.contains("panicked"), "the CLI panicked: {stderr}");
    (
        status.code().expect("exited normally"),
        String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    )
}

fn default_model() -> String {
    let path = preamble::default_model::path(&DataDir::resolve().unwrap());
    assert!(
        path.is_file(),
        "{} is missing: run `preamble model fetch` (scripts/setup.sh does)",
        path.display()
    );
    path.display().to_string()
}

#[test]
fn generate_streams_a_completion_from_the_default_model() {
    default_model();
    let (code, stdout, stderr) = run(preamble(&[
        "generate",
        "--prompt",
        "Say hello",
        "--max-tokens",
        "24",
        "--temperature",
        "0",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.trim().len() > 1, "no completion: {stdout:?}");
    assert!(stderr.contains("(Q4_1) on CPU"), "{stderr}");
    assert!(stderr.contains("generated"), "{stderr}");
}

#[test]
fn greedy_generation_is_repeatable() {
    let model = default_model();
    let args = [
        "generate",
        "--model",
        &model,
        "--prompt",
        "Name a colour.",
        "--max-tokens",
        "12",
        "--temperature",
        "0",
    ];
    let (_, first, _) = run(preamble(&args));
    let (_, second, _) = run(preamble(&args));
    assert_eq!(first, second);
}

#[test]
fn model_info_describes_the_default_model() {
    default_model();
    let (code, stdout, stderr) = run(preamble(&["model", "info", "--json"]));
    assert_eq!(code, 0, "{stderr}");
    let info: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(info["quantization"], "Q4_1");
    assert_eq!(info["architecture"], "llama");
    assert!(info["chat_template"].as_str().unwrap().contains("im_start"));
    assert!(
        info["device"].as_str().unwrap().starts_with("CPU"),
        "{info}"
    );
    assert!(info["parameters"].as_u64().unwrap() > 100_000_000);
}

#[test]
fn a_missing_default_model_says_how_to_fetch_it() {
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) =
        run(preamble(&["generate", "--prompt", "hi"]).env(data_dir::ENV_VAR, empty.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("preamble model fetch"), "{stderr}");
}

#[test]
fn a_corrupt_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.gguf");
    let mut bytes = std::fs::read(default_model()).unwrap();
    bytes.truncate(bytes.len() / 3);
    std::fs::write(&corrupt, bytes).unwrap();
    let (code, _, stderr) = run(preamble(&[
        "generate",
        "--model",
        corrupt.to_str().unwrap(),
        "--prompt",
        "hi",
    ]));
    assert_eq!(code, 1);
    assert!(stderr.contains("corrupt.gguf"), "{stderr}");
    assert!(stderr.contains("truncated or corrupt"), "{stderr}");
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let model = default_model();
    let long = "word ".repeat(9000);
    let (code, _, stderr) = run(preamble(&[
        "generate", "--model", &model, "--prompt", &long,
    ]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("exceeds the context of 8192 tokens"),
        "{stderr}"
    );
}

#[test]
fn the_sample_constitutions_validate() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("constitutions");
    let files: Vec<String> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .filter(|path| path.ends_with(".toml"))
        .collect();
    assert!(!files.is_empty());
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let (code, stdout, stderr) = run(preamble(&args));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("General assistant, 4 tiers, 13 principles"),
        "{stdout}"
    );
}

#[test]
fn validate_names_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        "format = 1\nname = \"Broken\"\n\n[[tiers]]\nid = \"Safety First\"\nname = \"Safety\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(preamble(&["validate", file.to_str().unwrap()]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("broken.toml:5:6: field `tiers[0].id`: `Safety First` is not a valid id"),
        "{stderr}"
    );
    assert!(
        stderr.contains("at least one enabled principle"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let (code, _, stderr) = run(preamble(&["generate"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("--prompt"), "{stderr}");
}
