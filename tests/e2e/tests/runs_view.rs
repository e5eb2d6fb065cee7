//! The Runs view reads what the command line recorded: a real two-prompt preview on the default
//! model, made by `preamble preview` in the app's store, listed and opened prompt by prompt.

use std::process::Command;

use preamble::store::Store;
use preamble_e2e::{App, target_dir, workspace_root};

#[tokio::test]
async fn a_preview_made_by_the_cli_opens_prompt_by_prompt() {
    let app = App::launch_with("runs-view", &[], |data| {
        let root = workspace_root();
        let output = Command::new(target_dir().join("debug/preamble"))
            .arg("--db")
            .arg(Store::default_path(data))
            .args(["preview", "--constitution"])
            .arg(root.join("constitutions/general-assistant.toml"))
            .arg("--prompts")
            .arg(root.join("prompts/xstest-style.csv"))
            .args(["--limit", "2", "--rounds", "1", "--max-tokens", "16"])
            .args(["--parallel", "2", "--seed", "3", "--out", "/dev/null"])
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    })
    .await
    .expect("the app starts");

    app.wait_for_text("[data-testid=tab-runs]", |t| t == "Runs")
        .await
        .unwrap();
    app.click("[data-testid=tab-runs]").await.unwrap();
    let row = app
        .wait_for_text("[data-testid=run-row]", |t| !t.is_empty())
        .await
        .unwrap();
    assert!(row.contains("#1"), "{row}");
    assert!(row.contains("completed"), "{row}");
    assert!(row.contains("2/2"), "{row}");
    app.click("[data-testid=run-row] button").await.unwrap();
    let title = app
        .wait_for_text("[data-testid=run-title]", |t| !t.is_empty())
        .await
        .unwrap();
    assert!(title.starts_with("Run 1: "), "{title}");
    let shape = app
        .eval(
            "return [...document.querySelectorAll('[data-testid=run-prompt]')].map(p => [
               p.querySelectorAll('[data-testid=run-round]').length,
               p.querySelectorAll('[data-testid=refusal]').length]);",
        )
        .await
        .unwrap();
    // Two prompts, one round each; initial, revision and final each carry a refusal label.
    assert_eq!(shape, serde_json::json!([[1, 3], [1, 3]]));
    app.screenshot("run").await.unwrap();
    app.close().await.unwrap();
}
