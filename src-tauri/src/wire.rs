//! The TypeScript declarations of what the commands take and return, generated from the Rust
//! types (ts-rs) into `ui/src/lib/wire.ts`, which `ui/src/lib/ipc.ts` re-exports.
//!
//! The test below fails when the file is stale; `PREAMBLE_WRITE_WIRE=1 cargo test -p
//! preamble-app wire` writes it.

use std::path::Path;

use ts_rs::{Config, TS};

use crate::chosen::ChosenFile;
use crate::commands::{
    DiffView, DraftState, DraftView, FormatInfo, ImportKind, Launch, Library, ModelStatus,
    ProblemView, Startup,
};
use crate::compare::{CompareRow, CompareUpdate, CompareView, SideChoice};
use crate::error::{CommandError, ErrorCode};
use crate::preview::{PreviewSettings, PromptSetInfo, PromptSource, RunEnded, RunUpdate};
use crate::runs::{OutcomeView, PromptView, RoundView, RunDetail, RunListing, StepView};
use crate::settings::Theme;
use preamble::compare::{Behaviour, PrincipleChanges, Side};
use preamble::constitution::{Constitution, Example, PreviewDefaults, Principle, Selection, Tier};
use preamble::dataset::ManifestCounts;
use preamble::default_model::Progress;
use preamble::diff::{
    ConstitutionDiff, DiffSummary, ExampleChange, FieldChange, InlineSpan, Move, Position,
    PrincipleChange, Reorder, SpanKind, TierChange,
};
use preamble::engine::ModelInfo;
use preamble::feedback::FeedbackMode;
use preamble::metrics::{
    CategoryRefusals, LengthChange, OutcomeChange, PairMetrics, PairedRate, PairedRefusals,
    PairedTest, PositionBias, PrincipleRounds, Rate, Refusals, RunMetrics, TierConflict, WinRate,
    WinRates,
};
use preamble::preview::{Piece, PreviewMode, PrincipleChoice, StepKind};
use preamble::prompt_set::{PromptItem, PromptLabel};
use preamble::refusal::{Classification, RefusalLabel};
use preamble::runs::Progress as RunProgress;
use preamble::store::{DraftStatus, Listing, PromptSetSummary, RunStatus, RunSummary, VersionInfo};

/// The generated file, relative to this crate.
const FILE: &str = "../ui/src/lib/wire.ts";

fn declaration<T: TS>(config: &Config) -> String {
    format!("export {}", T::decl(config))
}

/// The whole of `wire.ts`: one declaration per type, by name.
fn wire_ts() -> String {
    // Every integer on the wire (counts, milliseconds since the epoch) fits a JS number.
    let config = Config::new().with_large_int("number");
    let mut declarations = vec![
        declaration::<ChosenFile>(&config),
        declaration::<CommandError>(&config),
        declaration::<ErrorCode>(&config),
        declaration::<Startup>(&config),
        declaration::<Launch>(&config),
        declaration::<Theme>(&config),
        declaration::<Library>(&config),
        declaration::<Listing>(&config),
        declaration::<FormatInfo>(&config),
        declaration::<Constitution>(&config),
        declaration::<PreviewDefaults>(&config),
        declaration::<Selection>(&config),
        declaration::<Tier>(&config),
        declaration::<Principle>(&config),
        declaration::<Example>(&config),
        declaration::<ProblemView>(&config),
        declaration::<DraftView>(&config),
        declaration::<DraftState>(&config),
        declaration::<DraftStatus>(&config),
        declaration::<VersionInfo>(&config),
        declaration::<DiffView>(&config),
        declaration::<ConstitutionDiff>(&config),
        declaration::<DiffSummary>(&config),
        declaration::<FieldChange>(&config),
        declaration::<InlineSpan>(&config),
        declaration::<SpanKind>(&config),
        declaration::<Position>(&config),
        declaration::<Move>(&config),
        declaration::<Reorder>(&config),
        declaration::<TierChange>(&config),
        declaration::<PrincipleChange>(&config),
        declaration::<ExampleChange>(&config),
        declaration::<ModelInfo>(&config),
        declaration::<ModelStatus>(&config),
        declaration::<Progress>(&config),
        declaration::<RunListing>(&config),
        declaration::<RunDetail>(&config),
        declaration::<PromptView>(&config),
        declaration::<OutcomeView>(&config),
        declaration::<RoundView>(&config),
        declaration::<RunSummary>(&config),
        declaration::<RunStatus>(&config),
        declaration::<Rate>(&config),
        declaration::<Classification>(&config),
        declaration::<RefusalLabel>(&config),
        declaration::<PromptLabel>(&config),
        declaration::<StepView>(&config),
        declaration::<StepKind>(&config),
        declaration::<PromptSetInfo>(&config),
        declaration::<PromptSource>(&config),
        declaration::<PreviewSettings>(&config),
        declaration::<PrincipleChoice>(&config),
        declaration::<PreviewMode>(&config),
        declaration::<FeedbackMode>(&config),
        declaration::<RunUpdate>(&config),
        declaration::<RunProgress>(&config),
        declaration::<Piece>(&config),
        declaration::<RunEnded>(&config),
        declaration::<ImportKind>(&config),
        declaration::<ManifestCounts>(&config),
        declaration::<SideChoice>(&config),
        declaration::<CompareUpdate>(&config),
        declaration::<CompareRow>(&config),
        declaration::<CompareView>(&config),
        declaration::<Side>(&config),
        declaration::<PairMetrics>(&config),
        declaration::<RunMetrics>(&config),
        declaration::<Refusals>(&config),
        declaration::<CategoryRefusals>(&config),
        declaration::<LengthChange>(&config),
        declaration::<PrincipleRounds>(&config),
        declaration::<TierConflict>(&config),
        declaration::<PairedRate>(&config),
        declaration::<PairedRefusals>(&config),
        declaration::<PairedTest>(&config),
        declaration::<PositionBias>(&config),
        declaration::<WinRate>(&config),
        declaration::<WinRates>(&config),
        declaration::<OutcomeChange>(&config),
        declaration::<Behaviour>(&config),
        declaration::<PrincipleChanges>(&config),
        declaration::<PromptSetSummary>(&config),
        declaration::<PromptItem>(&config),
    ];
    declarations.sort_by_key(|declaration| {
        declaration
            .split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_owned()
    });
    let mut text = String::from(
        "// Generated from the Rust types by src-tauri/src/wire.rs (ts-rs): do not edit.\n\
         // Regenerate with `PREAMBLE_WRITE_WIRE=1 cargo test -p preamble-app wire`.\n",
    );
    for declaration in declarations {
        text.push('\n');
        text.push_str(declaration.trim_end());
        text.push('\n');
    }
    text
}

#[test]
fn the_generated_wire_types_are_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
    let expected = wire_ts();
    if std::env::var_os("PREAMBLE_WRITE_WIRE").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "{} is stale: regenerate it with `PREAMBLE_WRITE_WIRE=1 cargo test -p preamble-app wire`",
        path.display()
    );
}
