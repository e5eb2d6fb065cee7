//! The version-history commands of the CLI as a reviewer uses them, on a real SQLite file.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Cli {
    db: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            db: dir.path().join("store.sqlite"),
            _dir: dir,
        }
    }

    fn dir(&self) -> &Path {
        self.db.parent().unwrap()
    }

    /// Runs `preamble --db DB args...`; returns exit code, stdout and stderr.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_preamble"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("PREAMBLE_AUTHOR", "reviewer")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (
            output.status.code().unwrap(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.run(args);
        assert_eq!(code, 0, "preamble {args:?} failed: {stderr}");
        stdout
    }
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("constitutions/general-assistant.toml")
        .display()
        .to_string()
}

#[test]
fn import_commit_edit_diff_export_tag_checkout_fork() {
    let cli = Cli::new();
    let out = cli.ok(&["import", &sample()]);
    assert!(out.contains("as `general-assistant`"), "{out}");
    let out = cli.ok(&["commit", "general-assistant", "-m", "First draft"]);
    assert!(out.starts_with("general-assistant@1 "), "{out}");

    // Edit a word in a file, then import it over the draft.
    let text = std::fs::read_to_string(sample()).unwrap().replace(
        "Say only what you believe is true",
        "Say only what you know is true",
    );
    let edited = cli.dir().join("edited.toml");
    std::fs::write(&edited, &text).unwrap();
    cli.ok(&[
        "import",
        edited.to_str().unwrap(),
        "--id",
        "general-assistant",
    ]);
    let (code, _, stderr) = cli.run(&["commit", "general-assistant", "-m", ""]);
    assert_eq!(code, 0, "{stderr}");

    let log: serde_json::Value =
        serde_json::from_str(&cli.ok(&["log", "general-assistant", "--json"])).unwrap();
    assert_eq!(log[0]["number"], 2);
    assert_eq!(log[0]["parent"], 1);
    assert_eq!(log[1]["author"], "reviewer");

    let text_diff = cli.ok(&["diff", "general-assistant@1", "general-assistant@2"]);
    assert!(text_diff.contains("be-honest"), "{text_diff}");
    assert!(
        text_diff.contains("believe") && text_diff.contains("know"),
        "{text_diff}"
    );
    let json_diff: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "diff",
        "general-assistant@1",
        "general-assistant@2",
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(json_diff.to_string().contains("statement"), "{json_diff}");
    let patch = cli.ok(&[
        "diff",
        "general-assistant@1",
        "general-assistant@2",
        "--format",
        "patch",
    ]);
    assert!(
        patch.contains("-Say only what you believe is true"),
        "{patch}"
    );
    assert!(patch.contains("+Say only what you know is true"), "{patch}");
    let report = cli.ok(&[
        "diff",
        "general-assistant@1",
        "general-assistant@2",
        "--format",
        "md",
    ]);
    assert!(report.starts_with('#'), "{report}");

    // Diffing a file against the draft works too.
    let same = cli.ok(&[
        "diff",
        edited.to_str().unwrap(),
        "general-assistant@draft",
        "--format",
        "json",
    ]);
    assert!(!same.contains("\"statement\""), "{same}");

    cli.ok(&["tag", "general-assistant", "reviewed", "--version", "1"]);
    let markdown = cli.dir().join("published.md");
    cli.ok(&[
        "export",
        "general-assistant@reviewed",
        "--format",
        "md",
        "--output",
        markdown.to_str().unwrap(),
    ]);
    let published = std::fs::read_to_string(&markdown).unwrap();
    assert!(published.contains("General assistant"), "{published}");
    assert!(published.contains("general-assistant@1"), "{published}");
    for format in ["json", "anthropic", "hf", "langchain", "toml"] {
        let exported = cli.ok(&["export", "general-assistant", "--format", format]);
        let file = cli.dir().join(format!("exported.{format}"));
        std::fs::write(&file, exported).unwrap();
        cli.ok(&["validate", file.to_str().unwrap()]);
    }

    cli.ok(&["checkout", "general-assistant", "reviewed"]);
    let shown = cli.ok(&["show", "general-assistant@draft"]);
    assert!(
        shown.contains("Say only what you believe is true"),
        "{shown}"
    );
    cli.ok(&[
        "fork",
        "general-assistant",
        "strict-variant",
        "--version",
        "2",
    ]);
    let list: serde_json::Value = serde_json::from_str(&cli.ok(&["list", "--json"])).unwrap();
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["general-assistant", "strict-variant"]);

    let out = cli.ok(&["delete", "strict-variant"]);
    assert!(out.contains("preamble restore strict-variant"), "{out}");
    assert!(!cli.ok(&["list"]).contains("strict-variant"));
    assert!(cli.ok(&["list", "--deleted"]).contains("strict-variant"));
    let (code, _, stderr) = cli.run(&["init", "strict-variant"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("a deleted constitution holds"), "{stderr}");
    cli.ok(&["restore", "strict-variant"]);
    assert!(cli.ok(&["list"]).contains("strict-variant"));
}

#[test]
fn history_errors_are_clear() {
    let cli = Cli::new();
    let (code, _, stderr) = cli.run(&["commit", "ghost", "-m", "x"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no constitution `ghost`"), "{stderr}");

    cli.ok(&["init", "fresh"]);
    cli.ok(&["commit", "fresh", "-m", "start"]);
    let (code, _, stderr) = cli.run(&["commit", "fresh", "-m", "again"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nothing to commit"), "{stderr}");
    let (code, _, stderr) = cli.run(&["diff", "fresh@1", "fresh@9"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("`fresh` has no version 9"), "{stderr}");
    let (code, _, stderr) = cli.run(&["init", "Bad Name"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not a valid id"), "{stderr}");

    // Importing over a draft with uncommitted changes needs --force.
    let file = cli.dir().join("fresh.toml");
    std::fs::write(
        &file,
        cli.ok(&["show", "fresh"])
            .replace("name = \"fresh\"", "name = \"Edited\""),
    )
    .unwrap();
    cli.ok(&["import", file.to_str().unwrap(), "--id", "fresh"]);
    let (code, _, stderr) = cli.run(&["import", &sample(), "--id", "fresh"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--force"), "{stderr}");
    cli.ok(&["import", &sample(), "--id", "fresh", "--force"]);
}

#[test]
fn a_mistyped_file_is_not_taken_for_a_store_reference() {
    let cli = Cli::new();
    let (code, _, stderr) = cli.run(&["show", "constitutions/genral.toml"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read constitutions/genral.toml: no such file"),
        "{stderr}"
    );
    assert!(!cli.db.exists(), "the store was created for nothing");
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    let cli = Cli::new();
    cli.ok(&["import", &sample()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_preamble"))
        .arg("--db")
        .arg(&cli.db)
        .args(["show", "general-assistant"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is written
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
