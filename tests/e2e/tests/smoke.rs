//! The app opens a real window that shows the constitution it was started with and the device
//! that runs the default model.

use preamble_e2e::{App, sample_constitution};

#[tokio::test]
async fn window_shows_the_sample_constitution_and_the_model_device() {
    let file = sample_constitution("general-assistant.toml");
    let expected = preamble::constitution::load(&file).expect("the sample constitution loads");
    let app = App::launch("smoke", &[&file])
        .await
        .expect("the app starts");

    let name = app
        .wait_for_text("[data-testid=constitution-name]", |t| !t.is_empty())
        .await
        .unwrap();
    assert_eq!(name, expected.name);
    let count = app
        .wait_for_text("[data-testid=principle-count]", |t| !t.is_empty())
        .await
        .unwrap();
    assert_eq!(
        count,
        format!(
            "{} principles in {} tiers",
            expected.principle_count(),
            expected.tiers.len()
        )
    );
    let model = app
        .wait_for_text("[data-testid=model-status]", |t| t.contains("runs on"))
        .await
        .expect("the default model loads (scripts/setup.sh fetches it)");
    assert!(model.contains("runs on CPU"), "{model}");

    let shot = app.screenshot("main-window").await.unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    app.close().await.unwrap();
}
