//! The preview engine end to end on the real default model (CPU): a 16-prompt, 2-round
//! critique -> revision run of a sample constitution, its structure, principle attribution,
//! KV reuse, determinism, cancellation, failures that cost one prompt or one job, and the run
//! record in the store with resume.
//!
//! Needs the default model (`preamble model fetch`, which the test scripts run).

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use preamble::constitution::{self, Constitution};
use preamble::data_dir::DataDir;
use preamble::default_model;
use preamble::engine::{CancelToken, Engine, EngineError, LoadOptions};
use preamble::preview::{
    self, PreviewConfig, PreviewEvent, PreviewJob, PrincipleChoice, PromptOutcome, StepKind,
    StepRecord,
};
use preamble::prompt_set::{self, PromptItem};
use preamble::store::{NewRun, RunStatus, Store};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn engine() -> Engine {
    let path = default_model::path(&DataDir::resolve().unwrap());
    Engine::start(&path, &LoadOptions::default())
        .expect("the default model (run `preamble model fetch`)")
}

fn constitution() -> Constitution {
    constitution::load(&repo("constitutions/general-assistant.toml")).unwrap()
}

/// 8 red-team and 8 benign-but-sensitive prompts.
fn sixteen_prompts() -> Vec<PromptItem> {
    let mut prompts = prompt_set::load(&repo("prompts/red-team.jsonl")).unwrap();
    prompts.truncate(8);
    let mut benign = prompt_set::load(&repo("prompts/benign-sensitive.jsonl")).unwrap();
    benign.truncate(8);
    prompts.extend(benign);
    prompts
}

fn job(prompts: Vec<PromptItem>, configure: impl FnOnce(&mut PreviewConfig)) -> PreviewJob {
    let constitution = constitution();
    let mut config = PreviewConfig {
        rounds: 2,
        seed: 7,
        max_tokens: 40,
        parallel: 8,
        context_per_sequence: 2048,
        ..PreviewConfig::for_constitution(&constitution)
    };
    configure(&mut config);
    PreviewJob {
        done: Vec::new(),
        system_prompt: None,
        constitution,
        prompts,
        config,
    }
}

struct Ran {
    steps: Vec<StepRecord>,
    outcomes: Vec<PromptOutcome>,
    failures: Vec<(usize, String)>,
    result: Result<preamble::engine::BatchStats, EngineError>,
}

/// Runs `job` on the engine; `cancel_after` cancels once that many steps have arrived.
fn run(engine: &Engine, job: PreviewJob, cancel_after: Option<usize>) -> Ran {
    let (events, incoming) = mpsc::channel();
    let cancel = CancelToken::new();
    let handle = {
        let cancel = cancel.clone();
        engine.submit(move |model| preview::run(model, &job, &events, &cancel))
    };
    let mut ran = Ran {
        steps: Vec::new(),
        outcomes: Vec::new(),
        failures: Vec::new(),
        result: Ok(Default::default()),
    };
    for event in incoming {
        match event {
            PreviewEvent::Step { record } => {
                ran.steps.push(record);
                if Some(ran.steps.len()) == cancel_after {
                    cancel.cancel();
                }
            }
            PreviewEvent::Done { outcome } => ran.outcomes.push(*outcome),
            PreviewEvent::Failed { prompt, error } => ran.failures.push((prompt, error)),
            PreviewEvent::StepStarted { .. }
            | PreviewEvent::Pieces { .. }
            | PreviewEvent::Judged { .. } => {}
        }
    }
    ran.result = handle.wait();
    ran.outcomes.sort_by_key(|outcome| outcome.index);
    ran
}

#[test]
fn sixteen_prompts_two_rounds_with_attribution_kv_reuse_and_determinism() {
    let engine = engine();
    let prompts = sixteen_prompts();
    let constitution = constitution();
    let enabled: Vec<&str> = constitution
        .tiers
        .iter()
        .flat_map(|tier| &tier.principles)
        .filter(|principle| principle.enabled)
        .map(|principle| principle.id.as_str())
        .collect();

    let first = run(&engine, job(prompts.clone(), |_| {}), None);
    let stats = first.result.expect("the run completes");
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.outcomes.len(), 16);
    assert_eq!(first.steps.len(), 16 * 5);

    for (index, outcome) in first.outcomes.iter().enumerate() {
        assert_eq!(outcome.index, index);
        assert_eq!(outcome.id, prompts[index].id);
        assert_eq!(outcome.steps.len(), 2, "two rounds");
        assert!(
            !outcome.initial.is_empty(),
            "{}: empty initial response",
            outcome.id
        );
        assert_eq!(outcome.last, outcome.steps[1].revision);
        // The steps of this prompt, in order, carry the principle each round used.
        let steps: Vec<&StepRecord> = first.steps.iter().filter(|s| s.prompt == index).collect();
        let kinds: Vec<StepKind> = steps.iter().map(|s| s.kind).collect();
        use StepKind::*;
        assert_eq!(kinds, [Initial, Critique, Revision, Critique, Revision]);
        assert_eq!(steps[0].principle, None);
        for round in 0..2 {
            let principle = &outcome.steps[round].principle;
            assert!(enabled.contains(&principle.as_str()), "{principle}");
            assert_eq!(steps[1 + 2 * round].principle.as_ref(), Some(principle));
            assert_eq!(steps[2 + 2 * round].principle.as_ref(), Some(principle));
        }
        // KV reuse: after the initial turn, a step decodes only its new turn, not the whole
        // conversation, which grows from step to step.
        for pair in steps.windows(2) {
            assert!(pair[1].stats.conversation_tokens > pair[0].stats.conversation_tokens);
            assert!(
                pair[1].stats.decoded_tokens < pair[1].stats.conversation_tokens / 2,
                "{}: step {} decoded {} of {}",
                outcome.id,
                pair[1].step,
                pair[1].stats.decoded_tokens,
                pair[1].stats.conversation_tokens
            );
        }
        assert!(outcome.tokens.decoded_prompt < outcome.tokens.naive_prompt);
    }
    // Over the run: the shared prefix (system text) is decoded once; each step's decoded and
    // naive counts add up to the run's totals.
    let step_decoded: usize = first.steps.iter().map(|s| s.stats.decoded_tokens).sum();
    let step_naive: usize = first
        .steps
        .iter()
        .map(|s| s.stats.conversation_tokens)
        .sum();
    assert!(stats.shared_prefix_tokens > 0);
    assert_eq!(
        stats.decoded_prompt_tokens,
        stats.shared_prefix_tokens + step_decoded
    );
    assert_eq!(stats.naive_prompt_tokens, step_naive);
    assert!(
        stats.decoded_prompt_tokens * 2 < stats.naive_prompt_tokens,
        "{stats:?}"
    );
    // Batching: far fewer decode calls than generated tokens.
    assert!(stats.decode_calls * 4 < stats.generated_tokens, "{stats:?}");
    // Rounds pick different principles across prompts (uniform random, seeded).
    let picked: std::collections::HashSet<&str> = first
        .outcomes
        .iter()
        .flat_map(|o| o.steps.iter().map(|s| s.principle.as_str()))
        .collect();
    assert!(picked.len() >= 4, "{picked:?}");

    let second = run(&engine, job(prompts, |_| {}), None);
    second.result.unwrap();
    assert_eq!(first.outcomes.len(), second.outcomes.len());
    for (a, b) in first.outcomes.iter().zip(&second.outcomes) {
        assert_eq!(a.initial, b.initial, "{}", a.id);
        assert_eq!(a.steps, b.steps, "{}", a.id);
        assert_eq!(a.refusal, b.refusal, "{}", a.id);
    }
}

#[test]
fn a_pinned_principle_runs_every_round_and_feedback_is_labelled() {
    let engine = engine();
    let mut prompts = sixteen_prompts();
    prompts.truncate(3);
    let job = job(prompts, |config| {
        config.choice = PrincipleChoice::Pinned("no-mass-casualty-uplift".to_owned());
        config.rounds = 1;
        config.max_tokens = 24;
        config.feedback = Some(preamble::feedback::FeedbackMode::MultipleChoice);
    });
    let ran = run(&engine, job, None);
    ran.result.unwrap();
    assert_eq!(ran.outcomes.len(), 3);
    for outcome in &ran.outcomes {
        assert_eq!(outcome.steps[0].principle, "no-mass-casualty-uplift");
        let preference = outcome.preference.as_ref().expect("a preference label");
        assert_eq!(preference.principle, "no-mass-casualty-uplift");
        assert!((preference.p_a + preference.p_b - 1.0).abs() < 1e-9);
        assert!((0.0..=1.0).contains(&preference.p_a_shown_first));
        assert!(preference.option_mass > 0.0 && preference.option_mass <= 1.0);
    }
}

#[test]
fn cancelling_stops_the_run_within_a_step_and_the_engine_goes_on() {
    let engine = engine();
    let ran = run(&engine, job(sixteen_prompts(), |_| {}), Some(3));
    assert!(
        matches!(ran.result, Err(EngineError::Cancelled)),
        "{:?}",
        ran.result.err()
    );
    // Steps that finish in the decode step during which the cancel arrives still report; no
    // step starts after it.
    assert!(
        ran.steps.len() < 3 + 8,
        "{} steps after cancelling",
        ran.steps.len()
    );
    assert!(ran.outcomes.is_empty());

    let mut one = sixteen_prompts();
    one.truncate(1);
    let after = run(&engine, job(one, |config| config.rounds = 1), None);
    after.result.expect("the engine takes the next job");
    assert_eq!(after.outcomes.len(), 1);
}

#[test]
fn an_over_long_prompt_fails_alone_with_its_id() {
    let engine = engine();
    let mut prompts = sixteen_prompts();
    prompts.truncate(2);
    prompts[1].id = "very-long".to_owned();
    prompts[1].prompt = "Tell me about lighthouses. ".repeat(400);
    let ran = run(&engine, job(prompts, |config| config.rounds = 1), None);
    ran.result.unwrap();
    assert_eq!(ran.outcomes.len(), 1);
    assert_eq!(ran.failures.len(), 1);
    let (index, error) = &ran.failures[0];
    assert_eq!(*index, 1);
    assert!(error.contains("very-long"), "{error}");
    assert!(
        error.contains("exceeds the context of 2048 tokens"),
        "{error}"
    );
}

#[test]
fn a_corrupt_model_fails_to_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = default_model::path(&DataDir::resolve().unwrap());
    let bytes = std::fs::read(&model).unwrap();
    let corrupt = dir.path().join("corrupt.gguf");
    std::fs::write(&corrupt, &bytes[..bytes.len() / 3]).unwrap();
    let error = Engine::start(&corrupt, &LoadOptions::default())
        .err()
        .unwrap();
    assert!(matches!(error, EngineError::LoadFailed { .. }), "{error}");
    assert!(error.to_string().contains("corrupt.gguf"), "{error}");
}

#[test]
fn an_interrupted_run_keeps_its_steps_and_resumes() {
    let engine = engine();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("preamble.sqlite")).unwrap();
    let mut prompts = sixteen_prompts();
    prompts.truncate(4);
    let job_config = job(prompts, |config| {
        config.rounds = 1;
        config.parallel = 2;
        config.max_tokens = 24;
    });
    let info = engine.info().clone();
    let run_id = store
        .create_run(&NewRun {
            model_name: &info.name,
            model_path: &info.path.display().to_string(),
            model_sha256: "test",
            device: &info.device,
            constitution: &job_config.constitution,
            constitution_ref: None,
            config: &job_config.config,
            prompts: &job_config.prompts,
            system_prompt: None,
            initial_from: None,
        })
        .unwrap();
    let interrupted = run(&engine, job_config, Some(4));
    assert!(matches!(interrupted.result, Err(EngineError::Cancelled)));
    for step in &interrupted.steps {
        store.record_step(run_id, step).unwrap();
    }
    store
        .finish_run(run_id, RunStatus::Cancelled, None)
        .unwrap();

    let stored = store.run(run_id).unwrap();
    assert_eq!(stored.summary.status, RunStatus::Cancelled);
    assert_eq!(
        stored.steps.iter().map(Vec::len).sum::<usize>(),
        interrupted.steps.len()
    );
    let kept = stored.steps.clone();
    let resumed = run(&engine, preamble::runs::resume_job(&stored), None);
    resumed.result.unwrap();
    assert_eq!(resumed.outcomes.len(), 4);
    // Only the missing steps ran, and the kept ones are in the outcomes verbatim.
    assert_eq!(resumed.steps.len() + interrupted.steps.len(), 4 * 3);
    for steps in kept {
        for step in steps {
            let outcome = &resumed.outcomes[step.prompt];
            let text = step.text.trim();
            match step.kind {
                StepKind::Initial => assert_eq!(outcome.initial, text),
                StepKind::Critique => assert_eq!(outcome.steps[0].critique, text),
                StepKind::Revision => assert_eq!(outcome.steps[0].revision, text),
            }
        }
    }
}
