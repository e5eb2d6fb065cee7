//! Preview runs in the store: each run's configuration, model and constitution, its prompts,
//! and every step of the loop as it completes, so that an interrupted run keeps what finished
//! and can resume.
//!
//! A run records what decides its outputs: the model file's sha256, the constitution (its
//! canonical TOML and content hash, and `slug@vN` when it came from the store), the config
//! with its seed, and the prompts. Steps are written one transaction each, as the engine
//! reports them; a prompt's outcome (the JSONL line) when it ends.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Result, Store, StoreError, content_hash, now_ms, sqlite_error};
use crate::constitution::{self, Constitution};
use crate::preview::{PreviewConfig, PromptOutcome, StepRecord};
use crate::prompt_set::PromptItem;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished: still going, or interrupted (resumable).
    Running,
    Completed,
    Cancelled,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Completed,
            Self::Cancelled,
            Self::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// What a new run records.
pub struct NewRun<'a> {
    pub model_name: &'a str,
    pub model_path: &'a str,
    pub model_sha256: &'a str,
    pub device: &'a str,
    pub constitution: &'a Constitution,
    /// `slug@vN` when the constitution came from the store.
    pub constitution_ref: Option<&'a str>,
    pub config: &'a PreviewConfig,
    pub prompts: &'a [PromptItem],
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub status: RunStatus,
    pub model_name: String,
    pub model_sha256: String,
    pub device: String,
    pub constitution_name: String,
    pub constitution_hash: String,
    pub constitution_ref: Option<String>,
    pub prompts: usize,
    pub prompts_done: usize,
    pub prompts_failed: usize,
}

/// A run with everything needed to show it or resume it.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub summary: RunSummary,
    pub constitution: Constitution,
    pub config: PreviewConfig,
    pub prompts: Vec<PromptItem>,
    /// Per prompt, the completed steps in order.
    pub steps: Vec<Vec<StepRecord>>,
    /// Per prompt, its outcome once it ended.
    pub outcomes: Vec<Option<PromptOutcome>>,
    /// Per prompt, why it failed.
    pub errors: Vec<Option<String>>,
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Store {
    /// Records a new run and its prompts; returns its id.
    pub fn create_run(&mut self, run: &NewRun<'_>) -> Result<i64> {
        let content = constitution::to_toml(run.constitution);
        let hash = content_hash(run.constitution);
        self.write(|tx, path| {
            let sqlite = |source| sqlite_error(path, source);
            tx.execute(
                "INSERT INTO runs (created_ms, status, model_name, model_path, model_sha256, \
                 device, constitution_name, constitution_hash, constitution_ref, constitution, \
                 seed, config) VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    now_ms(),
                    run.model_name,
                    run.model_path,
                    run.model_sha256,
                    run.device,
                    run.constitution.name,
                    hash,
                    run.constitution_ref,
                    content,
                    run.config.seed.cast_signed(),
                    to_json(run.config),
                ],
            )
            .map_err(sqlite)?;
            let id = tx.last_insert_rowid();
            let mut insert = tx
                .prepare("INSERT INTO run_prompts (run_id, idx, item) VALUES (?1, ?2, ?3)")
                .map_err(sqlite)?;
            for (index, item) in run.prompts.iter().enumerate() {
                insert
                    .execute(params![id, index as i64, to_json(item)])
                    .map_err(sqlite)?;
            }
            Ok(id)
        })
    }

    /// Records a completed step.
    pub fn record_step(&mut self, run: i64, step: &StepRecord) -> Result<()> {
        self.write(|tx, path| {
            tx.execute(
                "INSERT OR REPLACE INTO run_steps (run_id, idx, step, kind, principle, text, \
                 record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run,
                    step.prompt as i64,
                    step.step,
                    step.kind.as_str(),
                    step.principle,
                    step.text,
                    to_json(step),
                ],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Records a prompt's outcome.
    pub fn record_outcome(&mut self, run: i64, outcome: &PromptOutcome) -> Result<()> {
        self.write(|tx, path| {
            tx.execute(
                "UPDATE run_prompts SET outcome = ?3, error = NULL WHERE run_id = ?1 AND idx = ?2",
                params![run, outcome.index as i64, to_json(outcome)],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Records why a prompt failed.
    pub fn record_failure(&mut self, run: i64, prompt: usize, error: &str) -> Result<()> {
        self.write(|tx, path| {
            tx.execute(
                "UPDATE run_prompts SET error = ?3 WHERE run_id = ?1 AND idx = ?2",
                params![run, prompt as i64, error],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Sets a run's status; any status but `running` also sets its finish time.
    pub fn set_run_status(&mut self, run: i64, status: RunStatus) -> Result<()> {
        self.write(|tx, path| {
            let finished = (status != RunStatus::Running).then(now_ms);
            let changed = tx
                .execute(
                    "UPDATE runs SET status = ?2, finished_ms = ?3 WHERE id = ?1",
                    params![run, status.as_str(), finished],
                )
                .map_err(|source| sqlite_error(path, source))?;
            if changed == 0 {
                return Err(StoreError::UnknownRun(run));
            }
            Ok(())
        })
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>> {
        let _snapshot = self.read_snapshot()?;
        let ids: Vec<i64> = self
            .connection
            .prepare("SELECT id FROM runs ORDER BY id DESC")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|source| self.error(source))?;
        ids.into_iter().map(|id| self.run_summary(id)).collect()
    }

    /// A read transaction, so that the several reads of a listing see one state of the file
    /// while another process writes; it ends (nothing to commit) when dropped.
    fn read_snapshot(&self) -> Result<rusqlite::Transaction<'_>> {
        self.connection
            .unchecked_transaction()
            .map_err(|source| self.error(source))
    }

    fn run_summary(&self, id: i64) -> Result<RunSummary> {
        let corrupt = |what: &str, message: String| StoreError::CorruptRun {
            run: id,
            what: what.to_owned(),
            message,
        };
        let row = self
            .connection
            .query_row(
                "SELECT created_ms, finished_ms, status, model_name, model_sha256, device, \
                 constitution_name, constitution_hash, constitution_ref, \
                 (SELECT count(*) FROM run_prompts WHERE run_id = runs.id), \
                 (SELECT count(*) FROM run_prompts WHERE run_id = runs.id AND outcome IS NOT NULL), \
                 (SELECT count(*) FROM run_prompts WHERE run_id = runs.id AND error IS NOT NULL) \
                 FROM runs WHERE id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, String>(6)?,
                        row.get::<_, String>(7)?,
                        row.get::<_, Option<String>>(8)?,
                        [
                            row.get::<_, i64>(9)?,
                            row.get::<_, i64>(10)?,
                            row.get::<_, i64>(11)?,
                        ],
                    ))
                },
            )
            .optional()
            .map_err(|source| self.error(source))?
            .ok_or(StoreError::UnknownRun(id))?;
        let (
            created_ms,
            finished_ms,
            status,
            model_name,
            model_sha256,
            device,
            name,
            hash,
            reference,
            counts,
        ) = row;
        let [prompts, prompts_done, prompts_failed] =
            counts.map(|n| usize::try_from(n).unwrap_or(0));
        Ok(RunSummary {
            id,
            created_ms,
            finished_ms,
            status: RunStatus::parse(&status).ok_or_else(|| corrupt("status", status.clone()))?,
            model_name,
            model_sha256,
            device,
            constitution_name: name,
            constitution_hash: hash,
            constitution_ref: reference,
            prompts,
            prompts_done,
            prompts_failed,
        })
    }

    /// Run `id` with its prompts, steps and outcomes.
    pub fn run(&self, id: i64) -> Result<StoredRun> {
        let _snapshot = self.read_snapshot()?;
        let summary = self.run_summary(id)?;
        let corrupt = |what: &str, error: &dyn std::fmt::Display| StoreError::CorruptRun {
            run: id,
            what: what.to_owned(),
            message: error.to_string(),
        };
        let (content, config): (String, String) = self
            .connection
            .query_row(
                "SELECT constitution, config FROM runs WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|source| self.error(source))?;
        let constitution: Constitution =
            toml::from_str(&content).map_err(|error| corrupt("constitution", &error))?;
        let config: PreviewConfig =
            serde_json::from_str(&config).map_err(|error| corrupt("config", &error))?;
        let rows: Vec<(String, Option<String>, Option<String>)> = self
            .connection
            .prepare("SELECT item, outcome, error FROM run_prompts WHERE run_id = ?1 ORDER BY idx")
            .and_then(|mut statement| {
                statement
                    .query_map([id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|source| self.error(source))?;
        let mut prompts = Vec::with_capacity(rows.len());
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut errors = Vec::with_capacity(rows.len());
        for (item, outcome, error) in rows {
            prompts.push(serde_json::from_str(&item).map_err(|e| corrupt("prompt", &e))?);
            outcomes.push(
                outcome
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(|e| corrupt("outcome", &e))?,
            );
            errors.push(error);
        }
        let records: Vec<String> = self
            .connection
            .prepare("SELECT record FROM run_steps WHERE run_id = ?1 ORDER BY idx, step")
            .and_then(|mut statement| {
                statement
                    .query_map([id], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|source| self.error(source))?;
        let mut steps = vec![Vec::new(); prompts.len()];
        for record in records {
            let step: StepRecord =
                serde_json::from_str(&record).map_err(|e| corrupt("step", &e))?;
            if let Some(list) = steps.get_mut(step.prompt) {
                list.push(step);
            }
        }
        Ok(StoredRun {
            summary,
            constitution,
            config,
            prompts,
            steps,
            outcomes,
            errors,
        })
    }
}
