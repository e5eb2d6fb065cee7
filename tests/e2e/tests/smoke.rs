//! The app opens a real window that shows the constitution it was started with (imported into
//! the library and opened in the editor) and the device that runs the default model.

use preamble_e2e::{App, sample_constitution};

#[tokio::test]
async fn window_shows_the_sample_constitution_and_the_model_device() {
    let file = sample_constitution("general-assistant.toml");
    let expected = preamble::constitution::load(&file).expect("the sample constitution loads");
    let app = App::launch("smoke", &[&file])
        .await
        .expect("the app starts");

    let name = app
        .wait_for_text("[data-testid=editor-title]", |t| !t.is_empty())
        .await
        .unwrap();
    assert_eq!(name, expected.name);
    let state = app
        .wait_for_text("[data-testid=draft-state]", |t| !t.is_empty())
        .await
        .unwrap();
    assert_eq!(
        state,
        format!(
            "Never committed · {} principles",
            expected.principle_count()
        )
    );
    let notice = app
        .wait_for_text("[data-testid=start-notice]", |t| !t.is_empty())
        .await
        .unwrap();
    assert!(notice.contains("as `general-assistant`"), "{notice}");
    let tiers = app
        .eval("return document.querySelectorAll('[data-testid=tier]').length;")
        .await
        .unwrap();
    assert_eq!(tiers, expected.tiers.len());
    // Nothing loads the model at start-up; the button starts its worker process.
    let idle = app
        .wait_for_text("[data-testid=model-status]", |t| !t.is_empty())
        .await
        .unwrap();
    assert_eq!(idle, "Model: not loaded yet");
    app.click("[data-testid=start-model]").await.unwrap();
    let model = app
        .wait_for_text("[data-testid=model-status]", |t| t.contains("runs on"))
        .await
        .expect("the default model loads (scripts/setup.sh fetches it)");
    assert!(model.contains("runs on CPU"), "{model}");

    let shot = app.screenshot("main-window").await.unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    app.close().await.unwrap();
}
