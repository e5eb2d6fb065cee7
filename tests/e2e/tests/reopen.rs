//! What the app remembers between launches: the constitution last open, the window's size and
//! the theme; and a draft edited just before the app is killed is there when it reopens.

use preamble_e2e::App;

#[tokio::test]
async fn reopening_restores_the_last_constitution_window_size_theme_and_draft() {
    let app = App::launch("reopen", &[]).await.expect("the app starts");
    app.create_constitution("Remembered").await.unwrap();
    app.click("[data-testid=theme]").await.unwrap();
    app.wait_for_text("[data-testid=theme]", |t| t == "Theme: light")
        .await
        .unwrap();
    preamble_e2e::timed("resizing", app.client().set_window_size(900, 640))
        .await
        .unwrap();
    let size = app
        .eval("return [window.innerWidth, window.innerHeight];")
        .await
        .unwrap();
    // Typed, then the app is killed once the autosave has written it.
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
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;

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
