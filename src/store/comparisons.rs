//! Compares in the store: a judge's labels of one run's final answers (B) against another's
//! (A), on the prompts both finished. With the two runs they are everything a compare's
//! metrics and report need, so both are rebuilt without the model. Deleting either run deletes
//! its compares.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::runs::to_json;
use super::{Result, Store, StoreError, now_ms, sqlite_error};
use crate::feedback::{FeedbackMode, FeedbackRule, Preference};
use crate::metrics::PairLabel;
use crate::preview::PrincipleChoice;

/// How a judge asked: with the judge constitution's content hash and the model, what decides
/// its labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeSettings {
    pub choice: PrincipleChoice,
    pub mode: FeedbackMode,
    pub rule: FeedbackRule,
    pub seed: u64,
}

/// A compare to record.
#[derive(Debug, Clone)]
pub struct NewComparison<'a> {
    pub run_a: i64,
    pub run_b: i64,
    pub judge_name: &'a str,
    pub judge_hash: &'a str,
    /// `slug@vN` when the judge constitution came from the store.
    pub judge_ref: Option<&'a str>,
    pub settings: &'a JudgeSettings,
    pub model_sha256: &'a str,
    pub device: &'a str,
    pub labels: &'a [PairLabel],
}

/// A recorded compare.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredComparison {
    pub id: i64,
    pub created_ms: i64,
    pub run_a: i64,
    pub run_b: i64,
    pub judge_name: String,
    pub judge_hash: String,
    pub judge_ref: Option<String>,
    pub settings: JudgeSettings,
    pub model_sha256: String,
    pub device: String,
    /// B's final against A's, per prompt id, in A's order.
    pub labels: Vec<PairLabel>,
}

/// A label as stored: a JSON object per prompt, rather than serde's `{"Ok": ...}`.
#[derive(Serialize, Deserialize)]
struct StoredLabel {
    prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preference: Option<Preference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Store {
    /// Records a compare; returns its id.
    pub fn record_comparison(&mut self, comparison: &NewComparison<'_>) -> Result<i64> {
        let labels: Vec<StoredLabel> = comparison
            .labels
            .iter()
            .map(|(prompt, label)| StoredLabel {
                prompt: prompt.clone(),
                preference: label.as_ref().ok().cloned(),
                error: label.as_ref().err().cloned(),
            })
            .collect();
        self.write(|tx, path| {
            tx.execute(
                "INSERT INTO comparisons (created_ms, run_a, run_b, judge_name, judge_hash, \
                 judge_ref, settings, model_sha256, device, labels) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    now_ms(),
                    comparison.run_a,
                    comparison.run_b,
                    comparison.judge_name,
                    comparison.judge_hash,
                    comparison.judge_ref,
                    to_json(comparison.settings),
                    comparison.model_sha256,
                    comparison.device,
                    to_json(&labels),
                ],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The compares of run A against run B, newest first.
    pub fn comparisons(&self, run_a: i64, run_b: i64) -> Result<Vec<StoredComparison>> {
        let _snapshot = self.read_snapshot()?;
        let ids: Vec<i64> = self
            .connection
            .prepare("SELECT id FROM comparisons WHERE run_a = ?1 AND run_b = ?2 ORDER BY id DESC")
            .and_then(|mut statement| {
                statement
                    .query_map([run_a, run_b], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|source| self.error(source))?;
        ids.into_iter().map(|id| self.comparison(id)).collect()
    }

    /// Compare `id`.
    pub fn comparison(&self, id: i64) -> Result<StoredComparison> {
        type Row = (i64, i64, i64, String, String, Option<String>, [String; 4]);
        let row: Option<Row> = self
            .connection
            .query_row(
                "SELECT created_ms, run_a, run_b, judge_name, judge_hash, judge_ref, settings, \
                 model_sha256, device, labels FROM comparisons WHERE id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        [row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?],
                    ))
                },
            )
            .optional()
            .map_err(|source| self.error(source))?;
        let (created_ms, run_a, run_b, judge_name, judge_hash, judge_ref, texts) =
            row.ok_or(StoreError::UnknownComparison(id))?;
        let [settings, model_sha256, device, labels] = texts;
        let corrupt = |what: &str, error: serde_json::Error| StoreError::CorruptRun {
            run: run_b,
            what: format!("compare {id}'s {what}"),
            message: error.to_string(),
        };
        let settings = serde_json::from_str(&settings).map_err(|e| corrupt("settings", e))?;
        let labels: Vec<StoredLabel> =
            serde_json::from_str(&labels).map_err(|e| corrupt("labels", e))?;
        Ok(StoredComparison {
            id,
            created_ms,
            run_a,
            run_b,
            judge_name,
            judge_hash,
            judge_ref,
            settings,
            model_sha256,
            device,
            labels: labels
                .into_iter()
                .map(|label| {
                    let result = match (label.preference, label.error) {
                        (Some(preference), _) => Ok(preference),
                        (None, error) => Err(error.unwrap_or_default()),
                    };
                    (label.prompt, result)
                })
                .collect(),
        })
    }
}
