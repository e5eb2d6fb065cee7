//! One app per data folder: a second launch hands its file to the window already open, which
//! imports and opens it, and ends; it never opens a second window on the same drafts.

use std::time::{Duration, Instant};

use preamble_e2e::{App, WAIT, app_binary, sample_constitution};

#[tokio::test]
async fn a_second_launch_hands_its_file_to_the_running_window() {
    let app = App::launch("instance", &[]).await.expect("the app starts");
    app.wait_for_text("[data-testid=model-status]", |t| !t.is_empty())
        .await
        .unwrap();

    let file = sample_constitution("general-assistant.toml");
    let expected = preamble::constitution::load(&file).unwrap();
    let mut second = std::process::Command::new(app_binary())
        .arg(&file)
        .env(preamble::data_dir::ENV_VAR, app.data_dir().root())
        .spawn()
        .expect("the second launch starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WAIT {
            let _ = second.kill();
            panic!("the second launch did not end within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "the second launch ended with {status}");

    let name = app
        .wait_for_text("[data-testid=editor-title]", |t| !t.is_empty())
        .await
        .expect("the running window opens the handed-over file");
    assert_eq!(name, expected.name);
    let notice = app
        .wait_for_text("[data-testid=start-notice]", |t| !t.is_empty())
        .await
        .unwrap();
    assert!(notice.contains("as `general-assistant`"), "{notice}");
    app.screenshot("after-second-launch").await.unwrap();
    app.close().await.unwrap();
}
