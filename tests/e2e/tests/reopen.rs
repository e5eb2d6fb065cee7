//! What the app remembers between launches: the constitution last open, the window's size and
//! the theme; and a draft typed just before the app ends is there when it reopens.

use preamble_e2e::App;

#[tokio::test]
async fn reopening_restores_the_last_constitution_window_size_theme_and_draft() {
    let app = App::launch("reopen", &[]).await.expect("the app starts");
    app.create_constitution("Remembered").await.unwrap();
    app.click("[data-testid=theme]").await.unwrap();
    app.wait_for_text("[data-testid=theme]", |t| t == "Theme: light")
        .await
        .unwrap();
    let before = app
        .eval("return [window.innerWidth, window.innerHeight];")
        .await
        .unwrap();
    preamble_e2e::timed("resizing", app.client().set_window_size(900, 640))
        .await
        .unwrap();
    // The page sees the new size a moment after the request returns.
    app.wait_until(
        "the page has the new size",
        &format!("return JSON.stringify([window.innerWidth, window.innerHeight]) !== '{before}';"),
    )
    .await
    .unwrap();
    let size = app
        .eval("return [window.innerWidth, window.innerHeight];")
        .await
        .unwrap();
    // Typed and autosaved before the relaunch below ends the app through WebDriver.
    app.fill(
        "[data-testid=principle-form] [name=title]",
        "Kept after a kill",
    )
    .await
    .unwrap();
    app.wait_for_text("[data-testid=save-state]", |t| t == "All changes saved")
        .await
        .unwrap();
    // The window size is written once it has settled.
    let settings = app.data_dir().root().join("app-settings.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let saved = loop {
        let text = std::fs::read_to_string(&settings).unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let window = &value["window"];
        if window["width"].as_f64() == size[0].as_f64() || std::time::Instant::now() > deadline {
            break value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        [&saved["window"]["width"], &saved["window"]["height"]].map(|v| v.as_f64()),
        [&size[0], &size[1]].map(|v| v.as_f64()),
        "{saved}"
    );

    let app = app
        .relaunch("reopen", &[])
        .await
        .expect("the app starts again");
    app.wait_for_text("[data-testid=editor-title]", |t| t == "Remembered")
        .await
        .unwrap();
    app.wait_for_content("[data-testid=card-title]", "Kept after a kill")
        .await
        .unwrap();
    app.wait_for_text("[data-testid=theme]", |t| t == "Theme: light")
        .await
        .unwrap();
    let reopened = app
        .eval("return [window.innerWidth, window.innerHeight];")
        .await
        .unwrap();
    assert_eq!(reopened, size);
    app.close().await.unwrap();
}
