//! A draft edited from two places: the command line changes the draft the app has open; the
//! app's next autosave is refused (nothing is overwritten) and the editor offers "Reload" or
//! "Keep mine".

use std::process::Command;

use preamble::store::Store;
use preamble_e2e::App;

/// Runs the `preamble` CLI on the app's store; panics with its stderr when it fails.
fn cli(app: &App, args: &[&str]) {
    let db = Store::default_path(&app.data_dir());
    let output = Command::new(preamble_e2e::target_dir().join("debug/preamble"))
        .arg("--db")
        .arg(&db)
        .args(args)
        .output()
        .expect("the CLI runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `preamble import --id SLUG --force` of a starter constitution named `name`: the command
/// line replacing the draft the app has open.
fn replace_from_cli(app: &App, slug: &str, name: &str) {
    let file = app.artifact("from-the-cli.toml");
    let text = preamble::constitution::to_toml(&preamble::constitution::starter(name));
    std::fs::write(&file, text).unwrap();
    cli(
        app,
        &["import", file.to_str().unwrap(), "--id", slug, "--force"],
    );
}

fn draft_name(app: &App, slug: &str) -> String {
    let store = Store::open(&Store::default_path(&app.data_dir())).unwrap();
    store.draft(slug).unwrap().constitution.name
}

#[tokio::test]
async fn a_draft_changed_from_the_cli_is_not_overwritten_by_the_app() {
    let app = App::launch("conflict", &[]).await.expect("the app starts");
    app.create_constitution("Shared draft").await.unwrap();
    app.wait_for_text("[data-testid=editor-title]", |t| t == "Shared draft")
        .await
        .unwrap();
    let slug = "shared-draft";
    assert_eq!(draft_name(&app, slug), "Shared draft");

    // The command line replaces the draft while the app holds it.
    replace_from_cli(&app, slug, "From the CLI");

    // The app's next edit is refused, and the CLI's draft stays.
    app.fill(
        "[data-testid=principle-form] [name=title]",
        "Typed in the app",
    )
    .await
    .unwrap();
    app.wait_for_text("[data-testid=draft-conflict]", |t| {
        t.contains("changed elsewhere")
    })
    .await
    .unwrap();
    assert_eq!(draft_name(&app, slug), "From the CLI");
    app.screenshot("conflict").await.unwrap();

    // Reload shows the CLI's draft.
    app.click("[data-testid=conflict-reload]").await.unwrap();
    app.wait_for_text("[data-testid=editor-title]", |t| t == "From the CLI")
        .await
        .unwrap();

    // Changed again from the CLI; this time the app keeps its own edit, knowingly.
    replace_from_cli(&app, slug, "CLI again");
    app.fill(
        "[data-testid=principle-form] [name=title]",
        "Mine after all",
    )
    .await
    .unwrap();
    app.wait_for_text("[data-testid=draft-conflict]", |t| !t.is_empty())
        .await
        .unwrap();
    app.click("[data-testid=conflict-keep]").await.unwrap();
    app.wait_for_text("[data-testid=save-state]", |t| t == "All changes saved")
        .await
        .unwrap();
    let store = Store::open(&Store::default_path(&app.data_dir())).unwrap();
    let draft = store.draft(slug).unwrap().constitution;
    let titles: Vec<&str> = draft
        .tiers
        .iter()
        .flat_map(|tier| &tier.principles)
        .map(|principle| principle.title.as_str())
        .collect();
    assert!(titles.contains(&"Mine after all"), "{titles:?}");
    app.close().await.unwrap();
}
