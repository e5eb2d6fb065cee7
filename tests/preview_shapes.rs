//! What an author writes shapes the preview, on the real default model through the worker
//! process: a statement edit changes what the model reads and writes in its critique; an
//! in-context run opens with the constitution as its system prompt and stores it; an ablation
//! generates each initial response once and shares it with every variant.
//!
//! Needs the default model (`preamble model fetch`, which the test scripts run).

use preamble::ablation::{self, AblationSpec, Part};
use preamble::constitution::Constitution;
use preamble::engine::CancelToken;
use preamble::feedback::{FeedbackMode, FeedbackRule};
use preamble::preview::{
    self, PreviewConfig, PreviewEvent, PreviewMode, PrincipleChoice, StepKind, TurnFormat,
    TurnWording,
};
use preamble::prompt_set::PromptItem;
use preamble::runs::{self, RunEvent, RunSpec};
use preamble::store::{RunStatus, Store};
use preamble::worker::WarmWorker;

mod common;
use common::{constitution, prompts, worker};

/// Greedy, short and small: outputs depend only on what the model reads.
fn config(constitution: &Constitution) -> PreviewConfig {
    let mut config = PreviewConfig {
        rounds: 1,
        seed: 5,
        max_tokens: 24,
        parallel: 4,
        context_per_sequence: 2048,
        ..PreviewConfig::for_constitution(constitution)
    };
    config.sampling.temperature = 0.0;
    config
}

fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("preamble.sqlite")).unwrap()
}

fn spec(constitution: Constitution, prompts: Vec<PromptItem>, config: PreviewConfig) -> RunSpec {
    RunSpec {
        constitution,
        constitution_ref: None,
        prompts,
        config,
        initial_from: None,
    }
}

/// Creates and executes a run; returns its id.
fn run(store: &mut Store, worker: &mut WarmWorker, spec: &RunSpec) -> i64 {
    let id = runs::create(store, spec, worker).unwrap();
    let end = runs::execute(store, id, worker, &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(end.status, RunStatus::Completed);
    id
}

#[test]
fn a_statement_edit_changes_the_critique_the_model_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(&dir);
    let mut worker = worker();
    let original = constitution();
    let pinned = "professional-advice";
    let mut config = config(&original);
    config.choice = PrincipleChoice::Pinned(pinned.to_owned());
    let mut edited = original.clone();
    let principle = edited
        .tiers
        .iter_mut()
        .flat_map(|tier| &mut tier.principles)
        .find(|principle| principle.id == pinned)
        .unwrap();
    let wording = TurnWording::new(TurnFormat::Statements, &original);
    let before = preview::critique_turn(principle, wording);
    principle.statement = "Answer every medical question as a pirate would, in rhyme.".into();
    assert_ne!(preview::critique_turn(principle, wording), before);
    let prompts = prompts(2);
    let a = run(
        &mut store,
        &mut worker,
        &spec(original, prompts.clone(), config.clone()),
    );
    let b = run(&mut store, &mut worker, &spec(edited, prompts, config));
    let (a, b) = (store.run(a).unwrap(), store.run(b).unwrap());
    for (steps_a, steps_b) in a.steps.iter().zip(&b.steps) {
        // The initial answer reads no principle; the critique reads the statement.
        assert_eq!(steps_a[0].text, steps_b[0].text);
        assert_eq!(steps_a[1].kind, StepKind::Critique);
    }
    let critiques_differ = a
        .steps
        .iter()
        .zip(&b.steps)
        .any(|(steps_a, steps_b)| steps_a[1].text != steps_b[1].text);
    assert!(critiques_differ, "the edited statement changed no critique");
}

#[test]
fn an_in_context_run_opens_with_the_constitution_and_stores_its_system_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(&dir);
    let mut worker = worker();
    let constitution = constitution();
    let prompts = prompts(2);
    let cai = run(
        &mut store,
        &mut worker,
        &spec(constitution.clone(), prompts.clone(), config(&constitution)),
    );
    let mut in_context = config(&constitution);
    in_context.mode = PreviewMode::InContext;
    let id = run(
        &mut store,
        &mut worker,
        &spec(constitution.clone(), prompts, in_context),
    );
    let (cai, stored) = (store.run(cai).unwrap(), store.run(id).unwrap());
    assert_eq!(cai.system_prompt, None);
    assert_eq!(stored.config.mode, PreviewMode::InContext);
    let system_prompt = stored
        .system_prompt
        .as_deref()
        .expect("a stored system prompt");
    assert_eq!(system_prompt, preview::system_prompt(&constitution));
    assert!(system_prompt.contains(constitution.tiers[0].principles[0].statement.trim()));
    // The system prompt changes what the model answers.
    assert!(
        cai.steps
            .iter()
            .zip(&stored.steps)
            .any(|(a, b)| a[0].text != b[0].text),
        "the system prompt changed no initial answer"
    );
    // A resumed in-context run asks with the stored prompt.
    assert_eq!(
        runs::resume_job(&stored).system_prompt.as_deref(),
        Some(system_prompt)
    );
}

#[test]
fn an_ablation_generates_each_initial_response_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(&dir);
    let mut worker = worker();
    let constitution = constitution();
    let mut config = config(&constitution);
    config.feedback = Some(FeedbackMode::MultipleChoice);
    config.feedback_rule = FeedbackRule::Tiered {
        every_principle: false,
        margin: 0.1,
    };
    let spec = AblationSpec {
        config,
        constitution,
        constitution_ref: None,
        prompts: prompts(4),
        principles: vec!["professional-advice".to_owned(), "be-honest".to_owned()],
    };
    let mut initial_started = 0;
    let mut runs_started = Vec::new();
    let mut on_event = |part: &Part, event: &RunEvent| match event {
        RunEvent::Started { run, .. } => runs_started.push((part.clone(), *run)),
        RunEvent::Preview { event, .. } => {
            if let PreviewEvent::StepStarted {
                kind: StepKind::Initial,
                ..
            } = &**event
            {
                initial_started += 1;
            }
        }
        RunEvent::Finished { .. } => {}
    };
    let report = ablation::run(
        &mut store,
        &spec,
        &mut worker,
        &CancelToken::new(),
        &mut on_event,
    )
    .unwrap();
    // Three runs (baseline and two variants), four initial responses in all.
    assert_eq!(runs_started.len(), 3);
    assert_eq!(initial_started, 4);
    assert_eq!(report.sharing.initial_generated, 4);
    assert_eq!(report.sharing.initial_reused, 8);
    assert!(report.sharing.generated_tokens_saved > 0);
    let baseline = store.run(report.baseline).unwrap();
    assert_eq!(report.effects.len(), 2);
    for (effect, principle) in report.effects.iter().zip(&spec.principles) {
        assert_eq!(&effect.principle, principle);
        assert_eq!(effect.compared, 4);
        // Every prompt has a tiered label in both runs.
        assert_eq!(effect.preference_shifts.len(), 4);
        let variant = store.run(effect.run).unwrap();
        assert_eq!(variant.initial_from, Some(report.baseline));
        for (prompt, steps) in variant.steps.iter().enumerate() {
            assert_eq!(steps.len(), 3);
            assert_eq!(steps[0], baseline.steps[prompt][0]);
            assert_eq!(steps[1].principle.as_deref(), Some(principle.as_str()));
        }
        for outcome in variant.outcomes.iter().flatten() {
            let label = outcome.preference.as_ref().unwrap();
            assert_eq!(label.tiers.len(), variant.constitution.tiers.len());
        }
    }
}

#[test]
fn initial_responses_are_shared_only_between_runs_that_agree_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(&dir);
    let mut worker = worker();
    let constitution = constitution();
    let base = spec(constitution.clone(), prompts(1), config(&constitution));
    let id = run(&mut store, &mut worker, &base);
    let mut other_seed = base.clone();
    other_seed.config.seed += 1;
    other_seed.initial_from = Some(id);
    let error = runs::create(&mut store, &other_seed, &mut worker).unwrap_err();
    assert!(
        error.to_string().contains("configuration differs"),
        "{error}"
    );
    let mut other_prompts = base.clone();
    other_prompts.prompts = prompts(2);
    other_prompts.initial_from = Some(id);
    let error = runs::create(&mut store, &other_prompts, &mut worker).unwrap_err();
    assert!(error.to_string().contains("prompt set differs"), "{error}");
}
