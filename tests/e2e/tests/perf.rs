//! Measures the app with a 500-principle constitution in the real window: cold start to an
//! interactive library, opening the editor, typing, scrolling and reordering, and opening the
//! diff of two 500-principle versions. Figures are printed and written to
//! `target/e2e/perf/perf.json`; nothing here asserts a time (the machine is shared and noisy),
//! only that each step did what it should.

use std::time::Instant;

use preamble::constitution::{self, Constitution, Principle, Tier};
use preamble::store::Store;
use preamble_e2e::App;

const TIERS: usize = 5;
const PER_TIER: usize = 100;

fn principle(tier: usize, n: usize) -> Principle {
    Principle {
        id: format!("p-{tier}-{n}"),
        title: format!("Principle {n} of tier {tier}"),
        statement: format!(
            "The assistant keeps rule {n} of tier {tier}: it weighs the request, the people it \
             affects and the likely use of the answer before it replies."
        ),
        rationale: format!("Rule {n} exists because reviewers asked for it in round {tier}."),
        critique_request: format!("Point out where the last response breaks rule {n}."),
        revision_request: format!("Rewrite the response so that it keeps rule {n}."),
        comparison_question: format!("Which response better keeps rule {n}?"),
        tags: vec![format!("tier-{tier}")],
        enabled: true,
        weight: 1.0,
    }
}

fn large() -> Constitution {
    let mut c = constitution::starter("Large constitution");
    c.tiers = (0..TIERS)
        .map(|t| Tier {
            id: format!("tier-{t}"),
            name: format!("Tier {t}"),
            description: String::new(),
            principles: (0..PER_TIER).map(|n| principle(t, n)).collect(),
        })
        .collect();
    c
}

/// Version 2: 50 principles moved to the next tier, one word changed in 100 statements.
fn edited(mut c: Constitution) -> Constitution {
    for tier in c.tiers.iter_mut() {
        for p in tier.principles.iter_mut().step_by(5) {
            p.statement = p.statement.replace("weighs", "considers");
        }
    }
    for t in 0..TIERS - 1 {
        let moved: Vec<Principle> = c.tiers[t].principles.drain(0..10).collect();
        c.tiers[t + 1].principles.extend(moved);
    }
    c
}

/// Runs `body` (an async function body, with `frame()` resolving after the next painted frame)
/// in the window and returns what it returns.
async fn run(app: &App, body: &str) -> serde_json::Value {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
         (async () => {{ {body} }})().then(done, (e) => done('error: ' + e));"
    );
    let value = preamble_e2e::timed("a measurement", app.client().execute_async(&script, vec![]))
        .await
        .unwrap();
    assert!(!value.to_string().contains("error"), "{value}");
    value
}

#[tokio::test]
async fn five_hundred_principles_stay_responsive() {
    let started = Instant::now();
    let app = App::launch_with("perf", &[], |data| {
        let mut store = Store::open(&Store::default_path(data))?;
        let v1 = large();
        store.create("large", &v1)?;
        store.commit("large", "500 principles", "perf")?;
        store.save_draft("large", &edited(v1), None)?;
        store.commit("large", "moves and edits", "perf")?;
        Ok(())
    })
    .await
    .expect("the app starts");
    app.find("[data-testid=library-row]").await.unwrap();
    let cold_start_ms = started.elapsed().as_millis();
    let page_ready_ms = app.eval("return performance.now();").await.unwrap();

    let opening = Instant::now();
    app.click("[data-testid=open]").await.unwrap();
    app.wait_until(
        "the editor shows 500 cards",
        "return document.querySelectorAll('[data-testid=principle-card]').length === 500;",
    )
    .await
    .unwrap();
    let open_editor_ms = opening.elapsed().as_millis();

    // Calibration: two frames with nothing to do.
    let idle = run(
        &app,
        "const times = [];
         for (let i = 0; i < 20; i++) {
           const t0 = performance.now();
           await frame();
           times.push(performance.now() - t0);
         }
         return { times };",
    )
    .await;

    // Typing: 20 edits of the title, each from the input event to the second frame after it.
    let typing = run(
        &app,
        "const input = document.querySelector('[data-testid=principle-form] [name=title]');
         const times = [];
         const script = [];
         for (let i = 0; i < 20; i++) {
           const t0 = performance.now();
           input.value = input.value + 'x';
           input.dispatchEvent(new Event('input', { bubbles: true }));
           for (let j = 0; j < 5; j++) await null;
           script.push(performance.now() - t0);
           await frame();
           times.push(performance.now() - t0);
         }
         const card = document.querySelector('[data-testid=card-title]').textContent;
         return { times, card, script };",
    )
    .await;
    assert!(
        typing["card"]
            .as_str()
            .unwrap()
            .ends_with("xxxxxxxxxxxxxxxxxxxx")
    );

    // Scrolling the outline through all 500 cards, a screenful per frame.
    let scrolling = run(
        &app,
        "const outline = document.querySelector('.outline');
         const times = [];
         outline.scrollTop = 0;
         await frame();
         while (outline.scrollTop + outline.clientHeight < outline.scrollHeight - 1) {
           const t0 = performance.now();
           outline.scrollTop += outline.clientHeight;
           await frame();
           times.push(performance.now() - t0);
         }
         return { times };",
    )
    .await;

    // Reordering: 10 moves down by keyboard (Alt+↓), each to the second frame after it.
    let reordering = run(
        &app,
        "const times = [];
         for (let i = 0; i < 10; i++) {
           const card = document.querySelector('[data-testid=principle-card][aria-selected=true]');
           const t0 = performance.now();
           card.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', altKey: true, bubbles: true }));
           await frame();
           times.push(performance.now() - t0);
         }
         const place = document.querySelector('[data-testid=principle-place]').textContent.replace(/\\s+/g, ' ').trim();
         return { times, place };",
    )
    .await;
    assert_eq!(reordering["place"], "Priority 11 of 90 in Tier 0");

    // The diff of the two 500-principle versions, from the click to the painted frame.
    let diffing = Instant::now();
    app.click("[data-testid=tab-diff]").await.unwrap();
    let summary = app
        .wait_for_text("[data-testid=diff-summary]", |t| t.contains("moved"))
        .await
        .unwrap();
    let diff_wall_ms = diffing.elapsed().as_millis();
    assert!(summary.contains("40 moved"), "{summary}");
    assert!(summary.contains("edited"), "{summary}");
    let diff_shown_ms = app
        .eval("return Number(document.querySelector('[data-testid=diff-ms]').dataset.ms);")
        .await
        .unwrap();
    let diff_fetched_ms = app
        .eval("return Number(document.querySelector('[data-testid=diff-ms]').dataset.fetchMs);")
        .await
        .unwrap();
    app.screenshot("diff-500").await.unwrap();

    let stats = |value: &serde_json::Value| {
        let mut times: Vec<f64> = value["times"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect();
        times.sort_by(f64::total_cmp);
        serde_json::json!({
            "count": times.len(),
            "median_ms": times[times.len() / 2],
            "max_ms": times[times.len() - 1],
        })
    };
    let figures = serde_json::json!({
        "principles": TIERS * PER_TIER,
        "cold_start_to_library_ms (incl. WebDriver session)": cold_start_ms,
        "page_ready_ms (navigation start to library)": page_ready_ms,
        "open_editor_ms (click to 500 cards)": open_editor_ms,
        "idle (two frames, nothing to do)": stats(&idle),
        "typing (input event to painted frame)": stats(&typing),
        "typing script (input event to the DOM updated)": stats(&serde_json::json!({"times": typing["script"]})),
        "scrolling (scroll step to painted frame)": stats(&scrolling),
        "reordering (Alt+Down to painted frame)": stats(&reordering),
        "diff_shown_ms (diff view opened to its first painted frame)": diff_shown_ms,
        "diff_fetched_ms (request to the diff's arrival over IPC)": diff_fetched_ms,
        "diff_wall_ms (click to summary seen over WebDriver)": diff_wall_ms,
    });
    let text = serde_json::to_string_pretty(&figures).unwrap();
    eprintln!("perf figures:\n{text}");
    std::fs::write(app.artifact("perf.json"), text).unwrap();
    app.close().await.unwrap();
}
