//! A compare in the real window on the real default model: the two sample constitutions on 4
//! prompts, the metrics panel with its charts, and a drill-down from a chart to its prompts.

use std::time::Duration;

use preamble::store::Store;
use preamble_e2e::{App, sample_constitution};

/// Model work on 2 busy cores: two sides of 4 prompts, then the judge on 4 pairs.
const COMPARE_PATIENCE: Duration = Duration::from_secs(420);

#[tokio::test]
async fn two_constitutions_compare_with_metrics_and_a_drill_down() {
    let general = sample_constitution("general-assistant.toml");
    let app = App::launch_with("compare-view", &[&general], |data| {
        // The second sample is in the library too, as if imported earlier.
        let cautious = sample_constitution("cautious-assistant.toml");
        let constitution = preamble::interchange::import_file(&cautious, None)?;
        Store::open(&Store::default_path(data))?.import(&constitution, &cautious, None, false)?;
        Ok(())
    })
    .await
    .expect("the app starts");
    let opened = app
        .wait_for_text("[data-testid=editor-title]", |t| !t.is_empty())
        .await;
    if opened.is_err() {
        let logs = app.data_dir().logs().join("preamble-app.log");
        eprintln!("{}", std::fs::read_to_string(logs).unwrap_or_default());
    }
    opened.unwrap();
    app.click("[data-testid=tab-compare]").await.unwrap();
    app.wait_until(
        "the compare's settings load",
        "const b = document.querySelector('[data-testid=compare-run]'); \
         const s = document.querySelector('[data-testid=compare-side-b] select'); \
         return !!b && !b.disabled && !!s && s.options.length === 2;",
    )
    .await
    .unwrap();
    // B: the cautious assistant's draft; A stays the general one's.
    app.eval(
        "const s = document.querySelector('[data-testid=compare-side-b] select'); \
         s.value = 'cautious-assistant'; s.dispatchEvent(new Event('change', { bubbles: true })); \
         return true;",
    )
    .await
    .unwrap();
    app.fill("[data-testid=compare-limit]", "4").await.unwrap();
    app.fill("[data-testid=compare-rounds]", "1").await.unwrap();
    app.fill("[data-testid=compare-max-tokens]", "32")
        .await
        .unwrap();
    app.click("[data-testid=compare-run]").await.unwrap();
    app.wait_until_within(
        "the compare ends",
        "return !!document.querySelector('[data-testid=compare-metrics]') || \
           !!document.querySelector('[data-testid=compare-error]');",
        COMPARE_PATIENCE,
    )
    .await
    .unwrap();
    let panel = app
        .wait_for_text("[data-testid=compare-metrics]", |t| !t.is_empty())
        .await
        .unwrap();
    assert!(
        panel.contains("A: general-assistant@draft · B: cautious-assistant@draft"),
        "{panel}"
    );
    assert!(
        panel.contains("4 prompts finished on both sides"),
        "{panel}"
    );
    assert!(
        panel.contains("judged by cautious-assistant@draft"),
        "{panel}"
    );
    let rows = app
        .eval("return document.querySelectorAll('[data-testid=compare-row]').length;")
        .await
        .unwrap();
    assert_eq!(rows, 4);
    let charts = app
        .eval(
            "return [document.querySelectorAll('[data-testid=scatter-point]').length, \
                     !!document.querySelector('[data-testid=win-rate] svg')];",
        )
        .await
        .unwrap();
    assert_eq!(charts, serde_json::json!([2, true]));
    app.screenshot("compare").await.unwrap();

    // The compare's report, as `preamble report A B` writes it.
    let report = app.artifact("compare-report.html");
    app.answer_dialogs_with(Some(&report)).unwrap();
    app.click("[data-testid=compare-export]").await.unwrap();
    app.wait_for_text("[data-testid=compare-exported]", |t| {
        t.contains("compare-report.html")
    })
    .await
    .unwrap();
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "{}",
        &page[..page.len().min(80)]
    );

    // A bar of the boilerplate chart drills down to the rounds it counts (maybe none).
    let expected = app
        .eval(
            "const bars = document.querySelectorAll('[data-testid=rate-bar] rect'); \
             const bar = bars[bars.length - 1]; \
             bar.dispatchEvent(new MouseEvent('click', { bubbles: true })); \
             return bar.getAttribute('aria-label');",
        )
        .await
        .unwrap();
    let heading = app
        .wait_for_text("[data-testid=compare-all]", |t| t == "Show all")
        .await;
    assert!(heading.is_ok(), "no drill-down after clicking {expected}");
    app.screenshot("compare-drill-down").await.unwrap();
    app.click("[data-testid=compare-all]").await.unwrap();
    app.wait_until(
        "every prompt shows again",
        "return document.querySelectorAll('[data-testid=compare-row]').length === 4;",
    )
    .await
    .unwrap();
    app.close().await.unwrap();
}
