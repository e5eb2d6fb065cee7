//! A policy writer's journey in the real window: create a constitution, add two principles,
//! reorder them by keyboard, commit; edit a word, move a principle to another tier, commit;
//! open the diff and see the move and the word change; export the Markdown change report.
//! Also: text that looks like markup is shown as text and runs nothing.

use fantoccini::key::Key;
use preamble_e2e::App;

/// The principles of version 1, in priority order.
const VERSION_1_ORDER: [&str; 4] = [
    "Avoid serious harm",
    "Be candid",
    "Respect privacy",
    "Answer what was asked",
];

/// The fields of the selected principle's form, in order.
const FORM: &str = "[data-testid=principle-form]";

async fn fill_principle(app: &App, title: &str, statement: &str) {
    for (field, text) in [
        ("title", title),
        ("statement", statement),
        (
            "critique_request",
            &format!("Does the response break “{title}”?"),
        ),
        (
            "revision_request",
            &format!("Rewrite the response to follow “{title}”."),
        ),
        (
            "comparison_question",
            &format!("Which response better follows “{title}”?"),
        ),
    ] {
        app.fill(&format!("{FORM} [name={field}]"), text)
            .await
            .unwrap();
    }
}

/// The titles of the principle cards, in priority order.
async fn card_titles(app: &App) -> Vec<String> {
    let titles = app
        .eval(
            "return Array.from(document.querySelectorAll('[data-testid=card-title]'))
                .map((e) => e.textContent.trim());",
        )
        .await
        .unwrap();
    serde_json::from_value(titles).unwrap()
}

async fn commit(app: &App, message: &str) {
    app.click("[data-testid=commit-open]").await.unwrap();
    app.fill("[data-testid=commit-message]", message)
        .await
        .unwrap();
    app.click("[data-testid=commit-confirm]").await.unwrap();
    app.wait_until(
        "the commit dialog closes",
        "return document.querySelector('[data-testid=commit-dialog]') === null;",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn create_edit_reorder_commit_diff_and_export() {
    let app = App::launch("journey", &[]).await.expect("the app starts");
    let exports = tempfile::tempdir().unwrap();

    // Create: the starter has Safety, Ethics, Guidelines, Helpfulness with one principle at
    // each end.
    app.create_constitution("Workshop rules").await.unwrap();

    // Add two principles to Ethics (the second tier).
    app.click("[data-testid=tier]:nth-of-type(2) [data-testid=add-principle]")
        .await
        .unwrap();
    fill_principle(
        &app,
        "Respect privacy",
        "Do not reveal private details about people.",
    )
    .await;
    app.click("[data-testid=tier]:nth-of-type(2) [data-testid=add-principle]")
        .await
        .unwrap();
    fill_principle(&app, "Be candid", "Say plainly what you believe is true.").await;
    assert_eq!(
        card_titles(&app).await,
        [
            "Avoid serious harm",
            "Respect privacy",
            "Be candid",
            "Answer what was asked"
        ]
    );

    // Reorder by keyboard: "Be candid" up above "Respect privacy".
    app.click("[data-card-id=new-principle-2]").await.unwrap();
    app.keys(
        "[data-card-id=new-principle-2]",
        &(Key::Alt + &Key::Up + &Key::Null),
    )
    .await
    .unwrap();
    app.wait_for_text("[data-testid=principle-place]", |t| {
        t == "Priority 1 of 2 in Ethics"
    })
    .await
    .unwrap();
    assert_eq!(card_titles(&app).await, VERSION_1_ORDER);
    commit(&app, "Add privacy and candour").await;
    app.wait_for_text("[data-testid=draft-state]", |t| {
        t.starts_with("No changes since v1")
    })
    .await
    .unwrap();

    // Edit one word of "Respect privacy", then move it to Guidelines.
    app.click("[data-card-id=new-principle]").await.unwrap();
    app.fill(
        &format!("{FORM} [name=statement]"),
        "Do not reveal personal details about people.",
    )
    .await
    .unwrap();
    let guidelines = app
        .find("[data-testid=tier-select] option:nth-child(3)")
        .await
        .unwrap();
    guidelines.click().await.unwrap();
    app.wait_for_text("[data-testid=principle-place]", |t| {
        t == "Priority 1 of 1 in Guidelines"
    })
    .await
    .unwrap();
    app.wait_for_text("[data-testid=draft-state]", |t| {
        t.starts_with("● Uncommitted changes since v1")
            || t.starts_with("Uncommitted changes since v1")
    })
    .await
    .unwrap();
    commit(&app, "Privacy is a guideline; personal details").await;
    app.eval("document.querySelector('.detail').scrollTop = 0; return true;")
        .await
        .unwrap();
    app.screenshot("editor").await.unwrap();

    // The diff of v1 -> v2 shows the move and the changed word.
    app.click("[data-testid=tab-diff]").await.unwrap();
    let moved = app
        .wait_for_text("[data-testid=move]", |t| !t.is_empty())
        .await
        .unwrap();
    assert_eq!(moved, "Moved: Ethics #2 → Guidelines #1");
    let summary = app
        .wait_for_text("[data-testid=diff-summary]", |t| t.contains("moved"))
        .await
        .unwrap();
    assert!(
        summary.contains("1 moved") && summary.contains("1 edited"),
        "{summary}"
    );
    let words = app
        .eval(
            "const change = document.querySelector('[data-testid=field-change][data-field=statement]');
             return [change.querySelector('.old del').textContent, change.querySelector('.new ins').textContent];",
        )
        .await
        .unwrap();
    assert_eq!(words, serde_json::json!(["private", "personal"]));
    app.screenshot("diff").await.unwrap();

    // Export the Markdown change report and read it back.
    let report_path = exports.path().join("report.md");
    app.answer_dialogs_with(Some(&report_path)).unwrap();
    app.click("[data-testid=export-markdown]").await.unwrap();
    app.wait_for_text("[data-testid=export-done]", |t| t.contains("report.md"))
        .await
        .unwrap();
    let report = std::fs::read_to_string(&report_path).unwrap();
    std::fs::write(app.artifact("report.md"), &report).unwrap();
    assert!(
        report.starts_with("# Constitution changes: workshop\\-rules\\@1 → workshop\\-rules\\@2"),
        "{report}"
    );
    for expected in [
        "| Principles moved | 1 |",
        "| Principles edited | 1 |",
        "## Moved principles",
        "Guidelines",
        "~~private~~",
        "**personal**",
    ] {
        assert!(
            report.contains(expected),
            "{expected} missing from:\n{report}"
        );
    }

    // History: tag v2, then check v1 out into the draft (clean, so nothing is asked).
    app.click("[data-testid=tab-history]").await.unwrap();
    app.click("[data-testid=version]:first-child [data-testid=tag-open]")
        .await
        .unwrap();
    app.fill("[data-testid=tag-name]", "workshop")
        .await
        .unwrap();
    app.click("[data-testid=tag-confirm]").await.unwrap();
    app.wait_for_text("[data-testid=version]:first-child .tag", |t| {
        t == "workshop"
    })
    .await
    .unwrap();
    app.click("[data-testid=version]:nth-child(2) [data-testid=checkout]")
        .await
        .unwrap();
    app.wait_for_text("[data-testid=history-notice]", |t| {
        t == "Checked out v1 into the draft."
    })
    .await
    .unwrap();
    app.click("[data-testid=tab-editor]").await.unwrap();
    assert_eq!(card_titles(&app).await, VERSION_1_ORDER);

    // The dark theme, for the screenshots.
    app.click("[data-testid=theme]").await.unwrap();
    app.click("[data-testid=theme]").await.unwrap();
    app.wait_for_text("[data-testid=theme]", |t| t == "Theme: dark")
        .await
        .unwrap();
    app.screenshot("editor-dark").await.unwrap();
    app.click("[data-testid=tab-diff]").await.unwrap();
    app.wait_for_text("[data-testid=move]", |t| t.starts_with("Moved"))
        .await
        .unwrap();
    app.screenshot("diff-dark").await.unwrap();

    // The store holds what the window did.
    let store =
        preamble::store::Store::open(&preamble::store::Store::default_path(&app.data_dir()))
            .unwrap();
    let log = store.log("workshop-rules").unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].message, "Privacy is a guideline; personal details");
    app.close().await.unwrap();
}

#[tokio::test]
async fn markup_in_a_principle_is_shown_as_text_and_runs_nothing() {
    let app = App::launch("xss", &[]).await.expect("the app starts");
    app.create_constitution("Hostile text").await.unwrap();
    // Anything that ran would call alert; record it instead of blocking the window.
    app.eval("window.__alerts = 0; window.alert = () => { window.__alerts += 1; }; return true;")
        .await
        .unwrap();
    let payload = "<img src=x onerror=alert(1)>";
    app.fill(&format!("{FORM} [name=title]"), payload)
        .await
        .unwrap();
    app.fill(
        &format!("{FORM} [name=statement]"),
        "<script>alert(2)</script><b>bold?</b>",
    )
    .await
    .unwrap();
    app.wait_for_content("[data-testid=card-title]", payload)
        .await
        .unwrap();
    let found = app
        .eval(
            "return {
                images: document.querySelectorAll('img').length,
                scripts: document.querySelectorAll('body script').length,
                bold: document.querySelectorAll('main b').length,
                alerts: window.__alerts,
                heading: document.querySelector('[data-testid=principle-form] h2').textContent,
            };",
        )
        .await
        .unwrap();
    assert_eq!(
        found,
        serde_json::json!({"images": 0, "scripts": 0, "bold": 0, "alerts": 0, "heading": payload})
    );
    app.screenshot("hostile-text").await.unwrap();
    app.close().await.unwrap();
}
