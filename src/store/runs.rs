//! Preview runs in the store: each run's configuration, model and constitution, its prompts,
//! and every step of the loop as it completes, so that an interrupted run keeps what finished
//! and can resume.
//!
//! A run records what decides its outputs: the model file's sha256, the constitution (its
//! canonical TOML and content hash, and `slug@vN` when it came from the store), the config
//! with its seed, and the prompts. Steps are written one transaction each, as the engine
//! reports them; a prompt's preference label like a step; its outcome (the JSONL line) when
//! it ends.
//!
//! **Ownership.** A process executing a run holds it: [`Store::claim_run`] records its pid and
//! start time, refused while another live process holds the run, so that two CLI processes and
//! the app on one store never run (and duplicate) one run at once. The lease dies with its
//! process: a `running` run whose owner is gone lists as `interrupted`, resumable.

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Result, Store, StoreError, now_ms, sqlite_error};
use crate::constitution::ids::content_hash;
use crate::constitution::{self, Constitution};
use crate::feedback::Preference;
use crate::preview::{PreviewConfig, PromptOutcome, StepRecord};
use crate::prompt_set::PromptItem;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Being executed by a live process.
    Running,
    /// Stopped before its end without being cancelled: its process or its model process died,
    /// or the engine failed. Resumable.
    Interrupted,
    Completed,
    /// Stopped on request. Resumable.
    Cancelled,
    /// Could not be recorded (the store failed). Resumable.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Interrupted => "interrupted",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Interrupted,
            Self::Completed,
            Self::Cancelled,
            Self::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A process that can hold a run: its pid and its start time (so that a pid reused by a later
/// process does not count as the owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOwner {
    pub pid: u32,
    /// The process's start time in clock ticks since boot (Linux `/proc/PID/stat`, field 22);
    /// 0 where that cannot be read.
    pub started: u64,
}

impl RunOwner {
    /// This process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            started: process_start_time(pid).unwrap_or(0),
        }
    }

    /// Whether the process still runs: its pid is there with the same start time. Where start
    /// times cannot be read (not Linux), whether a process with that pid exists.
    pub fn is_alive(&self) -> bool {
        if *self == Self::current() {
            return true;
        }
        match process_start_time(self.pid) {
            Some(started) => started == self.started,
            None if Path::new("/proc/self/stat").exists() => false,
            None => process_exists(self.pid),
        }
    }
}

/// Whether a process with `pid` exists (signal 0 reaches it), where `/proc` cannot say.
fn process_exists(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 sends nothing; it only checks that the process exists.
        let sent = unsafe { libc::kill(pid, 0) };
        sent == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
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
    /// The in-context mode's system prompt, as rendered now.
    pub system_prompt: Option<&'a str>,
    /// The run these steps came from, and the steps (initial responses) the new run starts
    /// with, recorded in the same transaction.
    pub initial_from: Option<(i64, &'a [StepRecord])>,
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
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
    /// Why it stopped, when it did not complete (e.g. how its model process ended).
    pub status_note: Option<String>,
}

/// A run with everything needed to show it or resume it.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub summary: RunSummary,
    pub constitution: Constitution,
    pub config: PreviewConfig,
    pub prompts: Vec<PromptItem>,
    /// The in-context mode's system prompt as the run was made with it.
    pub system_prompt: Option<String>,
    /// The run whose initial responses this one started with.
    pub initial_from: Option<i64>,
    /// The model file as it was given when the run was made.
    pub model_path: String,
    /// The engine that made the run ([`crate::engine::ENGINE`]); `None` for runs made before
    /// it was recorded.
    pub engine: Option<String>,
    /// The Preamble version that made the run; `None` likewise.
    pub app_version: Option<String>,
    /// Per prompt, the completed steps in order.
    pub steps: Vec<Vec<StepRecord>>,
    /// Per prompt, its outcome once it ended.
    pub outcomes: Vec<Option<PromptOutcome>>,
    /// Per prompt, why it failed.
    pub errors: Vec<Option<String>>,
    /// Per prompt, its stored preference label and why it has none.
    pub judgements: Vec<(Option<Preference>, Option<String>)>,
}

#[cfg(test)]
impl StoredRun {
    /// A completed run of `constitution` (its preview defaults) with these outcomes, made by
    /// nothing: a fixture for the tests of what reads stored runs.
    pub(crate) fn fixture(
        id: i64,
        constitution: Constitution,
        outcomes: Vec<Option<PromptOutcome>>,
    ) -> Self {
        StoredRun {
            summary: RunSummary {
                id,
                created_ms: 0,
                finished_ms: None,
                status: RunStatus::Completed,
                model_name: "m".to_owned(),
                model_sha256: "00".to_owned(),
                device: "CPU".to_owned(),
                constitution_name: constitution.name.clone(),
                constitution_hash: content_hash(&constitution),
                constitution_ref: None,
                prompts: outcomes.len(),
                prompts_done: outcomes.iter().flatten().count(),
                prompts_failed: 0,
                status_note: None,
            },
            config: PreviewConfig::for_constitution(&constitution),
            constitution,
            prompts: Vec::new(),
            system_prompt: None,
            initial_from: None,
            model_path: "/models/m.gguf".to_owned(),
            engine: None,
            app_version: None,
            steps: Vec::new(),
            errors: vec![None; outcomes.len()],
            judgements: vec![(None, None); outcomes.len()],
            outcomes,
        }
    }
}

pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Store {
    /// Records a new run and its prompts, held by this process (see [`Store::claim_run`]);
    /// returns its id.
    pub fn create_run(&mut self, run: &NewRun<'_>) -> Result<i64> {
        let owner = RunOwner::current();
        let content = constitution::to_toml(run.constitution);
        let hash = content_hash(run.constitution);
        self.write(|tx, path| {
            let sqlite = |source| sqlite_error(path, source);
            tx.execute(
                "INSERT INTO runs (created_ms, status, model_name, model_path, model_sha256, \
                 device, constitution_name, constitution_hash, constitution_ref, constitution, \
                 seed, config, owner_pid, owner_started, system_prompt, initial_from, engine, \
                 app_version) \
                 VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
                 ?15, ?16, ?17)",
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
                    i64::from(owner.pid),
                    owner.started.cast_signed(),
                    run.system_prompt,
                    run.initial_from.map(|(from, _)| from),
                    crate::engine::ENGINE,
                    env!("CARGO_PKG_VERSION"),
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
            for step in run.initial_from.map_or(&[][..], |(_, steps)| steps) {
                insert_step(tx, id, step).map_err(sqlite)?;
            }
            Ok(id)
        })
    }

    /// Records a completed step.
    pub fn record_step(&mut self, run: i64, step: &StepRecord) -> Result<()> {
        self.write(|tx, path| {
            insert_step(tx, run, step).map_err(|source| sqlite_error(path, source))?;
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

    /// Records a prompt's preference label, or why it has none.
    pub fn record_judgement(
        &mut self,
        run: i64,
        prompt: usize,
        preference: Option<&Preference>,
        error: Option<&str>,
    ) -> Result<()> {
        self.write(|tx, path| {
            tx.execute(
                "UPDATE run_prompts SET preference = ?3, preference_error = ?4 \
                 WHERE run_id = ?1 AND idx = ?2",
                params![run, prompt as i64, preference.map(to_json), error],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Makes `owner` the process executing run `id` (status `running`), refused while another
    /// live process holds it, and for a completed run.
    pub fn claim_run(&mut self, id: i64, owner: RunOwner) -> Result<()> {
        self.write(|tx, path| {
            let sqlite = |source| sqlite_error(path, source);
            let row: Option<(String, Option<i64>, Option<i64>)> = tx
                .query_row(
                    "SELECT status, owner_pid, owner_started FROM runs WHERE id = ?1",
                    [id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
                .map_err(sqlite)?;
            let (status, pid, started) = row.ok_or(StoreError::UnknownRun(id))?;
            if status == RunStatus::Completed.as_str() {
                return Err(StoreError::RunCompleted(id));
            }
            if status == RunStatus::Running.as_str()
                && let Some(holder) = owner_of(pid, started)
                && holder != owner
                && holder.is_alive()
            {
                return Err(StoreError::RunBusy {
                    run: id,
                    pid: holder.pid,
                });
            }
            tx.execute(
                "UPDATE runs SET status = 'running', finished_ms = NULL, status_note = NULL, \
                 owner_pid = ?2, owner_started = ?3 WHERE id = ?1",
                params![id, i64::from(owner.pid), owner.started.cast_signed()],
            )
            .map_err(sqlite)?;
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

    /// Ends a run's execution with `status` (not `running`: see [`Store::claim_run`]) and why
    /// it stopped; sets its finish time and releases its owner.
    pub fn finish_run(&mut self, run: i64, status: RunStatus, note: Option<&str>) -> Result<()> {
        self.write(|tx, path| {
            let changed = tx
                .execute(
                    "UPDATE runs SET status = ?2, finished_ms = ?3, status_note = ?4, \
                     owner_pid = NULL, owner_started = NULL WHERE id = ?1",
                    params![run, status.as_str(), now_ms(), note],
                )
                .map_err(|source| sqlite_error(path, source))?;
            if changed == 0 {
                return Err(StoreError::UnknownRun(run));
            }
            Ok(())
        })
    }

    /// Deletes run `id` with its prompts and steps; refused while a live process runs it.
    pub fn delete_run(&mut self, id: i64) -> Result<()> {
        let summary = self.run_summary(id)?;
        if summary.status == RunStatus::Running
            && let Some(owner) = self.run_owner(id)?
            && owner != RunOwner::current()
        {
            return Err(StoreError::RunBusy {
                run: id,
                pid: owner.pid,
            });
        }
        self.write(|tx, path| {
            let sqlite = |source| sqlite_error(path, source);
            tx.execute("DELETE FROM run_steps WHERE run_id = ?1", [id])
                .map_err(sqlite)?;
            tx.execute(
                "DELETE FROM comparisons WHERE run_a = ?1 OR run_b = ?1",
                [id],
            )
            .map_err(sqlite)?;
            tx.execute("DELETE FROM runs WHERE id = ?1", [id])
                .map_err(sqlite)?;
            Ok(())
        })
    }

    /// The process recorded as executing run `id`, if any.
    fn run_owner(&self, id: i64) -> Result<Option<RunOwner>> {
        let (pid, started) = self
            .connection
            .query_row(
                "SELECT owner_pid, owner_started FROM runs WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|source| self.error(source))?;
        Ok(owner_of(pid, started))
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
    pub(super) fn read_snapshot(&self) -> Result<rusqlite::Transaction<'_>> {
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
                 constitution_name, constitution_hash, constitution_ref, status_note, \
                 owner_pid, owner_started, \
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
                        (
                            row.get::<_, Option<String>>(9)?,
                            owner_of(row.get(10)?, row.get(11)?),
                        ),
                        [
                            row.get::<_, i64>(12)?,
                            row.get::<_, i64>(13)?,
                            row.get::<_, i64>(14)?,
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
            (status_note, owner),
            counts,
        ) = row;
        let [prompts, prompts_done, prompts_failed] =
            counts.map(|n| usize::try_from(n).unwrap_or(0));
        let mut status =
            RunStatus::parse(&status).ok_or_else(|| corrupt("status", status.clone()))?;
        // A run whose owner is gone (it crashed, or was killed) is interrupted, not running.
        if status == RunStatus::Running && !owner.is_some_and(|owner| owner.is_alive()) {
            status = RunStatus::Interrupted;
        }
        Ok(RunSummary {
            id,
            created_ms,
            finished_ms,
            status,
            model_name,
            model_sha256,
            device,
            constitution_name: name,
            constitution_hash: hash,
            constitution_ref: reference,
            prompts,
            prompts_done,
            prompts_failed,
            status_note,
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
        type RunRow = (
            [String; 3],
            Option<String>,
            Option<i64>,
            [Option<String>; 2],
        );
        let ([content, config, model_path], system_prompt, initial_from, [engine, app_version]): RunRow =
            self.connection
                .query_row(
                    "SELECT constitution, config, model_path, system_prompt, initial_from, engine, \
                     app_version FROM runs WHERE id = ?1",
                    [id],
                    |row| {
                        Ok((
                            [row.get(0)?, row.get(1)?, row.get(2)?],
                            row.get(3)?,
                            row.get(4)?,
                            [row.get(5)?, row.get(6)?],
                        ))
                    },
                )
            .map_err(|source| self.error(source))?;
        let constitution: Constitution =
            toml::from_str(&content).map_err(|error| corrupt("constitution", &error))?;
        let config: PreviewConfig =
            serde_json::from_str(&config).map_err(|error| corrupt("config", &error))?;
        type PromptRow = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<PromptRow> = self
            .connection
            .prepare(
                "SELECT item, outcome, error, preference, preference_error FROM run_prompts \
                 WHERE run_id = ?1 ORDER BY idx",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([id], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|source| self.error(source))?;
        let mut prompts = Vec::with_capacity(rows.len());
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut errors = Vec::with_capacity(rows.len());
        let mut judgements = Vec::with_capacity(rows.len());
        for (item, outcome, error, preference, preference_error) in rows {
            let preference = preference
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| corrupt("preference", &e))?;
            judgements.push((preference, preference_error));
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
            system_prompt,
            initial_from,
            model_path,
            engine,
            app_version,
            steps,
            outcomes,
            errors,
            judgements,
        })
    }
}

fn insert_step(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    step: &StepRecord,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO run_steps (run_id, idx, step, kind, principle, text, record) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            run,
            step.prompt as i64,
            step.step,
            step.kind.as_str(),
            step.principle,
            step.text,
            to_json(step),
        ],
    )?;
    Ok(())
}

fn owner_of(pid: Option<i64>, started: Option<i64>) -> Option<RunOwner> {
    Some(RunOwner {
        pid: u32::try_from(pid?).ok()?,
        started: started.unwrap_or(0).cast_unsigned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_run() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("preamble.sqlite")).unwrap();
        let constitution = constitution::starter("Lease test");
        let config = PreviewConfig::for_constitution(&constitution);
        let prompts = vec![PromptItem {
            id: "p1".to_owned(),
            prompt: "Hello?".to_owned(),
            label: None,
            category: None,
            note: None,
        }];
        let id = store
            .create_run(&NewRun {
                model_name: "m",
                model_path: "/m.gguf",
                model_sha256: "00",
                device: "CPU",
                constitution: &constitution,
                constitution_ref: None,
                config: &config,
                prompts: &prompts,
                system_prompt: None,
                initial_from: None,
            })
            .unwrap();
        (dir, store, id)
    }

    #[test]
    fn a_run_records_its_engine_and_app_and_keeps_its_compares() {
        let (_dir, mut store, a) = store_with_run();
        let stored = store.run(a).unwrap();
        assert_eq!(stored.engine.as_deref(), Some(crate::engine::ENGINE));
        assert_eq!(
            stored.app_version.as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        let b = store
            .create_run(&NewRun {
                model_name: "m2",
                model_path: "/m.gguf",
                model_sha256: "00",
                device: "CPU",
                constitution: &stored.constitution,
                constitution_ref: None,
                config: &stored.config,
                prompts: &stored.prompts,
                system_prompt: None,
                initial_from: None,
            })
            .unwrap();
        let settings = crate::store::JudgeSettings {
            choice: crate::preview::PrincipleChoice::Uniform,
            mode: crate::feedback::FeedbackMode::MultipleChoice,
            rule: crate::feedback::FeedbackRule::Single,
            seed: 3,
        };
        let labels = vec![("p1".to_owned(), Err("no room".to_owned()))];
        let id = store
            .record_comparison(&crate::store::NewComparison {
                run_a: a,
                run_b: b,
                judge_name: "Judge",
                judge_hash: "ff",
                judge_ref: Some("judge@v1"),
                settings: &settings,
                model_sha256: "00",
                device: "CPU",
                labels: &labels,
            })
            .unwrap();
        let found = store.comparisons(a, b).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, id);
        assert_eq!(found[0].settings, settings);
        assert_eq!(found[0].labels, labels);
        assert_eq!(found[0].judge_ref.as_deref(), Some("judge@v1"));
        // Order matters: B against A is another compare.
        assert!(store.comparisons(b, a).unwrap().is_empty());
        store.finish_run(b, RunStatus::Completed, None).unwrap();
        store.delete_run(b).unwrap();
        assert!(store.comparisons(a, b).unwrap().is_empty());
        assert!(matches!(
            store.comparison(id),
            Err(StoreError::UnknownComparison(n)) if n == id
        ));
    }

    /// A live process other than this one, and its identity.
    fn other_process() -> (std::process::Child, RunOwner) {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let started = process_start_time(pid).expect("a Linux /proc");
        (child, RunOwner { pid, started })
    }

    #[test]
    fn a_run_held_by_a_live_process_is_refused_and_freed_when_it_dies() {
        let (_dir, mut store, id) = store_with_run();
        assert_eq!(store.run(id).unwrap().summary.status, RunStatus::Running);
        // This process holds the new run until it lets go.
        let (mut child, other) = other_process();
        assert!(other.is_alive());
        assert!(matches!(
            store.claim_run(id, other),
            Err(StoreError::RunBusy { .. })
        ));
        store.finish_run(id, RunStatus::Interrupted, None).unwrap();
        store.claim_run(id, other).unwrap();
        let error = store.claim_run(id, RunOwner::current()).unwrap_err();
        assert!(
            matches!(error, StoreError::RunBusy { run, pid } if run == id && pid == other.pid),
            "{error}"
        );
        assert!(matches!(
            store.delete_run(id),
            Err(StoreError::RunBusy { .. })
        ));
        assert_eq!(store.run(id).unwrap().summary.status, RunStatus::Running);

        // The owner dies without a word: the run is interrupted, and can be taken over.
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!other.is_alive());
        assert_eq!(
            store.run(id).unwrap().summary.status,
            RunStatus::Interrupted
        );
        store.claim_run(id, RunOwner::current()).unwrap();
        store
            .finish_run(id, RunStatus::Cancelled, Some("stopped"))
            .unwrap();
        let summary = store.run(id).unwrap().summary;
        assert_eq!(summary.status, RunStatus::Cancelled);
        assert_eq!(summary.status_note.as_deref(), Some("stopped"));
        store.delete_run(id).unwrap();
        assert!(matches!(store.run(id), Err(StoreError::UnknownRun(_))));
    }

    #[test]
    fn a_reused_pid_is_not_the_owner() {
        let me = RunOwner::current();
        assert!(me.is_alive());
        let (mut child, other) = other_process();
        let impostor = RunOwner {
            started: other.started + 1,
            ..other
        };
        assert!(!impostor.is_alive());
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
