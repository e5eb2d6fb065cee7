//! What changed between two versions of a constitution, for reviewers.
//!
//! [`diff`] compares two constitutions structurally: metadata fields, tiers, principles and
//! few-shot examples. Every changed text comes with a word-level diff so a reviewer sees which
//! words changed. [`render_text`] and [`render_markdown`] present a diff in a terminal and in a
//! review thread; [`unified_patch`] is the line diff of two files' text.
//!
//! Invariants:
//! - Principles are matched by id first. The principles left over on both sides are then matched
//!   by their text (title, statement, critique and revision requests): identical text first, then
//!   the most similar pairs, best first, down to a similarity of [`SIMILARITY_THRESHOLD`]. A match
//!   with a different id is a rename. Whatever stays unmatched is added or removed.
//! - A matched principle has moved when its tier changed, or when its order relative to the other
//!   principles that stayed in its tier changed: of those, the ones on a longest common
//!   subsequence of the old and the new order stay put and only the rest have moved, so adding or
//!   removing a principle moves nothing else. Tiers (matched by id) and examples are reordered by
//!   the same rule.
//! - Examples are matched by identical prompt first, then by text like principles.
//! - Positions are 1-based.
//! - A diff is empty exactly when the two constitutions show the same values in every field, in
//!   the same order; the diff of a constitution with itself is empty.
//! - Text similarity is only computed among the leftovers of the id match, and not at all when
//!   there are more than [`MAX_SIMILARITY_PAIRS`] pairs of them; then only identical texts match.
//! - No input makes any function here panic.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;

use serde::Serialize;
use similar::{Algorithm, ChangeTag, DiffOp, TextDiff};

use crate::constitution::{Constitution, Example, Principle, Selection, Tier};

/// The least text similarity (0 to 1) at which two principles or examples with no other match
/// count as the same one.
pub const SIMILARITY_THRESHOLD: f32 = 0.6;

/// The most pairs of leftover principles, or of examples, whose text similarity is computed.
pub const MAX_SIMILARITY_PAIRS: usize = 65_536;

/// Everything that changed from one version of a constitution to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct ConstitutionDiff {
    /// Counts of the changes below.
    pub summary: DiffSummary,
    /// Changed top-level fields: `format`, `name`, `description`, `authors`, `license`,
    /// `preview.rounds`, `preview.selection`, `preview.rationales`.
    pub metadata: Vec<FieldChange>,
    /// Added and removed tiers, then tiers that changed, in new order.
    pub tiers: Vec<TierChange>,
    /// Added and changed principles in new order, then removed ones in old order.
    pub principles: Vec<PrincipleChange>,
    /// Added and changed examples in new order, then removed ones in old order.
    pub examples: Vec<ExampleChange>,
}

impl ConstitutionDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty()
            && self.tiers.is_empty()
            && self.principles.is_empty()
            && self.examples.is_empty()
    }
}

/// How many changes of each kind a diff holds. A principle that was renamed, moved and edited
/// counts once under each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct DiffSummary {
    pub added: usize,
    pub removed: usize,
    pub renamed: usize,
    pub moved: usize,
    /// Principles with at least one changed field.
    pub edited: usize,
    /// Tiers added, removed or changed.
    pub tiers_changed: usize,
    /// Examples added, removed or changed.
    pub examples_changed: usize,
    /// Changed metadata fields.
    pub metadata_changed: usize,
}

/// A field whose value changed, as text, with a word-level diff of the two values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct FieldChange {
    /// The field's name in the file format, e.g. `statement` or `preview.rounds`.
    pub field: String,
    pub old: String,
    pub new: String,
    /// `old` and `new` word by word: the equal and deleted spans spell `old`, the equal and
    /// inserted spans spell `new`.
    pub inline: Vec<InlineSpan>,
}

/// A run of text in a word-level diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct InlineSpan {
    pub kind: SpanKind,
    pub text: String,
}

/// Whether a span of a word-level diff is in both texts, only the new one or only the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    Equal,
    Insert,
    Delete,
}

/// Where a principle is: its tier and its 1-based priority in that tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct Position {
    pub tier_id: String,
    pub tier_name: String,
    pub position: usize,
}

impl fmt::Display for Position {
    /// `Safety #2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.tier_name, self.position)
    }
}

/// A principle's old and new position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct Move {
    pub from: Position,
    pub to: Position,
}

/// A tier's or example's old and new 1-based position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct Reorder {
    pub from: usize,
    pub to: usize,
}

/// A change to a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TierChange {
    /// A tier only the new version has, at its 1-based `position`.
    Added {
        id: String,
        name: String,
        position: usize,
    },
    /// A tier only the old version has, at its old 1-based `position`.
    Removed {
        id: String,
        name: String,
        position: usize,
    },
    /// A tier in both versions whose priority, name or description changed.
    Changed {
        id: String,
        /// The new name.
        name: String,
        /// The new 1-based position.
        position: usize,
        /// Set when the tier's priority relative to the other tiers changed.
        reordered: Option<Reorder>,
        /// `name` (a renamed tier) and `description`, where changed.
        fields: Vec<FieldChange>,
    },
}

/// A change to a principle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrincipleChange {
    /// A principle only the new version has.
    Added { principle: Principle, at: Position },
    /// A principle only the old version has, and where it was.
    Removed { principle: Principle, at: Position },
    /// A principle in both versions that was renamed, moved or edited.
    Changed {
        /// The new id.
        id: String,
        /// The new title.
        title: String,
        /// The new position.
        at: Position,
        /// The old id, when the id changed.
        renamed_from: Option<String>,
        /// Set when the principle changed tier or priority relative to the others.
        moved: Option<Move>,
        /// The fields whose values changed, in file order.
        fields: Vec<FieldChange>,
    },
}

/// A change to a few-shot example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExampleChange {
    /// An example only the new version has, at its 1-based `position`.
    Added { position: usize, example: Example },
    /// An example only the old version has, at its old 1-based `position`.
    Removed { position: usize, example: Example },
    /// An example in both versions that was reordered or edited.
    Changed {
        /// The new 1-based position.
        position: usize,
        reordered: Option<Reorder>,
        /// `principle`, `prompt`, `response`, `critique` and `revision`, where changed.
        fields: Vec<FieldChange>,
    },
}

/// Compares two versions of a constitution.
pub fn diff(old: &Constitution, new: &Constitution) -> ConstitutionDiff {
    let metadata = metadata_changes(old, new);
    let mut tier_pairing = Pairing::new(old.tiers.len(), new.tiers.len());
    tier_pairing.pair_by_key(
        old.tiers.iter().map(|tier| tier.id.as_str()),
        new.tiers.iter().map(|tier| tier.id.as_str()),
    );
    let tiers = tier_changes(&old.tiers, &new.tiers, &tier_pairing);
    let principles = principle_changes(old, new, &tier_pairing);
    let examples = example_changes(&old.examples, &new.examples);
    let summary = DiffSummary::count(&metadata, &tiers, &principles, &examples);
    ConstitutionDiff {
        summary,
        metadata,
        tiers,
        principles,
        examples,
    }
}

impl DiffSummary {
    fn count(
        metadata: &[FieldChange],
        tiers: &[TierChange],
        principles: &[PrincipleChange],
        examples: &[ExampleChange],
    ) -> Self {
        let mut summary = Self {
            tiers_changed: tiers.len(),
            examples_changed: examples.len(),
            metadata_changed: metadata.len(),
            ..Self::default()
        };
        for change in principles {
            match change {
                PrincipleChange::Added { .. } => summary.added += 1,
                PrincipleChange::Removed { .. } => summary.removed += 1,
                PrincipleChange::Changed {
                    renamed_from,
                    moved,
                    fields,
                    ..
                } => {
                    summary.renamed += usize::from(renamed_from.is_some());
                    summary.moved += usize::from(moved.is_some());
                    summary.edited += usize::from(!fields.is_empty());
                }
            }
        }
        summary
    }
}

impl FieldChange {
    fn between(field: &str, old: &str, new: &str) -> Self {
        Self {
            field: field.to_owned(),
            old: old.to_owned(),
            new: new.to_owned(),
            inline: word_diff(old, new),
        }
    }
}

/// Appends a change of `field` when its text differs.
fn compare_text(changes: &mut Vec<FieldChange>, field: &str, old: &str, new: &str) {
    if old != new {
        changes.push(FieldChange::between(field, old, new));
    }
}

/// Appends a change of a list field when the lists differ, showing each as comma-separated text.
fn compare_list(changes: &mut Vec<FieldChange>, field: &str, old: &[String], new: &[String]) {
    if old != new {
        changes.push(FieldChange::between(
            field,
            &old.join(", "),
            &new.join(", "),
        ));
    }
}

fn metadata_changes(old: &Constitution, new: &Constitution) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    compare_text(
        &mut changes,
        "format",
        &old.format.to_string(),
        &new.format.to_string(),
    );
    compare_text(&mut changes, "name", &old.name, &new.name);
    compare_text(
        &mut changes,
        "description",
        &old.description,
        &new.description,
    );
    compare_list(&mut changes, "authors", &old.authors, &new.authors);
    if old.license != new.license {
        changes.push(FieldChange::between(
            "license",
            old.license.as_deref().unwrap_or_default(),
            new.license.as_deref().unwrap_or_default(),
        ));
    }
    compare_text(
        &mut changes,
        "preview.rounds",
        &old.preview.rounds.to_string(),
        &new.preview.rounds.to_string(),
    );
    compare_text(
        &mut changes,
        "preview.selection",
        selection_name(old.preview.selection),
        selection_name(new.preview.selection),
    );
    compare_text(
        &mut changes,
        "preview.rationales",
        &old.preview.rationales.to_string(),
        &new.preview.rationales.to_string(),
    );
    changes
}

fn selection_name(selection: Selection) -> &'static str {
    match selection {
        Selection::Uniform => "uniform",
        Selection::Weighted => "weighted",
    }
}

fn tier_changes(old: &[Tier], new: &[Tier], pairing: &Pairing) -> Vec<TierChange> {
    let kept = kept_in_order(pairing);
    let mut changes = Vec::new();
    for (n, new_tier) in new.iter().enumerate() {
        let Some((o, old_tier)) = pairing.old_of(n).and_then(|o| Some((o, old.get(o)?))) else {
            changes.push(TierChange::Added {
                id: new_tier.id.clone(),
                name: new_tier.name.clone(),
                position: n + 1,
            });
            continue;
        };
        let reordered = (!kept.get(n).copied().unwrap_or_default()).then_some(Reorder {
            from: o + 1,
            to: n + 1,
        });
        let mut fields = Vec::new();
        compare_text(&mut fields, "name", &old_tier.name, &new_tier.name);
        compare_text(
            &mut fields,
            "description",
            &old_tier.description,
            &new_tier.description,
        );
        if reordered.is_some() || !fields.is_empty() {
            changes.push(TierChange::Changed {
                id: new_tier.id.clone(),
                name: new_tier.name.clone(),
                position: n + 1,
                reordered,
                fields,
            });
        }
    }
    for (o, old_tier) in old.iter().enumerate() {
        if !pairing.is_old_paired(o) {
            changes.push(TierChange::Removed {
                id: old_tier.id.clone(),
                name: old_tier.name.clone(),
                position: o + 1,
            });
        }
    }
    changes
}

/// A principle and where it is, for matching across the whole constitution.
struct Placed<'a> {
    tier_index: usize,
    tier: &'a Tier,
    index: usize,
    principle: &'a Principle,
}

impl Placed<'_> {
    fn position(&self) -> Position {
        Position {
            tier_id: self.tier.id.clone(),
            tier_name: self.tier.name.clone(),
            position: self.index + 1,
        }
    }
}

fn placed(constitution: &Constitution) -> Vec<Placed<'_>> {
    constitution
        .tiers
        .iter()
        .enumerate()
        .flat_map(|(tier_index, tier)| {
            tier.principles
                .iter()
                .enumerate()
                .map(move |(index, principle)| Placed {
                    tier_index,
                    tier,
                    index,
                    principle,
                })
        })
        .collect()
}

/// The text that identifies a principle when its id does not.
fn principle_identity(principle: &Principle) -> String {
    [
        principle.title.as_str(),
        &principle.statement,
        &principle.critique_request,
        &principle.revision_request,
    ]
    .join("\n")
}

fn principle_changes(
    old: &Constitution,
    new: &Constitution,
    tier_pairing: &Pairing,
) -> Vec<PrincipleChange> {
    let old_placed = placed(old);
    let new_placed = placed(new);
    let mut pairing = Pairing::new(old_placed.len(), new_placed.len());
    pairing.pair_by_key(
        old_placed.iter().map(|p| p.principle.id.as_str()),
        new_placed.iter().map(|p| p.principle.id.as_str()),
    );
    pairing.pair_by_text(
        |o| old_placed.get(o).map(|p| principle_identity(p.principle)),
        |n| new_placed.get(n).map(|p| principle_identity(p.principle)),
    );

    // Per new tier: (new index, old index) of the principles that were in the same tier before.
    let mut stayed_by_tier: Vec<Vec<(usize, usize)>> = vec![Vec::new(); new.tiers.len()];
    for (n, new_p) in new_placed.iter().enumerate() {
        let Some((o, old_p)) = pairing
            .old_of(n)
            .and_then(|o| Some((o, old_placed.get(o)?)))
        else {
            continue;
        };
        if tier_pairing.old_of(new_p.tier_index) == Some(old_p.tier_index)
            && let Some(group) = stayed_by_tier.get_mut(new_p.tier_index)
        {
            group.push((n, o));
        }
    }
    let mut kept = vec![false; new_placed.len()];
    for group in &stayed_by_tier {
        let old_order: Vec<usize> = group.iter().map(|&(_, o)| o).collect();
        for (&(n, _), on_sequence) in group.iter().zip(longest_increasing(&old_order)) {
            if let Some(slot) = kept.get_mut(n) {
                *slot = on_sequence;
            }
        }
    }

    let mut changes = Vec::new();
    for (n, new_p) in new_placed.iter().enumerate() {
        let at = new_p.position();
        let Some(old_p) = pairing.old_of(n).and_then(|o| old_placed.get(o)) else {
            changes.push(PrincipleChange::Added {
                principle: new_p.principle.clone(),
                at,
            });
            continue;
        };
        let renamed_from =
            (old_p.principle.id != new_p.principle.id).then(|| old_p.principle.id.clone());
        let moved = (!kept.get(n).copied().unwrap_or_default()).then(|| Move {
            from: old_p.position(),
            to: at.clone(),
        });
        let fields = principle_fields(old_p.principle, new_p.principle);
        if renamed_from.is_some() || moved.is_some() || !fields.is_empty() {
            changes.push(PrincipleChange::Changed {
                id: new_p.principle.id.clone(),
                title: new_p.principle.title.clone(),
                at,
                renamed_from,
                moved,
                fields,
            });
        }
    }
    for (o, old_p) in old_placed.iter().enumerate() {
        if !pairing.is_old_paired(o) {
            changes.push(PrincipleChange::Removed {
                principle: old_p.principle.clone(),
                at: old_p.position(),
            });
        }
    }
    changes
}

fn principle_fields(old: &Principle, new: &Principle) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    compare_text(&mut fields, "title", &old.title, &new.title);
    compare_text(&mut fields, "statement", &old.statement, &new.statement);
    compare_text(&mut fields, "rationale", &old.rationale, &new.rationale);
    compare_text(
        &mut fields,
        "critique_request",
        &old.critique_request,
        &new.critique_request,
    );
    compare_text(
        &mut fields,
        "revision_request",
        &old.revision_request,
        &new.revision_request,
    );
    compare_text(
        &mut fields,
        "comparison_question",
        &old.comparison_question,
        &new.comparison_question,
    );
    compare_list(&mut fields, "tags", &old.tags, &new.tags);
    if old.enabled != new.enabled {
        fields.push(FieldChange::between(
            "enabled",
            &old.enabled.to_string(),
            &new.enabled.to_string(),
        ));
    }
    if old.weight.to_bits() != new.weight.to_bits() {
        fields.push(FieldChange::between(
            "weight",
            &old.weight.to_string(),
            &new.weight.to_string(),
        ));
    }
    fields
}

fn example_identity(example: &Example) -> String {
    [
        example.prompt.as_str(),
        &example.response,
        &example.critique,
        &example.revision,
    ]
    .join("\n")
}

fn example_changes(old: &[Example], new: &[Example]) -> Vec<ExampleChange> {
    let mut pairing = Pairing::new(old.len(), new.len());
    pairing.pair_by_key(
        old.iter().map(|e| e.prompt.as_str()),
        new.iter().map(|e| e.prompt.as_str()),
    );
    pairing.pair_by_text(
        |o| old.get(o).map(example_identity),
        |n| new.get(n).map(example_identity),
    );
    let kept = kept_in_order(&pairing);
    let mut changes = Vec::new();
    for (n, new_example) in new.iter().enumerate() {
        let Some((o, old_example)) = pairing.old_of(n).and_then(|o| Some((o, old.get(o)?))) else {
            changes.push(ExampleChange::Added {
                position: n + 1,
                example: new_example.clone(),
            });
            continue;
        };
        let reordered = (!kept.get(n).copied().unwrap_or_default()).then_some(Reorder {
            from: o + 1,
            to: n + 1,
        });
        let mut fields = Vec::new();
        if old_example.principle != new_example.principle {
            fields.push(FieldChange::between(
                "principle",
                old_example.principle.as_deref().unwrap_or_default(),
                new_example.principle.as_deref().unwrap_or_default(),
            ));
        }
        compare_text(
            &mut fields,
            "prompt",
            &old_example.prompt,
            &new_example.prompt,
        );
        compare_text(
            &mut fields,
            "response",
            &old_example.response,
            &new_example.response,
        );
        compare_text(
            &mut fields,
            "critique",
            &old_example.critique,
            &new_example.critique,
        );
        compare_text(
            &mut fields,
            "revision",
            &old_example.revision,
            &new_example.revision,
        );
        if reordered.is_some() || !fields.is_empty() {
            changes.push(ExampleChange::Changed {
                position: n + 1,
                reordered,
                fields,
            });
        }
    }
    for (o, old_example) in old.iter().enumerate() {
        if !pairing.is_old_paired(o) {
            changes.push(ExampleChange::Removed {
                position: o + 1,
                example: old_example.clone(),
            });
        }
    }
    changes
}

/// Which old item each new item continues, and the reverse; each item is in at most one pair.
struct Pairing {
    old_of_new: Vec<Option<usize>>,
    new_of_old: Vec<Option<usize>>,
}

impl Pairing {
    fn new(old_len: usize, new_len: usize) -> Self {
        Self {
            old_of_new: vec![None; new_len],
            new_of_old: vec![None; old_len],
        }
    }

    fn old_of(&self, new: usize) -> Option<usize> {
        self.old_of_new.get(new).copied().flatten()
    }

    fn is_old_paired(&self, old: usize) -> bool {
        self.new_of_old.get(old).is_some_and(Option::is_some)
    }

    fn is_new_paired(&self, new: usize) -> bool {
        self.old_of(new).is_some()
    }

    /// Pairs `old` with `new` if both exist and neither is paired yet.
    fn pair(&mut self, old: usize, new: usize) {
        if let (Some(old_slot @ None), Some(new_slot @ None)) =
            (self.new_of_old.get_mut(old), self.old_of_new.get_mut(new))
        {
            *old_slot = Some(new);
            *new_slot = Some(old);
        }
    }

    fn unpaired_old(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.new_of_old.len()).filter(|&o| !self.is_old_paired(o))
    }

    fn unpaired_new(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.old_of_new.len()).filter(|&n| !self.is_new_paired(n))
    }

    /// Pairs unpaired items with equal keys, the first old with the first new.
    fn pair_by_key<'a>(
        &mut self,
        old_keys: impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator,
        new_keys: impl Iterator<Item = &'a str>,
    ) {
        let mut waiting: HashMap<&str, Vec<usize>> = HashMap::new();
        for (o, key) in old_keys.enumerate().rev() {
            if !self.is_old_paired(o) {
                waiting.entry(key).or_default().push(o);
            }
        }
        for (n, key) in new_keys.enumerate() {
            if self.is_new_paired(n) {
                continue;
            }
            if let Some(o) = waiting.get_mut(key).and_then(Vec::pop) {
                self.pair(o, n);
            }
        }
    }

    /// Pairs unpaired items by the text `old_text` and `new_text` give for each: identical texts
    /// first, then the most similar pairs at or above [`SIMILARITY_THRESHOLD`], best first.
    fn pair_by_text(
        &mut self,
        old_text: impl Fn(usize) -> Option<String>,
        new_text: impl Fn(usize) -> Option<String>,
    ) {
        let old: Vec<(usize, String)> = self
            .unpaired_old()
            .filter_map(|o| Some((o, old_text(o)?)))
            .collect();
        let new: Vec<(usize, String)> = self
            .unpaired_new()
            .filter_map(|n| Some((n, new_text(n)?)))
            .collect();
        if old.is_empty() || new.is_empty() {
            return;
        }

        let mut waiting: HashMap<&str, Vec<usize>> = HashMap::new();
        for (o, text) in old.iter().rev() {
            waiting.entry(text.as_str()).or_default().push(*o);
        }
        for (n, text) in &new {
            if let Some(o) = waiting.get_mut(text.as_str()).and_then(Vec::pop) {
                self.pair(o, *n);
            }
        }

        let old: Vec<&(usize, String)> = old
            .iter()
            .filter(|(o, _)| !self.is_old_paired(*o))
            .collect();
        let new: Vec<&(usize, String)> = new
            .iter()
            .filter(|(n, _)| !self.is_new_paired(*n))
            .collect();
        if old.is_empty()
            || new.is_empty()
            || old.len().saturating_mul(new.len()) > MAX_SIMILARITY_PAIRS
        {
            return;
        }
        let mut vocabulary = Vocabulary::default();
        let old: Vec<(usize, Words)> = old
            .into_iter()
            .map(|(o, text)| (*o, vocabulary.words(text)))
            .collect();
        let new: Vec<(usize, Words)> = new
            .into_iter()
            .map(|(n, text)| (*n, vocabulary.words(text)))
            .collect();
        // Best pairs first. A candidate's similarity starts as a cheap upper bound and is only
        // computed exactly when the bound comes out on top while both sides are still unpaired.
        let mut candidates = BinaryHeap::new();
        for (i, (_, old_words)) in old.iter().enumerate() {
            for (j, (_, new_words)) in new.iter().enumerate() {
                if let Some(bound) = old_words.similarity_bound(new_words) {
                    candidates.push(Candidate {
                        similarity: bound,
                        exact: false,
                        old: i,
                        new: j,
                    });
                }
            }
        }
        let mut unpaired = old.len().min(new.len());
        while unpaired > 0
            && let Some(candidate) = candidates.pop()
        {
            let (Some((o, old_words)), Some((n, new_words))) =
                (old.get(candidate.old), new.get(candidate.new))
            else {
                continue;
            };
            if self.is_old_paired(*o) || self.is_new_paired(*n) {
                continue;
            }
            if candidate.exact {
                self.pair(*o, *n);
                unpaired -= 1;
            } else if let Some(similarity) = old_words.similarity(new_words) {
                candidates.push(Candidate {
                    similarity,
                    exact: true,
                    ..candidate
                });
            }
        }
    }
}

/// A possible pair of leftovers, by their indices among the leftovers, and their similarity:
/// exact, or an upper bound. Ordered best first: higher similarity, exact before bound at equal
/// similarity, then earlier items.
struct Candidate {
    similarity: f32,
    exact: bool,
    old: usize,
    new: usize,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.similarity
            .total_cmp(&other.similarity)
            .then(self.exact.cmp(&other.exact))
            .then(other.old.cmp(&self.old))
            .then(other.new.cmp(&self.new))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// Numbers words, so that texts compare as sequences of numbers.
#[derive(Default)]
struct Vocabulary<'a> {
    numbers: HashMap<&'a str, usize>,
}

impl<'a> Vocabulary<'a> {
    fn words(&mut self, text: &'a str) -> Words {
        let sequence: Vec<usize> = text
            .split_whitespace()
            .map(|word| {
                let next = self.numbers.len();
                *self.numbers.entry(word).or_insert(next)
            })
            .collect();
        let mut bag = sequence.clone();
        bag.sort_unstable();
        Words { sequence, bag }
    }
}

/// A text's words as numbered by a [`Vocabulary`], in order and sorted.
struct Words {
    sequence: Vec<usize>,
    bag: Vec<usize>,
}

impl Words {
    /// An upper bound of [`Words::similarity`] from the words shared in any order, if it
    /// reaches [`SIMILARITY_THRESHOLD`].
    fn similarity_bound(&self, other: &Words) -> Option<f32> {
        let shorter = self.sequence.len().min(other.sequence.len());
        self.ratio(other, shorter)?;
        self.ratio(other, common_count(&self.bag, &other.bag))
    }

    /// The similarity of two texts, 0 to 1, if it reaches [`SIMILARITY_THRESHOLD`]: twice the
    /// number of words on a common subsequence over the number of words in both.
    fn similarity(&self, other: &Words) -> Option<f32> {
        let ops = similar::capture_diff_slices(Algorithm::Myers, &self.sequence, &other.sequence);
        let matches = ops
            .iter()
            .map(|op| match op {
                DiffOp::Equal { len, .. } => *len,
                _ => 0,
            })
            .sum();
        self.ratio(other, matches)
    }

    /// Twice `matches` over the number of words in both texts, if it reaches
    /// [`SIMILARITY_THRESHOLD`]; two empty texts are alike.
    fn ratio(&self, other: &Words, matches: usize) -> Option<f32> {
        let total = self.sequence.len() + other.sequence.len();
        let ratio = if total == 0 {
            1.0
        } else {
            (2 * matches) as f32 / total as f32
        };
        (ratio >= SIMILARITY_THRESHOLD).then_some(ratio)
    }
}

/// How many elements two sorted sequences share, counting repeats.
fn common_count(a: &[usize], b: &[usize]) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                count += 1;
                i += 1;
                j += 1;
            }
        }
    }
    count
}

/// For each new item: whether it is paired and keeps its order relative to the other paired
/// items, i.e. lies on a longest common subsequence of the old and new order.
fn kept_in_order(pairing: &Pairing) -> Vec<bool> {
    let paired: Vec<(usize, usize)> = pairing
        .old_of_new
        .iter()
        .enumerate()
        .filter_map(|(n, o)| Some((n, (*o)?)))
        .collect();
    let old_order: Vec<usize> = paired.iter().map(|&(_, o)| o).collect();
    let mut kept = vec![false; pairing.old_of_new.len()];
    for (&(n, _), on_sequence) in paired.iter().zip(longest_increasing(&old_order)) {
        if let Some(slot) = kept.get_mut(n) {
            *slot = on_sequence;
        }
    }
    kept
}

/// Marks the elements of one longest strictly increasing subsequence of `values`. Among equally
/// long ones it keeps the earliest-ending elements, so when two items swap, the one that moved
/// up is the one left off.
fn longest_increasing(values: &[usize]) -> Vec<bool> {
    // `tails[k]`: index of the smallest last value of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let length = tails.partition_point(|&t| values.get(t).is_some_and(|v| v < value));
        previous.push(length.checked_sub(1).and_then(|k| tails.get(k)).copied());
        match tails.get_mut(length) {
            Some(tail) => *tail = i,
            None => tails.push(i),
        }
    }
    let mut on_sequence = vec![false; values.len()];
    let mut cursor = tails.last().copied();
    while let Some(i) = cursor {
        if let Some(slot) = on_sequence.get_mut(i) {
            *slot = true;
        }
        cursor = previous.get(i).copied().flatten();
    }
    on_sequence
}

/// A word-level diff of two texts, with runs of one kind merged. Where whitespace is all that
/// separates changed words, the changed words and that whitespace form one deletion and one
/// insertion, so `the quick` -> `a slow` reads as one replacement.
fn word_diff(old: &str, new: &str) -> Vec<InlineSpan> {
    let diff = TextDiff::configure().diff_unicode_words(old, new);
    let mut tokens: Vec<InlineSpan> = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => SpanKind::Equal,
            ChangeTag::Delete => SpanKind::Delete,
            ChangeTag::Insert => SpanKind::Insert,
        };
        push_span(&mut tokens, kind, change.value());
    }
    join_replacements(tokens)
}

/// Appends text to the last span if it is of the same kind, else as a new span.
fn push_span(spans: &mut Vec<InlineSpan>, kind: SpanKind, text: &str) {
    if text.is_empty() {
        return;
    }
    match spans.last_mut() {
        Some(last) if last.kind == kind => last.text.push_str(text),
        _ => spans.push(InlineSpan {
            kind,
            text: text.to_owned(),
        }),
    }
}

/// Joins runs of changes separated only by whitespace into one deletion and one insertion,
/// where the run both deletes and inserts words.
fn join_replacements(spans: Vec<InlineSpan>) -> Vec<InlineSpan> {
    let mut joined = Vec::with_capacity(spans.len());
    let mut run: Vec<InlineSpan> = Vec::new();
    let mut spans = spans.into_iter().peekable();
    while let Some(span) = spans.next() {
        let is_change = span.kind != SpanKind::Equal;
        let is_gap = !is_change
            && !run.is_empty()
            && span.text.chars().all(char::is_whitespace)
            && spans
                .peek()
                .is_some_and(|next| next.kind != SpanKind::Equal);
        if is_change || is_gap {
            run.push(span);
        } else {
            flush_run(&mut joined, std::mem::take(&mut run));
            push_span(&mut joined, span.kind, &span.text);
        }
    }
    flush_run(&mut joined, run);
    joined
}

fn flush_run(joined: &mut Vec<InlineSpan>, run: Vec<InlineSpan>) {
    let deletes = run.iter().any(|span| span.kind == SpanKind::Delete);
    let inserts = run.iter().any(|span| span.kind == SpanKind::Insert);
    let has_gap = run.iter().any(|span| span.kind == SpanKind::Equal);
    if deletes && inserts && has_gap {
        let mut deleted = String::new();
        let mut inserted = String::new();
        for span in &run {
            if span.kind != SpanKind::Insert {
                deleted.push_str(&span.text);
            }
            if span.kind != SpanKind::Delete {
                inserted.push_str(&span.text);
            }
        }
        push_span(joined, SpanKind::Delete, &deleted);
        push_span(joined, SpanKind::Insert, &inserted);
    } else {
        for span in run {
            push_span(joined, span.kind, &span.text);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Terminal rendering

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED_STRUCK: &str = "\x1b[9;31m";
const GREEN_UNDERLINED: &str = "\x1b[4;32m";
const RESET: &str = "\x1b[0m";

/// Renders a diff for a terminal: a summary line, then each change, with changed words shown as
/// `[-deleted-]{+inserted+}`, or in red and green when `colour` is set.
pub fn render_text(diff: &ConstitutionDiff, colour: bool) -> String {
    let mut out = Terminal {
        out: String::new(),
        colour,
    };
    out.line(0, &summary_line(&diff.summary));
    if diff.is_empty() {
        return out.out;
    }
    if !diff.metadata.is_empty() {
        out.line(0, "metadata");
        for field in &diff.metadata {
            out.field(1, field);
        }
    }
    if !diff.tiers.is_empty() {
        out.line(0, "tiers");
        for change in &diff.tiers {
            out.tier(change);
        }
    }
    if !diff.principles.is_empty() {
        out.line(0, "principles");
        for change in &diff.principles {
            out.principle(change);
        }
    }
    if !diff.examples.is_empty() {
        out.line(0, "examples");
        for change in &diff.examples {
            out.example(change);
        }
    }
    out.out
}

fn summary_line(summary: &DiffSummary) -> String {
    if *summary == DiffSummary::default() {
        return "no changes".to_owned();
    }
    format!(
        "principles: {} added, {} removed, {} renamed, {} moved, {} edited; tiers: {} changed; \
         examples: {} changed; metadata: {} changed",
        summary.added,
        summary.removed,
        summary.renamed,
        summary.moved,
        summary.edited,
        summary.tiers_changed,
        summary.examples_changed,
        summary.metadata_changed,
    )
}

/// Terminal output under construction.
struct Terminal {
    out: String,
    colour: bool,
}

impl Terminal {
    const INDENT: &'static str = "  ";

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str(Self::INDENT);
        }
    }

    fn line(&mut self, depth: usize, text: &str) {
        self.indent(depth);
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// A line that starts with a `+`, `-` or `~` sign, coloured when colour is on.
    fn signed(&mut self, depth: usize, sign: char, text: &str) {
        self.indent(depth);
        let style = match sign {
            '+' => GREEN,
            '-' => RED,
            _ => YELLOW,
        };
        if self.colour {
            self.out.push_str(style);
            self.out.push(sign);
            self.out.push_str(RESET);
        } else {
            self.out.push(sign);
        }
        self.out.push(' ');
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// `name: value` where the value may span lines, each continued at `depth + 1`.
    fn labelled(&mut self, depth: usize, label: &str, value: &str) {
        self.indent(depth);
        self.out.push_str(label);
        self.out.push_str(": ");
        self.plain(depth + 1, value);
        self.out.push('\n');
    }

    fn field(&mut self, depth: usize, field: &FieldChange) {
        self.indent(depth);
        self.out.push_str(&field.field);
        self.out.push_str(": ");
        for span in &field.inline {
            match span.kind {
                SpanKind::Equal => self.plain(depth + 1, &span.text),
                SpanKind::Delete => self.marked(depth + 1, &span.text, "[-", "-]", RED_STRUCK),
                SpanKind::Insert => {
                    self.marked(depth + 1, &span.text, "{+", "+}", GREEN_UNDERLINED)
                }
            }
        }
        self.out.push('\n');
    }

    /// User text, safe for a terminal, with its lines continued at `depth`.
    fn plain(&mut self, depth: usize, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.out.push('\n');
                self.indent(depth);
            }
            push_terminal_safe(&mut self.out, line);
        }
    }

    /// User text between markers, or styled line by line when colour is on.
    fn marked(&mut self, depth: usize, text: &str, open: &str, close: &str, style: &str) {
        if !self.colour {
            self.out.push_str(open);
            self.plain(depth, text);
            self.out.push_str(close);
            return;
        }
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.out.push('\n');
                self.indent(depth);
            }
            if line.is_empty() {
                continue;
            }
            self.out.push_str(style);
            push_terminal_safe(&mut self.out, line);
            self.out.push_str(RESET);
        }
    }

    fn tier(&mut self, change: &TierChange) {
        match change {
            TierChange::Added { id, name, position } => self.signed(
                1,
                '+',
                &format!("{} ({}) at #{position}", one_line(name), one_line(id)),
            ),
            TierChange::Removed { id, name, position } => self.signed(
                1,
                '-',
                &format!("{} ({}), was #{position}", one_line(name), one_line(id)),
            ),
            TierChange::Changed {
                id,
                name,
                position,
                reordered,
                fields,
            } => {
                self.signed(
                    1,
                    '~',
                    &format!("{} ({}) at #{position}", one_line(name), one_line(id)),
                );
                if let Some(Reorder { from, to }) = reordered {
                    self.line(3, &format!("moved: #{from} -> #{to}"));
                }
                for field in fields {
                    self.field(3, field);
                }
            }
        }
    }

    fn principle(&mut self, change: &PrincipleChange) {
        match change {
            PrincipleChange::Added { principle, at } => {
                self.signed(
                    1,
                    '+',
                    &principle_heading(&principle.title, &principle.id, at),
                );
                self.labelled(3, "statement", &principle.statement);
            }
            PrincipleChange::Removed { principle, at } => {
                let heading = format!(
                    "{} ({}), was {}",
                    one_line(&principle.title),
                    one_line(&principle.id),
                    one_line(&at.to_string())
                );
                self.signed(1, '-', &heading);
            }
            PrincipleChange::Changed {
                id,
                title,
                at,
                renamed_from,
                moved,
                fields,
            } => {
                self.signed(1, '~', &principle_heading(title, id, at));
                if let Some(old_id) = renamed_from {
                    self.line(
                        3,
                        &format!("renamed: {} -> {}", one_line(old_id), one_line(id)),
                    );
                }
                if let Some(Move { from, to }) = moved {
                    self.line(
                        3,
                        &format!(
                            "moved: {} -> {}",
                            one_line(&from.to_string()),
                            one_line(&to.to_string())
                        ),
                    );
                }
                for field in fields {
                    self.field(3, field);
                }
            }
        }
    }

    fn example(&mut self, change: &ExampleChange) {
        match change {
            ExampleChange::Added { position, example } => {
                self.signed(1, '+', &format!("example #{position}"));
                self.labelled(3, "prompt", &example.prompt);
            }
            ExampleChange::Removed { position, example } => {
                self.signed(1, '-', &format!("example, was #{position}"));
                self.labelled(3, "prompt", &example.prompt);
            }
            ExampleChange::Changed {
                position,
                reordered,
                fields,
            } => {
                self.signed(1, '~', &format!("example #{position}"));
                if let Some(Reorder { from, to }) = reordered {
                    self.line(3, &format!("moved: #{from} -> #{to}"));
                }
                for field in fields {
                    self.field(3, field);
                }
            }
        }
    }
}

fn principle_heading(title: &str, id: &str, at: &Position) -> String {
    format!(
        "{} ({}) at {}",
        one_line(title),
        one_line(id),
        one_line(&at.to_string())
    )
}

/// Text for a one-line heading: line breaks become spaces and control characters are escaped.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_terminal_safe(&mut out, &text.replace(['\r', '\n'], " "));
    out
}

/// Appends text with control characters other than tab and line feed escaped, so user text
/// cannot send escape sequences to the terminal.
fn push_terminal_safe(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() && c != '\t' && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown rendering

/// Renders a diff as a Markdown change report for a review thread, comparing the versions named
/// `old_label` and `new_label`. Deleted words are `~~struck~~` and inserted ones `**bold**`; user
/// text is escaped so it cannot change the report's structure.
pub fn render_markdown(diff: &ConstitutionDiff, old_label: &str, new_label: &str) -> String {
    let mut out = String::new();
    out.push_str("# Constitution changes: ");
    push_markdown_line(&mut out, old_label);
    out.push_str(" → ");
    push_markdown_line(&mut out, new_label);
    out.push_str("\n\n");

    let summary = &diff.summary;
    out.push_str("| Change | Count |\n| --- | ---: |\n");
    let rows = [
        ("Principles added", summary.added),
        ("Principles removed", summary.removed),
        ("Principles renamed", summary.renamed),
        ("Principles moved", summary.moved),
        ("Principles edited", summary.edited),
        ("Tiers changed", summary.tiers_changed),
        ("Examples changed", summary.examples_changed),
        ("Metadata fields changed", summary.metadata_changed),
    ];
    for (label, count) in rows {
        out.push_str(&format!("| {label} | {count} |\n"));
    }
    out.push('\n');
    if diff.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }

    if !diff.metadata.is_empty() {
        out.push_str("## Metadata\n\n");
        for field in &diff.metadata {
            push_markdown_field(&mut out, "", field);
        }
        out.push('\n');
    }
    if !diff.tiers.is_empty() {
        out.push_str("## Tiers\n\n");
        for change in &diff.tiers {
            push_markdown_tier(&mut out, change);
        }
        out.push('\n');
    }
    push_principle_sections(&mut out, &diff.principles);
    if !diff.examples.is_empty() {
        out.push_str("## Examples\n\n");
        for change in &diff.examples {
            push_markdown_example(&mut out, change);
        }
        out.push('\n');
    }
    out
}

fn push_markdown_tier(out: &mut String, change: &TierChange) {
    match change {
        TierChange::Added { id, name, position } => {
            out.push_str("- Added ");
            push_emphasis(out, "**", name);
            out.push_str(" (");
            push_markdown_line(out, id);
            out.push_str(&format!(") at \\#{position}\n"));
        }
        TierChange::Removed { id, name, position } => {
            out.push_str("- Removed ");
            push_emphasis(out, "**", name);
            out.push_str(" (");
            push_markdown_line(out, id);
            out.push_str(&format!("), was \\#{position}\n"));
        }
        TierChange::Changed {
            id,
            name,
            reordered,
            fields,
            ..
        } => {
            out.push_str("- Changed ");
            push_emphasis(out, "**", name);
            out.push_str(" (");
            push_markdown_line(out, id);
            out.push_str(")\n");
            if let Some(Reorder { from, to }) = reordered {
                out.push_str(&format!("  - moved: \\#{from} → \\#{to}\n"));
            }
            for field in fields {
                push_markdown_field(out, "  ", field);
            }
        }
    }
}

fn push_principle_sections(out: &mut String, changes: &[PrincipleChange]) {
    let added: Vec<_> = changes
        .iter()
        .filter_map(|change| match change {
            PrincipleChange::Added { principle, at } => Some((principle, at)),
            _ => None,
        })
        .collect();
    let removed: Vec<_> = changes
        .iter()
        .filter_map(|change| match change {
            PrincipleChange::Removed { principle, at } => Some((principle, at)),
            _ => None,
        })
        .collect();
    let changed: Vec<_> = changes
        .iter()
        .filter_map(|change| match change {
            PrincipleChange::Changed {
                id,
                title,
                at,
                renamed_from,
                moved,
                fields,
            } => Some((id, title, at, renamed_from, moved, fields)),
            _ => None,
        })
        .collect();

    if !added.is_empty() {
        out.push_str("## Added principles\n\n");
        for (principle, at) in added {
            push_principle_line(out, &principle.title, &principle.id);
            out.push_str(" at ");
            push_markdown_position(out, at);
            out.push_str(": ");
            push_markdown_line(out, &principle.statement);
            out.push('\n');
        }
        out.push('\n');
    }
    if !removed.is_empty() {
        out.push_str("## Removed principles\n\n");
        for (principle, at) in removed {
            push_principle_line(out, &principle.title, &principle.id);
            out.push_str(", was ");
            push_markdown_position(out, at);
            out.push_str(": ");
            push_markdown_line(out, &principle.statement);
            out.push('\n');
        }
        out.push('\n');
    }
    let renamed: Vec<_> = changed
        .iter()
        .filter_map(|&(id, title, _, old_id, _, _)| Some((id, title, old_id.as_ref()?)))
        .collect();
    if !renamed.is_empty() {
        out.push_str("## Renamed principles\n\n");
        for (id, title, old_id) in renamed {
            out.push_str("- ");
            push_markdown_line(out, old_id);
            out.push_str(" → ");
            push_markdown_line(out, id);
            out.push_str(": ");
            push_emphasis(out, "**", title);
            out.push('\n');
        }
        out.push('\n');
    }
    let moved: Vec<_> = changed
        .iter()
        .filter_map(|&(id, title, _, _, moved, _)| Some((id, title, moved.as_ref()?)))
        .collect();
    if !moved.is_empty() {
        out.push_str("## Moved principles\n\n");
        for (id, title, Move { from, to }) in moved {
            push_principle_line(out, title, id);
            out.push_str(": ");
            push_markdown_position(out, from);
            out.push_str(" → ");
            push_markdown_position(out, to);
            out.push('\n');
        }
        out.push('\n');
    }
    let edited: Vec<_> = changed
        .iter()
        .filter(|(.., fields)| !fields.is_empty())
        .collect();
    if !edited.is_empty() {
        out.push_str("## Edited principles\n\n");
        for (id, title, at, _, _, fields) in edited {
            out.push_str("### ");
            push_markdown_line(out, title);
            out.push_str(" (");
            push_markdown_line(out, id);
            out.push_str("), ");
            push_markdown_position(out, at);
            out.push_str("\n\n");
            for field in fields.iter() {
                push_markdown_field(out, "", field);
            }
            out.push('\n');
        }
    }
}

fn push_markdown_example(out: &mut String, change: &ExampleChange) {
    match change {
        ExampleChange::Added { position, example } => {
            out.push_str(&format!("- Added example \\#{position}: "));
            push_markdown_line(out, &example.prompt);
            out.push('\n');
        }
        ExampleChange::Removed { position, example } => {
            out.push_str(&format!("- Removed example, was \\#{position}: "));
            push_markdown_line(out, &example.prompt);
            out.push('\n');
        }
        ExampleChange::Changed {
            position,
            reordered,
            fields,
        } => {
            out.push_str(&format!("- Changed example \\#{position}\n"));
            if let Some(Reorder { from, to }) = reordered {
                out.push_str(&format!("  - moved: \\#{from} → \\#{to}\n"));
            }
            for field in fields {
                push_markdown_field(out, "  ", field);
            }
        }
    }
}

/// `- **Title** (id)`.
fn push_principle_line(out: &mut String, title: &str, id: &str) {
    out.push_str("- ");
    push_emphasis(out, "**", title);
    out.push_str(" (");
    push_markdown_line(out, id);
    out.push(')');
}

/// `Safety #2`.
fn push_markdown_position(out: &mut String, position: &Position) {
    push_markdown_line(out, &position.tier_name);
    out.push_str(&format!(" \\#{}", position.position));
}

/// A list item `- field: ...` with the word diff of the field.
fn push_markdown_field(out: &mut String, indent: &str, field: &FieldChange) {
    out.push_str(indent);
    out.push_str("- ");
    push_markdown_line(out, &field.field);
    out.push_str(": ");
    for span in &field.inline {
        match span.kind {
            SpanKind::Equal => push_markdown_line(out, &span.text),
            SpanKind::Delete => push_emphasis(out, "~~", &span.text),
            SpanKind::Insert => push_emphasis(out, "**", &span.text),
        }
    }
    out.push('\n');
}

/// Text between emphasis markers, with its surrounding whitespace kept outside them so the
/// markers take effect. Text that is all whitespace is shown with visible symbols.
fn push_emphasis(out: &mut String, marker: &str, text: &str) {
    let core = text.trim();
    if core.is_empty() {
        out.push_str(marker);
        for c in text.chars() {
            out.push(if c == '\n' { '↵' } else { '␣' });
        }
        out.push_str(marker);
        return;
    }
    let leading = text.len() - text.trim_start().len();
    let trailing = text.len() - text.trim_end().len();
    push_markdown_line(out, text.get(..leading).unwrap_or_default());
    out.push_str(marker);
    push_markdown_line(out, core);
    out.push_str(marker);
    push_markdown_line(out, text.get(text.len() - trailing..).unwrap_or_default());
}

/// Appends user text as Markdown that renders as the text itself on one line: ASCII
/// punctuation that can mean something in Markdown (including GitHub's mentions, emoji and math)
/// is escaped, and line breaks become `<br>`.
fn push_markdown_line(out: &mut String, text: &str) {
    const INERT: &[char] = &[',', ';', '?', '\'', '"', '/', '%'];
    for c in text.chars() {
        match c {
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c if c.is_ascii_punctuation() && !INERT.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unified patch

/// A unified diff, with 3 lines of context, of two files' text named `old_name` and `new_name`
/// in its header; empty when the texts are equal.
pub fn unified_patch(old_text: &str, new_text: &str, old_name: &str, new_name: &str) -> String {
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(old_text, new_text);
    diff.unified_diff()
        .context_radius(3)
        .header(&one_line(old_name), &one_line(new_name))
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use super::*;
    use crate::constitution::{PreviewDefaults, parse_toml};

    const WEAPONS: &str = "Never help anyone build weapons that can kill many people.";
    const MALWARE: &str = "Refuse to write malware or explain how to break into computer systems.";
    const SELF_HARM: &str = "Do not encourage self harm and point people to support when needed.";
    const HONESTY: &str = "Be honest about uncertainty and never invent facts or sources.";
    const PRIVACY: &str = "Respect privacy and do not reveal personal data about private people.";

    fn principle(id: &str, text: &str) -> Principle {
        Principle {
            id: id.to_owned(),
            title: text.split(' ').take(4).collect::<Vec<_>>().join(" "),
            statement: text.to_owned(),
            rationale: String::new(),
            critique_request: format!("Point out where the response fails this: {text}"),
            revision_request: format!("Rewrite the response so that it follows this: {text}"),
            comparison_question: format!("Which response better follows this: {text}"),
            tags: Vec::new(),
            enabled: true,
            weight: 1.0,
        }
    }

    fn tier(id: &str, name: &str, principles: Vec<Principle>) -> Tier {
        Tier {
            id: id.to_owned(),
            name: name.to_owned(),
            description: String::new(),
            principles,
        }
    }

    fn example(prompt: &str) -> Example {
        Example {
            principle: None,
            prompt: prompt.to_owned(),
            response: format!("A first answer to: {prompt}"),
            critique: "The answer is careless.".to_owned(),
            revision: "A careful answer.".to_owned(),
        }
    }

    /// Safety: weapons, malware, self-harm; Ethics: honesty, privacy.
    fn sample() -> Constitution {
        Constitution {
            format: 1,
            name: "Sample".to_owned(),
            description: String::new(),
            authors: Vec::new(),
            license: None,
            preview: PreviewDefaults::default(),
            tiers: vec![
                tier(
                    "safety",
                    "Safety",
                    vec![
                        principle("weapons", WEAPONS),
                        principle("malware", MALWARE),
                        principle("self-harm", SELF_HARM),
                    ],
                ),
                tier(
                    "ethics",
                    "Ethics",
                    vec![principle("honesty", HONESTY), principle("privacy", PRIVACY)],
                ),
            ],
            examples: vec![example("How do I pick a lock?")],
        }
    }

    fn position(tier_id: &str, tier_name: &str, position: usize) -> Position {
        Position {
            tier_id: tier_id.to_owned(),
            tier_name: tier_name.to_owned(),
            position,
        }
    }

    fn only_change(diff: &ConstitutionDiff) -> &PrincipleChange {
        assert_eq!(diff.principles.len(), 1, "{:#?}", diff.principles);
        &diff.principles[0]
    }

    fn changed_fields(change: &PrincipleChange) -> &[FieldChange] {
        match change {
            PrincipleChange::Changed { fields, .. } => fields,
            other => panic!("expected a changed principle, got {other:?}"),
        }
    }

    fn spell(spans: &[InlineSpan], skip: SpanKind) -> String {
        spans
            .iter()
            .filter(|span| span.kind != skip)
            .map(|span| span.text.as_str())
            .collect()
    }

    #[test]
    fn identical_constitutions_have_an_empty_diff() {
        let diff = diff(&sample(), &sample());
        assert!(diff.is_empty(), "{diff:#?}");
        assert_eq!(diff.summary, DiffSummary::default());
        assert_eq!(render_text(&diff, false), "no changes\n");
        assert!(render_markdown(&diff, "a", "b").contains("No changes."));
    }

    #[test]
    fn a_word_edit_is_an_inline_deletion_and_insertion_of_that_word() {
        let mut new = sample();
        new.tiers[0].principles[1].statement = MALWARE.replace("write", "produce");
        let diff = diff(&sample(), &new);
        let fields = changed_fields(only_change(&diff));
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].field, "statement");
        let changed: Vec<_> = fields[0]
            .inline
            .iter()
            .filter(|span| span.kind != SpanKind::Equal)
            .map(|span| (span.kind, span.text.as_str()))
            .collect();
        assert_eq!(
            changed,
            [(SpanKind::Delete, "write"), (SpanKind::Insert, "produce")]
        );
        assert_eq!(spell(&fields[0].inline, SpanKind::Insert), fields[0].old);
        assert_eq!(spell(&fields[0].inline, SpanKind::Delete), fields[0].new);
        assert_eq!(diff.summary.edited, 1);
        assert_eq!(diff.summary.moved, 0);
    }

    #[test]
    fn words_replaced_side_by_side_read_as_one_replacement() {
        let spans = word_diff("the quick brown fox", "a slow brown fox");
        let expected = [
            (SpanKind::Delete, "the quick"),
            (SpanKind::Insert, "a slow"),
            (SpanKind::Equal, " brown fox"),
        ];
        let spans: Vec<_> = spans.iter().map(|s| (s.kind, s.text.as_str())).collect();
        assert_eq!(spans, expected);

        let inserted = word_diff("do not help", "do not ever help");
        assert_eq!(spell(&inserted, SpanKind::Insert), "do not help");
        assert!(inserted.iter().all(|span| span.kind != SpanKind::Delete));
    }

    #[test]
    fn inserting_at_the_top_of_a_tier_adds_one_and_moves_nothing() {
        let mut new = sample();
        let added = principle(
            "new-first",
            "Always ask before running any command that deletes files.",
        );
        new.tiers[0].principles.insert(0, added.clone());
        let diff = diff(&sample(), &new);
        assert_eq!(
            only_change(&diff),
            &PrincipleChange::Added {
                principle: added,
                at: position("safety", "Safety", 1)
            }
        );
        assert_eq!(diff.summary.added, 1);
        assert_eq!(diff.summary.moved, 0);
    }

    #[test]
    fn swapping_two_principles_moves_exactly_one() {
        let mut new = sample();
        new.tiers[0].principles.swap(0, 1);
        let diff = diff(&sample(), &new);
        match only_change(&diff) {
            PrincipleChange::Changed {
                id,
                moved: Some(moved),
                fields,
                renamed_from: None,
                ..
            } => {
                assert_eq!(id, "malware");
                assert_eq!(moved.from, position("safety", "Safety", 2));
                assert_eq!(moved.to, position("safety", "Safety", 1));
                assert!(fields.is_empty());
            }
            other => panic!("expected a move, got {other:?}"),
        }
        assert_eq!(diff.summary.moved, 1);
    }

    #[test]
    fn moving_a_principle_to_the_end_of_its_tier_moves_only_it() {
        let mut new = sample();
        let first = new.tiers[0].principles.remove(0);
        new.tiers[0].principles.push(first);
        let diff = diff(&sample(), &new);
        match only_change(&diff) {
            PrincipleChange::Changed {
                id,
                moved: Some(moved),
                ..
            } => {
                assert_eq!(id, "weapons");
                assert_eq!((moved.from.position, moved.to.position), (1, 3));
            }
            other => panic!("expected a move, got {other:?}"),
        }
    }

    #[test]
    fn moving_a_principle_to_another_tier_names_both_tiers() {
        let mut new = sample();
        let moved = new.tiers[0].principles.remove(2);
        new.tiers[1].principles.insert(0, moved);
        let diff = diff(&sample(), &new);
        match only_change(&diff) {
            PrincipleChange::Changed {
                id,
                moved: Some(moved),
                ..
            } => {
                assert_eq!(id, "self-harm");
                assert_eq!(moved.from, position("safety", "Safety", 3));
                assert_eq!(moved.to, position("ethics", "Ethics", 1));
            }
            other => panic!("expected a move, got {other:?}"),
        }
        let text = render_text(&diff, false);
        assert!(text.contains("moved: Safety #3 -> Ethics #1"), "{text}");
        let markdown = render_markdown(&diff, "v1", "v2");
        assert!(
            markdown.contains("## Moved principles") && markdown.contains("Ethics \\#1"),
            "{markdown}"
        );
    }

    #[test]
    fn a_changed_id_with_the_same_text_is_a_rename() {
        let mut new = sample();
        new.tiers[1].principles[1].id = "keep-private".to_owned();
        let diff = diff(&sample(), &new);
        match only_change(&diff) {
            PrincipleChange::Changed {
                id,
                renamed_from,
                moved,
                fields,
                ..
            } => {
                assert_eq!(id, "keep-private");
                assert_eq!(renamed_from.as_deref(), Some("privacy"));
                assert_eq!(moved, &None);
                assert!(fields.is_empty());
            }
            other => panic!("expected a rename, got {other:?}"),
        }
        assert_eq!((diff.summary.renamed, diff.summary.added), (1, 0));
    }

    #[test]
    fn a_changed_id_with_similar_text_is_a_rename_with_edits() {
        let mut new = sample();
        let edited = &mut new.tiers[1].principles[0];
        edited.id = "be-honest".to_owned();
        edited.statement = HONESTY.replace("facts", "quotes");
        new.tiers[1].principles.push(principle(
            "brand-new",
            "Answer in the language the user writes in, unless asked otherwise.",
        ));
        let diff = diff(&sample(), &new);
        assert_eq!(
            (
                diff.summary.renamed,
                diff.summary.edited,
                diff.summary.added,
                diff.summary.removed
            ),
            (1, 1, 1, 0),
            "{diff:#?}"
        );
    }

    #[test]
    fn different_text_under_a_new_id_is_added_and_removed() {
        let mut new = sample();
        new.tiers[1].principles[1] = principle(
            "brand-new",
            "Answer in the language the user writes in, unless asked otherwise.",
        );
        let diff = diff(&sample(), &new);
        assert_eq!(
            (
                diff.summary.added,
                diff.summary.removed,
                diff.summary.renamed
            ),
            (1, 1, 0)
        );
    }

    #[test]
    fn tiers_renamed_and_reordered() {
        let mut new = sample();
        new.tiers.swap(0, 1);
        new.tiers[0].name = "Honesty".to_owned();
        let diff = diff(&sample(), &new);
        assert_eq!(
            diff.tiers,
            [TierChange::Changed {
                id: "ethics".to_owned(),
                name: "Honesty".to_owned(),
                position: 1,
                reordered: Some(Reorder { from: 2, to: 1 }),
                fields: vec![FieldChange::between("name", "Ethics", "Honesty")],
            }]
        );
        assert!(diff.principles.is_empty(), "{:#?}", diff.principles);
        assert_eq!(diff.summary.tiers_changed, 1);
    }

    #[test]
    fn tiers_added_and_removed() {
        let mut new = sample();
        new.tiers[1].id = "morals".to_owned();
        let diff = diff(&sample(), &new);
        assert!(matches!(
            diff.tiers.as_slice(),
            [
                TierChange::Added { id, position: 2, .. },
                TierChange::Removed { position: 2, .. },
            ] if id == "morals"
        ));
        assert_eq!(diff.summary.moved, 2);
    }

    #[test]
    fn examples_added_edited_and_removed() {
        let mut new = sample();
        new.examples.push(example("Write me a poem about rain."));
        let diff = diff(&sample(), &new);
        assert_eq!(
            diff.examples,
            [ExampleChange::Added {
                position: 2,
                example: example("Write me a poem about rain.")
            }]
        );
        assert_eq!(diff.summary.examples_changed, 1);

        let mut edited = sample();
        edited.examples[0].revision = "A careful, kind answer.".to_owned();
        let diff = super::diff(&sample(), &edited);
        assert!(matches!(
            diff.examples.as_slice(),
            [ExampleChange::Changed { position: 1, reordered: None, fields }]
                if fields.len() == 1 && fields[0].field == "revision"
        ));

        let mut removed = sample();
        removed.examples.clear();
        let diff = super::diff(&sample(), &removed);
        assert!(matches!(
            diff.examples.as_slice(),
            [ExampleChange::Removed { position: 1, .. }]
        ));
    }

    #[test]
    fn metadata_and_non_text_fields_are_compared_as_text() {
        let mut new = sample();
        new.name = "Sample two".to_owned();
        new.preview.selection = Selection::Weighted;
        new.preview.rationales = true;
        new.license = Some("MIT".to_owned());
        let edited = &mut new.tiers[0].principles[0];
        edited.tags = vec!["cbrn".to_owned(), "violence".to_owned()];
        edited.enabled = false;
        edited.weight = 2.5;
        let diff = diff(&sample(), &new);
        let metadata: Vec<_> = diff.metadata.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            metadata,
            ["name", "license", "preview.selection", "preview.rationales"]
        );
        let fields: Vec<_> = changed_fields(only_change(&diff))
            .iter()
            .map(|f| (f.field.as_str(), f.old.as_str(), f.new.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("tags", "", "cbrn, violence"),
                ("enabled", "true", "false"),
                ("weight", "1", "2.5"),
            ]
        );
    }

    #[test]
    fn text_rendering_marks_changed_words() {
        let mut new = sample();
        new.tiers[0].principles[1].statement = MALWARE.replace("write", "produce");
        let diff = diff(&sample(), &new);

        let plain = render_text(&diff, false);
        assert!(plain.starts_with("principles: 0 added, 0 removed, 0 renamed, 0 moved, 1 edited"));
        assert!(
            plain.contains("statement: Refuse to [-write-]{+produce+} malware"),
            "{plain}"
        );
        assert!(!plain.contains('\x1b'));

        let coloured = render_text(&diff, true);
        assert!(coloured.contains("\x1b[9;31mwrite\x1b[0m\x1b[4;32mproduce\x1b[0m"));
        assert!(!coloured.contains("[-"));
    }

    #[test]
    fn text_rendering_escapes_control_characters() {
        let mut new = sample();
        new.tiers[0].principles[0].title = "Bold\x1b[1m title".to_owned();
        let text = render_text(&diff(&sample(), &new), false);
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains("\\u{1b}[1m"));
    }

    #[test]
    fn markdown_report_has_summary_sections_and_inline_marks() {
        let mut new = sample();
        new.tiers[0].principles[1].statement = MALWARE.replace("write", "produce");
        new.tiers[1].principles.push(principle(
            "pipes",
            "Use *stars* | pipes <b>bold</b> and [links](x) # carefully\nover lines.",
        ));
        let diff = diff(&sample(), &new);
        let markdown = render_markdown(&diff, "v1 *draft*", "v2");
        assert!(markdown.starts_with("# Constitution changes: v1 \\*draft\\* → v2\n"));
        assert!(markdown.contains("| Principles added | 1 |"));
        assert!(markdown.contains("| Principles edited | 1 |"));
        assert!(markdown.contains("## Added principles"));
        assert!(markdown.contains("## Edited principles"));
        assert!(
            markdown.contains("Refuse to ~~write~~**produce** malware"),
            "{markdown}"
        );
        assert!(
            markdown.contains(
                "Use \\*stars\\* \\| pipes \\<b\\>bold\\</b\\> and \\[links\\]\\(x\\) \\# \
                 carefully<br>over lines\\."
            ),
            "{markdown}"
        );
        assert!(!markdown.contains("<b>"));
    }

    #[test]
    fn markdown_emphasis_keeps_whitespace_outside_the_markers() {
        let mut out = String::new();
        push_emphasis(&mut out, "**", " ever ");
        assert_eq!(out, " **ever** ");
        out.clear();
        push_emphasis(&mut out, "~~", "\n");
        assert_eq!(out, "~~↵~~");
    }

    #[test]
    fn unified_patch_has_hunks_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\n";
        let patch = unified_patch(old, new, "old.toml", "new.toml");
        assert!(
            patch.starts_with("--- old.toml\n+++ new.toml\n@@ "),
            "{patch}"
        );
        assert!(patch.contains("\n-e\n+E\n"), "{patch}");
        assert!(patch.contains("\n+i\n"), "{patch}");
        assert!(patch.contains("\n b\n c\n d\n"), "{patch}");
        assert!(
            !patch.contains("\n a\n"),
            "three lines of context only: {patch}"
        );
        assert_eq!(unified_patch(old, old, "a", "b"), "");
    }

    #[test]
    fn serializes_with_kind_tags() {
        let mut new = sample();
        new.tiers[0].principles.swap(0, 1);
        new.tiers[0].principles[0].statement = MALWARE.replace("write", "produce");
        let json = serde_json::to_value(diff(&sample(), &new)).unwrap_or_default();
        let change = &json["principles"][0];
        assert_eq!(change["kind"], "changed");
        assert_eq!(change["moved"]["to"]["tier_name"], "Safety");
        assert_eq!(change["fields"][0]["inline"][1]["kind"], "delete");
        assert_eq!(json["summary"]["moved"], 1);
    }

    #[test]
    fn sample_constitutions_diff_sensibly() {
        let read = |text: &str| parse_toml(text, Path::new("x.toml"));
        let general = read(include_str!("../constitutions/general-assistant.toml"));
        let cautious = read(include_str!("../constitutions/cautious-assistant.toml"));
        let (Ok(general), Ok(cautious)) = (general, cautious) else {
            panic!("the sample constitutions must parse");
        };
        let diff = diff(&general, &cautious);
        let added: Vec<_> = diff
            .principles
            .iter()
            .filter_map(|change| match change {
                PrincipleChange::Added { principle, .. } => Some(principle.id.as_str()),
                _ => None,
            })
            .collect();
        assert!(added.contains(&"if-in-doubt-decline"), "{added:?}");
        let moved_ids: Vec<_> = diff
            .principles
            .iter()
            .filter_map(|change| match change {
                PrincipleChange::Changed {
                    id, moved: Some(_), ..
                } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            !moved_ids.contains(&"no-mass-casualty-uplift"),
            "{moved_ids:?}"
        );
        assert!(render_text(&diff, true).contains("if-in-doubt-decline"));
        assert!(render_markdown(&diff, "general", "cautious").contains("## Added principles"));
    }

    #[test]
    fn odd_input_never_panics() {
        let mut odd = sample();
        let twin = odd.tiers[0].principles[0].clone();
        odd.tiers[0].principles.push(twin.clone());
        odd.tiers[1].principles.push(twin);
        odd.tiers.push(tier("safety", "Safety again", Vec::new()));
        odd.tiers[1].principles[0].weight = f64::NAN;
        odd.tiers[0].principles[1].statement = String::new();
        odd.examples.push(example("How do I pick a lock?"));
        let empty = Constitution {
            tiers: Vec::new(),
            examples: Vec::new(),
            ..sample()
        };
        for (a, b) in [
            (&odd, &sample()),
            (&sample(), &odd),
            (&odd, &odd),
            (&empty, &odd),
        ] {
            let diff = diff(a, b);
            render_text(&diff, true);
            render_markdown(&diff, "", "\n");
        }
        assert!(diff(&odd, &odd).is_empty());
        assert_eq!(longest_increasing(&[]), Vec::<bool>::new());
        assert_eq!(
            longest_increasing(&[3, 1, 2, 0]),
            [false, true, true, false]
        );
    }

    fn large(principles_per_tier: usize) -> Constitution {
        let tiers = (0..4)
            .map(|t| {
                let principles = (0..principles_per_tier)
                    .map(|p| {
                        principle(
                            &format!("p-{t}-{p}"),
                            &format!(
                                "Principle {p} of tier {t}: weigh the request with care, then \
                                 answer it as well as the rules allow, number {t}{p}."
                            ),
                        )
                    })
                    .collect();
                tier(&format!("t{t}"), &format!("Tier {t}"), principles)
            })
            .collect();
        Constitution { tiers, ..sample() }
    }

    #[test]
    fn thousand_principle_versions_diff_quickly_and_correctly() {
        let old = large(250);
        let mut new = old.clone();
        new.tiers[0].principles.swap(10, 20);
        new.tiers[1].principles[5]
            .statement
            .push_str(" Also be kind.");
        new.tiers[2].principles[7].id = "renamed".to_owned();
        let gone = new.tiers[3].principles.remove(0);
        new.tiers[0].principles.insert(0, gone);
        new.tiers[3].principles.remove(100);
        let started = Instant::now();
        let diff = diff(&old, &new);
        let elapsed = started.elapsed();
        eprintln!("diff of 1,000 principles took {elapsed:?}");
        assert_eq!(
            (
                diff.summary.added,
                diff.summary.removed,
                diff.summary.renamed,
                diff.summary.moved,
                diff.summary.edited
            ),
            (0, 1, 1, 3, 1),
            "{:#?}",
            diff.principles
        );

        let mut reidentified = old.clone();
        for (index, principle) in reidentified.tiers[2].principles.iter_mut().enumerate() {
            principle.id = format!("new-{index}");
        }
        let started = Instant::now();
        let diff = super::diff(&old, &reidentified);
        eprintln!("diff with 250 changed ids took {:?}", started.elapsed());
        assert_eq!(diff.summary.renamed, 250);
        assert_eq!(diff.summary.moved, 0);

        for principle in &mut reidentified.tiers[2].principles {
            principle.statement.push_str(" Mind the details.");
        }
        let started = Instant::now();
        let diff = super::diff(&old, &reidentified);
        eprintln!(
            "diff with 250 changed ids and texts took {:?}",
            started.elapsed()
        );
        assert_eq!((diff.summary.renamed, diff.summary.edited), (250, 250));
        assert_eq!(diff.summary.moved, 0);
    }
}
