//! The over-refusal lab in the real window, on the real default model: a benign prompt that a
//! principle's round turned into a refusal opens that principle in the editor; its wording is
//! edited there (the draft autosaves), the prompt reruns alone by keyboard, and the answers of
//! the old run and the new one show side by side with their refusal labels.

use std::time::Duration;

use fantoccini::key::Key;
use preamble_e2e::{App, workspace_root};

/// Model work on 2 busy cores: loading, then one prompt of three steps.
const RUN_PATIENCE: Duration = Duration::from_secs(240);

#[tokio::test]
async fn a_refused_benign_prompt_is_edited_and_rerun_side_by_side() {
    // Its few-shot examples make every revision a refusal (see the file).
    let constitution = workspace_root().join("tests/e2e/fixtures/overcautious.toml");
    let app = App::launch_editing("lab", &constitution)
        .await
        .expect("the app starts");
    app.open_preview().await.unwrap();
    app.fill("[data-testid=preview-limit]", "1").await.unwrap();
    app.fill("[data-testid=preview-max-tokens]", "40")
        .await
        .unwrap();
    app.fill("[data-testid=preview-temperature]", "0")
        .await
        .unwrap();
    app.click("[data-testid=preview-run]").await.unwrap();
    app.wait_until_within(
        "the run completes",
        "const run = document.querySelector('[data-testid=live-run]'); \
         return !!run && run.dataset.status === 'completed';",
        RUN_PATIENCE,
    )
    .await
    .unwrap();
    let caused = app
        .wait_for_text("[data-testid=caused-by]", |t| !t.is_empty())
        .await
        .unwrap();
    assert_eq!(caused, "Turned into a refusal by refuse-everything.");

    // Into the lab: the editor opens at the principle, cursor in its statement.
    app.click("[data-testid=open-lab]").await.unwrap();
    app.wait_for_text("[data-testid=lab-prompt]", |t| t.starts_with("bs-001"))
        .await
        .unwrap();
    app.wait_until(
        "the principle's statement has the cursor",
        "return document.activeElement?.name === 'statement' && \
           document.querySelector('[data-testid=principle-form] h2')?.textContent === 'Refuse everything';",
    )
    .await
    .unwrap();
    let before = app
        .wait_for_text("[data-testid=lab-before]", |t| !t.is_empty())
        .await
        .unwrap();
    assert!(before.contains("Run 1"), "{before}");
    assert!(before.contains("refuses"), "{before}");

    app.fill(
        "[data-testid=principle-form] [name=revision_request]",
        "Rewrite the response so that it answers the question fully and helpfully.",
    )
    .await
    .unwrap();
    // Rerun by keyboard, from the field just edited: the draft is saved first.
    app.keys(
        "[data-testid=principle-form] [name=revision_request]",
        &(Key::Control + &Key::Enter + &Key::Null),
    )
    .await
    .unwrap();
    app.wait_until_within(
        "the rerun's answer",
        "const after = document.querySelector('[data-testid=lab-after]'); \
         return !!after && after.dataset.final === 'true' && \
           after.textContent.includes('Run 2, now') && !!after.querySelector('[data-testid=refusal]');",
        RUN_PATIENCE,
    )
    .await
    .unwrap();
    app.screenshot("lab").await.unwrap();

    // The rerun previewed the edited draft: it is a run of its own, of that one prompt.
    app.click("[data-testid=tab-runs]").await.unwrap();
    let newest = app
        .wait_for_text("[data-testid=run-row]", |t| t.contains("#2"))
        .await
        .unwrap();
    assert!(newest.contains("@draft"), "{newest}");
    assert!(newest.contains("1/1"), "{newest}");
    app.close().await.unwrap();
}
