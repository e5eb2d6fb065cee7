//! A preview started in the window on the real default model: critique and revision text
//! appear while the run goes (before it ends), the run is listed in Runs and reopens there; a
//! second run is cancelled mid-way and resumed from Runs to its end.

use std::time::Duration;

use preamble_e2e::{App, sample_constitution};

/// Model work on 2 busy cores: loading, then two prompts of three steps each.
const RUN_PATIENCE: Duration = Duration::from_secs(240);

/// Records, from the page itself, whether any critique and any revision cell showed text while
/// its step and the run were still going, and the time between animation frames meanwhile (a
/// poll from the test could miss a short step; an observer in the page cannot).
const WATCH: &str = r#"
window.__seen = { critique: false, revision: false, frames: [] };
const look = () => {
  const run = document.querySelector('[data-testid=live-run]');
  if (!run || run.dataset.status !== 'running') return;
  for (const kind of ['critique', 'revision']) {
    for (const cell of document.querySelectorAll(`[data-testid=live-${kind}][data-state=streaming]`)) {
      if (cell.textContent.trim().length > 0) window.__seen[kind] = true;
    }
  }
};
new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
let last = performance.now();
const frame = (now) => { window.__seen.frames.push(now - last); last = now; requestAnimationFrame(frame); };
requestAnimationFrame(frame);
return true;
"#;

/// The times between animation frames that [`WATCH`] recorded, in milliseconds, sorted.
fn frame_times(seen: &serde_json::Value) -> Vec<f64> {
    let mut frames: Vec<f64> = seen["frames"]
        .as_array()
        .map(|frames| {
            frames
                .iter()
                .filter_map(serde_json::Value::as_f64)
                .collect()
        })
        .unwrap_or_default();
    frames.sort_by(f64::total_cmp);
    frames
}

/// The `q` quantile of sorted `frames` (nearest rank below).
fn percentile(frames: &[f64], q: f64) -> f64 {
    frames[((frames.len() - 1) as f64 * q) as usize]
}

fn run_status(status: &str) -> String {
    format!(
        "const run = document.querySelector('[data-testid=live-run]'); \
         return !!run && run.dataset.status === '{status}';"
    )
}

#[tokio::test]
async fn a_preview_streams_its_loop_then_lists_and_reopens_and_resumes() {
    let constitution = sample_constitution("general-assistant.toml");
    let app = App::launch_editing("preview-view", &constitution)
        .await
        .expect("the app starts");
    app.open_preview().await.unwrap();
    app.fill("[data-testid=preview-limit]", "2").await.unwrap();
    app.fill("[data-testid=preview-rounds]", "1").await.unwrap();
    app.fill("[data-testid=preview-max-tokens]", "40")
        .await
        .unwrap();
    app.eval(WATCH).await.unwrap();
    app.click("[data-testid=preview-run]").await.unwrap();
    app.wait_until_within("the run completes", &run_status("completed"), RUN_PATIENCE)
        .await
        .unwrap();
    let seen = app.eval("return window.__seen;").await.unwrap();
    assert_eq!(
        seen["critique"], true,
        "no critique text before its step ended"
    );
    assert_eq!(
        seen["revision"], true,
        "no revision text before its step ended"
    );
    let frames = frame_times(&seen);
    if !frames.is_empty() {
        let p = |q| percentile(&frames, q);
        // Reported, not asserted: frame times depend on the machine (see the issue's note).
        eprintln!(
            "frames while streaming: {} frames, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            frames.len(),
            p(0.5),
            p(0.95),
            p(1.0)
        );
    }
    let shape = app
        .eval(
            "return [...document.querySelectorAll('[data-testid=live-prompt]')].map(p => [
               p.querySelectorAll('[data-testid=live-critique]').length,
               p.querySelectorAll('[data-testid=live-final] [data-testid=refusal]').length]);",
        )
        .await
        .unwrap();
    // Two prompts, one round each, and a labelled final answer for each.
    assert_eq!(shape, serde_json::json!([[1, 1], [1, 1]]));
    app.screenshot("preview").await.unwrap();

    // Listed in Runs with the revision it ran, and reopened prompt by prompt.
    app.click("[data-testid=tab-runs]").await.unwrap();
    let row = app
        .wait_for_text("[data-testid=run-row]", |t| !t.is_empty())
        .await
        .unwrap();
    assert!(row.contains("#1"), "{row}");
    assert!(row.contains("@draft"), "{row}");
    assert!(row.contains("completed"), "{row}");
    assert!(row.contains("2/2"), "{row}");
    app.click("[data-testid=run-row] button").await.unwrap();
    app.wait_until(
        "the run reopens with its two prompts",
        "return document.querySelectorAll('[data-testid=run-prompt]').length === 2;",
    )
    .await
    .unwrap();
    app.screenshot("run").await.unwrap();

    // Its training data and its report, through the same core functions as the CLI's.
    let out = app.artifact("dataset");
    let _ = std::fs::remove_dir_all(&out);
    app.answer_dialogs_with(Some(&out)).unwrap();
    app.click("[data-testid=export-dataset]").await.unwrap();
    let done = app
        .wait_for_text("[data-testid=exported]", |t| t.contains("SFT lines"))
        .await
        .unwrap();
    assert!(done.contains("from 2 of 2 prompts"), "{done}");
    let sft = std::fs::read_to_string(out.join("sft.jsonl")).unwrap();
    assert_eq!(sft.lines().count(), 2, "{sft}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["counts"]["finished"], 2);
    // Again into the same folder: asked first, then replaced.
    app.click("[data-testid=export-dataset]").await.unwrap();
    app.click("[data-testid=replace-export-yes]").await.unwrap();
    app.wait_for_text("[data-testid=exported]", |t| t.contains("SFT lines"))
        .await
        .unwrap();
    let report = app.artifact("run-report.html");
    app.answer_dialogs_with(Some(&report)).unwrap();
    app.click("[data-testid=export-report]").await.unwrap();
    app.wait_for_text("[data-testid=exported]", |t| t.contains("run-report.html"))
        .await
        .unwrap();
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "{}",
        &page[..page.len().min(80)]
    );

    // A second run, cancelled once its first step is done, then resumed from Runs.
    app.click("[data-testid=tab-preview]").await.unwrap();
    app.fill("[data-testid=preview-max-tokens]", "60")
        .await
        .unwrap();
    app.click("[data-testid=preview-run]").await.unwrap();
    app.wait_until_within(
        "the second run's first step",
        "return [...document.querySelectorAll('[data-testid=live-initial]')].some(c => c.dataset.state === 'done');",
        RUN_PATIENCE,
    )
    .await
    .unwrap();
    app.click("[data-testid=cancel-run]").await.unwrap();
    app.wait_until_within("the run stops", &run_status("cancelled"), RUN_PATIENCE)
        .await
        .unwrap();
    app.click("[data-testid=tab-runs]").await.unwrap();
    app.wait_for_text("[data-testid=run-row]", |t| {
        t.contains("#2") && t.contains("cancelled")
    })
    .await
    .unwrap();
    app.click("[data-testid=run-row] button").await.unwrap();
    app.click("[data-testid=resume-run]").await.unwrap();
    let resumed = app.wait_until_within(
        "the resumed run completes",
        "const t = document.querySelector('[data-testid=run-title]'); \
         return !document.querySelector('.runs [data-testid=live-run]') && \
           document.querySelectorAll('[data-testid=run-prompt] [data-testid=run-round]').length === 2 && \
           !!t && document.body.textContent.includes('completed');",
        RUN_PATIENCE,
    )
    .await;
    app.screenshot("resumed").await.unwrap();
    resumed.unwrap();
    app.close().await.unwrap();
}

/// The frame times of the window while all 44 prompts of a bundled set stream (and the grid is
/// scrolled): a measurement for the issue's note, not a check (the figures depend on the
/// machine). Run it alone: `cargo test ... --test preview_view -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement of a few minutes on the real model"]
async fn frame_times_while_44_prompts_stream() {
    let constitution = sample_constitution("general-assistant.toml");
    let app = App::launch_editing("preview-frames", &constitution)
        .await
        .expect("the app starts");
    app.open_preview().await.unwrap();
    app.fill("[data-testid=preview-rounds]", "1").await.unwrap();
    app.fill("[data-testid=preview-max-tokens]", "48")
        .await
        .unwrap();
    app.eval(WATCH).await.unwrap();
    // Scrolls the grid a little every frame while the run goes, as a reader would.
    app.eval(
        "const scroll = () => { const g = document.querySelector('.grid'); \
           if (g) g.scrollTop = (g.scrollTop + 7) % Math.max(1, g.scrollHeight - g.clientHeight); \
           requestAnimationFrame(scroll); }; requestAnimationFrame(scroll); return true;",
    )
    .await
    .unwrap();
    app.click("[data-testid=preview-run]").await.unwrap();
    app.wait_until_within(
        "the run completes",
        &run_status("completed"),
        Duration::from_secs(1200),
    )
    .await
    .unwrap();
    let seen = app.eval("return window.__seen;").await.unwrap();
    let frames = frame_times(&seen);
    let p = |q| percentile(&frames, q);
    let over = |ms: f64| frames.iter().filter(|&&f| f > ms).count();
    eprintln!(
        "44 prompts: {} frames, median {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         {} over 50 ms, {} over 100 ms",
        frames.len(),
        p(0.5),
        p(0.95),
        p(0.99),
        p(1.0),
        over(50.0),
        over(100.0)
    );
    app.close().await.unwrap();
}
