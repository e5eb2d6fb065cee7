//! The version history of constitutions, in one SQLite file shared by the CLI and the app.
//!
//! Each constitution (named by a slug such as `general-assistant`) has one working **draft**,
//! saved as often as the user likes and allowed to be invalid, so nothing typed is ever lost,
//! and a history of immutable **versions**. Committing validates the draft and turns it into
//! version `n + 1`, with the sha256 of its canonical TOML as content hash, the version it was
//! based on as parent, a message, an author and a time. **Tags** name versions; **checkout**
//! copies a version into the draft; **fork** starts a new constitution from a version.
//!
//! Invariants: versions are never changed or deleted (triggers refuse both); every write is
//! one transaction; the file runs in WAL mode with foreign keys on and `synchronous = FULL`, so
//! a process killed at any point leaves either the old or the new state, never a corrupt file.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use crate::constitution::ids::{self, canonical_text_hash};
use crate::constitution::{self, Constitution};
use crate::data_dir::DataDir;

#[cfg(feature = "engine")]
mod comparisons;
mod prompt_sets;
#[cfg(feature = "engine")]
mod runs;
#[cfg(feature = "engine")]
pub use comparisons::{JudgeSettings, NewComparison, StoredComparison};
pub use prompt_sets::PromptSetSummary;
#[cfg(feature = "engine")]
pub use runs::{NewRun, RunOwner, RunStatus, RunSummary, StoredRun};

/// The schema this code writes. [`MIGRATIONS`]`[i]` takes a store from version `i` to `i + 1`.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Schema migrations, oldest first; each runs in its own transaction.
const MIGRATIONS: &[&str] = &[
    // 1: constitutions, drafts, immutable versions, tags.
    "CREATE TABLE constitutions (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL,
        forked_from INTEGER REFERENCES versions(id)
     );
     CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        constitution_id INTEGER NOT NULL REFERENCES constitutions(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        hash TEXT NOT NULL,
        parent_id INTEGER REFERENCES versions(id),
        message TEXT NOT NULL,
        author TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        content TEXT NOT NULL,
        UNIQUE (constitution_id, number)
     );
     CREATE INDEX versions_by_hash ON versions(hash);
     CREATE TRIGGER versions_are_immutable BEFORE UPDATE ON versions
     BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;
     CREATE TABLE drafts (
        constitution_id INTEGER PRIMARY KEY REFERENCES constitutions(id) ON DELETE CASCADE,
        content TEXT NOT NULL,
        base_version_id INTEGER REFERENCES versions(id),
        updated_ms INTEGER NOT NULL
     );
     CREATE TABLE tags (
        constitution_id INTEGER NOT NULL REFERENCES constitutions(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        version_id INTEGER NOT NULL REFERENCES versions(id),
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (constitution_id, name)
     );",
    // 2: versions cannot be deleted either.
    "CREATE TRIGGER versions_are_permanent BEFORE DELETE ON versions
     BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;",
    // 3: preview runs, their prompts and every step as it completes.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        finished_ms INTEGER,
        status TEXT NOT NULL,
        model_name TEXT NOT NULL,
        model_path TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        device TEXT NOT NULL,
        constitution_name TEXT NOT NULL,
        constitution_hash TEXT NOT NULL,
        constitution_ref TEXT,
        constitution TEXT NOT NULL,
        seed INTEGER NOT NULL,
        config TEXT NOT NULL
     );
     CREATE TABLE run_prompts (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        item TEXT NOT NULL,
        outcome TEXT,
        error TEXT,
        PRIMARY KEY (run_id, idx)
     );
     CREATE TABLE run_steps (
        run_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        step INTEGER NOT NULL,
        kind TEXT NOT NULL,
        principle TEXT,
        text TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (run_id, idx, step),
        FOREIGN KEY (run_id, idx) REFERENCES run_prompts(run_id, idx) ON DELETE CASCADE
     );",
    // 4: deleting a constitution moves it to the trash (its versions are permanent); restoring
    // brings it back.
    "ALTER TABLE constitutions ADD COLUMN deleted_ms INTEGER;",
    // 5: a run is owned by the process executing it (pid and start time: a lease that dies with
    // the process); why it stopped; each prompt's preference label, stored like a step; each
    // draft counts its saves, so that a save based on an older one is refused.
    "ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
     ALTER TABLE runs ADD COLUMN owner_started INTEGER;
     ALTER TABLE runs ADD COLUMN status_note TEXT;
     ALTER TABLE run_prompts ADD COLUMN preference TEXT;
     ALTER TABLE run_prompts ADD COLUMN preference_error TEXT;
     ALTER TABLE drafts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;",
    // 6: the system prompt an in-context run's conversations open with (as rendered when the
    // run was made), and the run whose initial responses a run reuses (an ablation's baseline;
    // the id may outlive that run: the steps were copied).
    "ALTER TABLE runs ADD COLUMN system_prompt TEXT;
     ALTER TABLE runs ADD COLUMN initial_from INTEGER;",
    // 7: which engine and app made a run (for dataset manifests; unknown for older runs); a
    // judge's labels of one run's finals against another's (a compare), kept so that the
    // metrics and reports of a compare are rebuilt without the model.
    "ALTER TABLE runs ADD COLUMN engine TEXT;
     ALTER TABLE runs ADD COLUMN app_version TEXT;
     CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        run_a INTEGER NOT NULL,
        run_b INTEGER NOT NULL,
        judge_name TEXT NOT NULL,
        judge_hash TEXT NOT NULL,
        judge_ref TEXT,
        settings TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        device TEXT NOT NULL,
        labels TEXT NOT NULL
     );
     CREATE INDEX comparisons_by_runs ON comparisons (run_a, run_b);",
    // 8: prompt sets made and edited in the app, kept whole as JSONL by name.
    "CREATE TABLE prompt_sets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        items TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
     );",
];

/// The store's file name in the data folder.
pub const FILE_NAME: &str = "preamble.sqlite";

/// Errors of the store. Each names the store file or the constitution, version or tag at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the store's folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "store {path} has schema version {found}, newer than this Preamble knows ({SCHEMA_VERSION}); \
         update Preamble"
    )]
    NewerSchema { path: PathBuf, found: usize },
    #[error("no constitution `{0}` in the store")]
    UnknownConstitution(String),
    #[error("a constitution `{0}` already exists")]
    ConstitutionExists(String),
    #[error("a deleted constitution holds the id `{0}`; restore it, or choose another id")]
    DeletedConstitutionExists(String),
    #[error("no deleted constitution `{0}` to restore")]
    NotDeleted(String),
    #[error("`{slug}` has no version {number}")]
    UnknownVersion { slug: String, number: u32 },
    #[error("`{slug}` has no tag or version `{reference}`")]
    UnknownReference { slug: String, reference: String },
    #[error("`{slug}` has no versions yet; commit one first")]
    NoVersions { slug: String },
    #[error("`{slug}`: {message}")]
    InvalidName { slug: String, message: String },
    #[error("`{slug}`: the draft is the same as version {number}; nothing to commit")]
    NothingToCommit { slug: String, number: u32 },
    #[error("`{slug}`: the draft is not valid and cannot be committed:\n{problems}")]
    InvalidDraft { slug: String, problems: String },
    #[error(
        "`{slug}`: the draft has changes not committed since {since}; commit them, or pass --force \
         to discard them"
    )]
    UncommittedDraft { slug: String, since: String },
    #[error(
        "`{slug}`: the draft was changed elsewhere (revision {current}, this edit was based on \
         {expected}); reload it, or save over it"
    )]
    DraftChanged {
        slug: String,
        expected: u64,
        current: u64,
    },
    #[error("`{slug}`: stored content does not decode: {message}")]
    Corrupt { slug: String, message: String },
    #[error("no run {0} in the store")]
    UnknownRun(i64),
    #[error("run {run} is being run by process {pid}; wait for it, or stop that process")]
    RunBusy { run: i64, pid: u32 },
    #[error("run {0} is complete")]
    RunCompleted(i64),
    #[error("no compare {0} in the store")]
    UnknownComparison(i64),
    #[error("compare {comparison} is of run {run_a} (A) against run {run_b} (B)")]
    ComparisonOfOtherRuns {
        comparison: i64,
        run_a: i64,
        run_b: i64,
    },
    #[error("no prompt set `{0}` in the store")]
    UnknownPromptSet(String),
    #[error("prompt set `{name}`: {message}")]
    InvalidPromptSet { name: String, message: String },
    #[error("run {run}: stored {what} does not decode: {message}")]
    CorruptRun {
        run: i64,
        what: String,
        message: String,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

/// A committed, immutable version.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct VersionInfo {
    pub number: u32,
    /// sha256 of the canonical TOML, lower-case hex.
    pub hash: String,
    pub parent: Option<u32>,
    pub message: String,
    pub author: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub created_ms: i64,
    pub tags: Vec<String>,
}

/// A constitution in the store, as a library listing shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct Listing {
    pub slug: String,
    pub name: String,
    pub versions: u32,
    pub latest: Option<u32>,
    /// The draft's last save, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
    /// The draft differs from the version it is based on (or there is no version yet).
    pub has_changes: bool,
    /// Why the stored draft does not decode, when it does not (the name is then the id).
    pub damaged: Option<String>,
}

/// A constitution's working draft.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub constitution: Constitution,
    pub status: DraftStatus,
}

/// Where a draft stands against its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct DraftStatus {
    /// The version the draft started from.
    pub base: Option<u32>,
    /// The draft's last save, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
    /// The draft differs from its base version (or there is no version yet).
    pub has_changes: bool,
    /// Counts the draft's writes (saves, imports, checkouts): a save based on an older
    /// revision is refused ([`StoreError::DraftChanged`]).
    pub revision: u64,
}

/// Where [`Store::import`] put a constitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub slug: String,
    pub action: ImportAction,
}

/// What [`Store::import`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportAction {
    /// A new constitution, the file's content as its draft.
    Created,
    /// The draft of an existing constitution now holds the file's content.
    Replaced,
    /// The constitution's draft already held this content; nothing was written.
    Unchanged,
}

impl Imported {
    fn created(slug: &str) -> Self {
        Self {
            slug: slug.to_owned(),
            action: ImportAction::Created,
        }
    }

    fn unchanged(slug: &str) -> Self {
        Self {
            slug: slug.to_owned(),
            action: ImportAction::Unchanged,
        }
    }
}

/// What a reference such as `general-assistant@3` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    /// The newest version, or the draft when there is none.
    Latest,
    Draft,
    Number(u32),
    Tag(String),
}

impl Revision {
    /// Parses `SLUG`, `SLUG@draft`, `SLUG@N`, `SLUG@vN` or `SLUG@TAG`.
    pub fn parse_reference(reference: &str) -> (&str, Revision) {
        match reference.split_once('@') {
            None => (reference, Revision::Latest),
            Some((slug, revision)) => (slug, Self::parse(revision)),
        }
    }

    /// Parses what follows the `@` of a reference: `draft`, `N`, `vN` or a tag.
    pub fn parse(revision: &str) -> Revision {
        if revision == "draft" {
            return Revision::Draft;
        }
        let digits = revision.strip_prefix('v').unwrap_or(revision);
        match digits.parse::<u32>() {
            Ok(number) => Revision::Number(number),
            Err(_) => Revision::Tag(revision.to_owned()),
        }
    }
}

/// What a constitution argument (of the CLI, or a run's "constitution reference or file")
/// names: a file when one exists at that path, else a store reference `ID[@N|@TAG|@draft]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceName<'a> {
    File(&'a Path),
    Stored { slug: &'a str, revision: Revision },
}

/// An argument that is neither an existing file nor a store reference.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {0}: no such file (and it is no store reference: ids have no `/` or `.`)")]
pub struct NoSuchSource(pub String);

impl<'a> SourceName<'a> {
    /// The one rule: an existing file first, then a reference; a path-like text that is
    /// neither is refused rather than looked up as an id.
    pub fn parse(text: &'a str) -> std::result::Result<Self, NoSuchSource> {
        let path = Path::new(text);
        if path.is_file() {
            return Ok(Self::File(path));
        }
        let (slug, revision) = Revision::parse_reference(text);
        if slug.contains(['/', '.']) {
            return Err(NoSuchSource(text.to_owned()));
        }
        Ok(Self::Stored { slug, revision })
    }
}

/// The content a reference resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub constitution: Constitution,
    /// The version, or `None` for the draft.
    pub version: Option<VersionInfo>,
    /// A label for people: `slug@3` or `slug@draft`.
    pub label: String,
}

/// The store: one SQLite connection.
pub struct Store {
    connection: Connection,
    path: PathBuf,
}

/// Who commits when no author is given: `$PREAMBLE_AUTHOR`, else `git config user.name`, else
/// the login name (`$USER`, `$LOGNAME`, else the user's entry in `/etc/passwd`), and only when
/// none of those is known, `unknown`.
pub fn default_author() -> String {
    let set = |name: String| Some(name.trim().to_owned()).filter(|name| !name.is_empty());
    std::env::var("PREAMBLE_AUTHOR")
        .ok()
        .and_then(set)
        .or_else(|| git_user_name().and_then(set))
        .or_else(|| std::env::var("USER").ok().and_then(set))
        .or_else(|| std::env::var("LOGNAME").ok().and_then(set))
        .or_else(|| login_name_from_passwd().and_then(set))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_user_name() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["config", "user.name"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The name of this process's user in `/etc/passwd` (its uid read from `/proc/self`).
fn login_name_from_passwd() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid).then(|| name.to_owned())
        })
    }
    #[cfg(not(unix))]
    None
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, day_seconds) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        day_seconds / 3600,
        day_seconds % 3600 / 60
    )
}

impl Store {
    /// The store in `data`'s folder.
    pub fn default_path(data: &DataDir) -> PathBuf {
        data.root().join(FILE_NAME)
    }

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
                path: folder.to_owned(),
                source,
            })?;
        }
        let sqlite = |source| sqlite_error(path, source);
        let connection = Connection::open(path).map_err(sqlite)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(sqlite)?;
        let mut store = Self {
            connection,
            path: path.to_owned(),
        };
        store.migrate(SCHEMA_VERSION)?;
        Ok(store)
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, source)
    }

    /// The schema version recorded in the file (0 for a new file).
    pub fn schema_version(&self) -> Result<usize> {
        recorded_schema_version(&self.connection).map_err(|e| self.error(e))
    }

    /// Applies the migrations up to schema version `target`, each in its own immediate
    /// transaction that first reads the version inside it, so two processes opening a new store
    /// at once apply each migration once.
    fn migrate(&mut self, target: usize) -> Result<()> {
        loop {
            let applied = self.write(|tx, path| {
                let current =
                    recorded_schema_version(tx).map_err(|source| sqlite_error(path, source))?;
                if current > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path: path.to_owned(),
                        found: current,
                    });
                }
                let Some(migration) = MIGRATIONS.get(current).filter(|_| current < target) else {
                    return Ok(None);
                };
                tx.execute_batch(migration)
                    .and_then(|()| {
                        tx.execute(
                            "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)",
                            params![i64::try_from(current + 1).unwrap_or(i64::MAX), now_ms()],
                        )
                    })
                    .map_err(|source| sqlite_error(path, source))?;
                Ok(Some(current + 1))
            })?;
            let Some(version) = applied else {
                return Ok(());
            };
            tracing::info!(path = %self.path.display(), version, "store migrated");
        }
    }

    /// Runs `work` in one immediate transaction, committed only when it succeeds. `work` gets
    /// the store's path for its errors.
    fn write<T>(&mut self, work: impl FnOnce(&Transaction<'_>, &Path) -> Result<T>) -> Result<T> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| sqlite_error(&self.path, source))?;
        let value = work(&tx, &self.path)?;
        tx.commit()
            .map_err(|source| sqlite_error(&self.path, source))?;
        Ok(value)
    }

    /// Adds a constitution named `slug` whose draft is `constitution`.
    pub fn create(&mut self, slug: &str, constitution: &Constitution) -> Result<()> {
        check_slug(slug)?;
        let content = constitution::to_toml(constitution);
        self.write(|tx, path| {
            refuse_taken_slug(tx, slug, path)?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO constitutions (slug, created_ms) VALUES (?1, ?2)",
                params![slug, now],
            )
            .map_err(|source| sqlite_error(path, source))?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO drafts (constitution_id, content, updated_ms) VALUES (?1, ?2, ?3)",
                params![id, content, now],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Every constitution, by slug; deleted ones are in [`Store::deleted`].
    pub fn list(&self) -> Result<Vec<Listing>> {
        self.listings(false)
    }

    /// The deleted constitutions (the trash), by slug.
    pub fn deleted(&self) -> Result<Vec<Listing>> {
        self.listings(true)
    }

    fn listings(&self, deleted: bool) -> Result<Vec<Listing>> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT c.slug, d.content, d.updated_ms,
                        (SELECT COUNT(*) FROM versions v WHERE v.constitution_id = c.id),
                        (SELECT MAX(number) FROM versions v WHERE v.constitution_id = c.id),
                        (SELECT content FROM versions v WHERE v.id = d.base_version_id)
                 FROM constitutions c JOIN drafts d ON d.constitution_id = c.id
                 WHERE (c.deleted_ms IS NOT NULL) = ?1
                 ORDER BY c.slug",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([deleted], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, Option<u32>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(|e| self.error(e))?;
        let mut listings = Vec::new();
        for row in rows {
            let (slug, draft, updated_ms, versions, latest, base) =
                row.map_err(|e| self.error(e))?;
            // One damaged row marks its constitution, not the whole library.
            let (name, damaged) = match decode(&slug, &draft) {
                Ok(constitution) => (constitution.name, None),
                Err(error) => (slug.clone(), Some(error.to_string())),
            };
            listings.push(Listing {
                has_changes: base.as_deref() != Some(draft.as_str()),
                slug,
                name,
                versions,
                latest,
                updated_ms,
                damaged,
            });
        }
        Ok(listings)
    }

    /// The draft of `slug`.
    pub fn draft(&self, slug: &str) -> Result<Draft> {
        let id = constitution_id(&self.connection, slug, &self.path)?;
        let (content, status) = draft_row(&self.connection, id).map_err(|e| self.error(e))?;
        Ok(Draft {
            constitution: decode(slug, &content)?,
            status,
        })
    }

    /// Saves `constitution` as the draft of `slug` (it may be invalid) and says where it now
    /// stands, from the same transaction. With `based_on`, the save is refused
    /// ([`StoreError::DraftChanged`]) when the draft is no longer at that revision: someone
    /// (the CLI, another window) changed it meanwhile, and nothing is overwritten.
    pub fn save_draft(
        &mut self,
        slug: &str,
        constitution: &Constitution,
        based_on: Option<u64>,
    ) -> Result<DraftStatus> {
        let content = constitution::to_toml(constitution);
        self.write(|tx, path| {
            let id = constitution_id(tx, slug, path)?;
            refuse_changed_draft(tx, id, slug, based_on, path)?;
            tx.execute(
                "UPDATE drafts SET content = ?2, updated_ms = ?3, revision = revision + 1 \
                 WHERE constitution_id = ?1",
                params![id, content, now_ms()],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(draft_row(tx, id)
                .map_err(|source| sqlite_error(path, source))?
                .1)
        })
    }

    /// Replaces the draft of `slug` with `constitution`, refusing to discard uncommitted changes
    /// (including a draft that was never committed) unless `force`.
    pub fn replace_draft(
        &mut self,
        slug: &str,
        constitution: &Constitution,
        force: bool,
    ) -> Result<()> {
        let content = constitution::to_toml(constitution);
        self.write(|tx, path| {
            let id = constitution_id(tx, slug, path)?;
            refuse_to_discard(tx, id, slug, force, path)?;
            tx.execute(
                "UPDATE drafts SET content = ?2, updated_ms = ?3, revision = revision + 1 \
                 WHERE constitution_id = ?1",
                params![id, content, now_ms()],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Validates the draft of `slug` and commits it as the next version.
    pub fn commit(&mut self, slug: &str, message: &str, author: &str) -> Result<VersionInfo> {
        self.commit_if_unchanged(slug, None, message, author)
    }

    /// [`Store::commit`], refused ([`StoreError::DraftChanged`]) when the draft is no longer at
    /// revision `based_on`: an editor commits what it shows, not a draft changed elsewhere.
    pub fn commit_if_unchanged(
        &mut self,
        slug: &str,
        based_on: Option<u64>,
        message: &str,
        author: &str,
    ) -> Result<VersionInfo> {
        self.write(|tx, path| {
            let id = constitution_id(tx, slug, path)?;
            refuse_changed_draft(tx, id, slug, based_on, path)?;
            let (content, base_id): (String, Option<i64>) = tx
                .query_row(
                    "SELECT content, base_version_id FROM drafts WHERE constitution_id = ?1",
                    [id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(|source| sqlite_error(path, source))?;
            let draft = decode(slug, &content)?;
            let problems = constitution::validate(&draft);
            if !problems.is_empty() {
                let problems = problems
                    .iter()
                    .map(|p| format!("  {}: {}", p.field, p.message))
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(StoreError::InvalidDraft {
                    slug: slug.to_owned(),
                    problems,
                });
            }
            let parent = match base_id {
                Some(base_id) => {
                    let (number, base_content): (u32, String) = tx
                        .query_row(
                            "SELECT number, content FROM versions WHERE id = ?1",
                            [base_id],
                            |row| Ok((row.get(0)?, row.get(1)?)),
                        )
                        .map_err(|source| sqlite_error(path, source))?;
                    if base_content == content {
                        return Err(StoreError::NothingToCommit {
                            slug: slug.to_owned(),
                            number,
                        });
                    }
                    Some(number)
                }
                None => None,
            };
            let number: u32 = tx
                .query_row(
                    "SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE constitution_id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .map_err(|source| sqlite_error(path, source))?;
            let hash = canonical_text_hash(&content);
            let created_ms = now_ms();
            tx.execute(
                "INSERT INTO versions
                    (constitution_id, number, hash, parent_id, message, author, created_ms, content)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id, number, hash, base_id, message, author, created_ms, content
                ],
            )
            .map_err(|source| sqlite_error(path, source))?;
            let version_id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE drafts SET base_version_id = ?2 WHERE constitution_id = ?1",
                params![id, version_id],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(VersionInfo {
                number,
                hash,
                parent,
                message: message.to_owned(),
                author: author.to_owned(),
                created_ms,
                tags: Vec::new(),
            })
        })
    }

    /// The versions of `slug`, newest first, with their tags.
    pub fn log(&self, slug: &str) -> Result<Vec<VersionInfo>> {
        let id = constitution_id(&self.connection, slug, &self.path)?;
        self.versions(id, None)
    }

    /// Versions of constitution `id`, newest first: all, or only version `number`.
    fn versions(&self, id: i64, number: Option<u32>) -> Result<Vec<VersionInfo>> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT v.number, v.hash, p.number, v.message, v.author, v.created_ms,
                        (SELECT group_concat(name, char(31)) FROM
                            (SELECT name FROM tags t WHERE t.version_id = v.id ORDER BY name))
                 FROM versions v LEFT JOIN versions p ON p.id = v.parent_id
                 WHERE v.constitution_id = ?1 AND (?2 IS NULL OR v.number = ?2)
                 ORDER BY v.number DESC",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map(params![id, number], |row| {
                let tags: Option<String> = row.get(6)?;
                Ok(VersionInfo {
                    number: row.get(0)?,
                    hash: row.get(1)?,
                    parent: row.get(2)?,
                    message: row.get(3)?,
                    author: row.get(4)?,
                    created_ms: row.get(5)?,
                    tags: tags
                        .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
                        .unwrap_or_default(),
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.error(e))
    }

    /// Resolves a revision of `slug` to its content.
    pub fn resolve(&self, slug: &str, revision: &Revision) -> Result<Resolved> {
        let id = constitution_id(&self.connection, slug, &self.path)?;
        let number = match revision {
            Revision::Draft => None,
            Revision::Number(number) => Some(*number),
            Revision::Tag(tag) => Some(
                self.connection
                    .query_row(
                        "SELECT v.number FROM tags t JOIN versions v ON v.id = t.version_id
                         WHERE t.constitution_id = ?1 AND t.name = ?2",
                        params![id, tag],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(|e| self.error(e))?
                    .ok_or_else(|| StoreError::UnknownReference {
                        slug: slug.to_owned(),
                        reference: tag.clone(),
                    })?,
            ),
            Revision::Latest => self
                .connection
                .query_row(
                    "SELECT MAX(number) FROM versions WHERE constitution_id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .map_err(|e| self.error(e))?,
        };
        let Some(number) = number else {
            return Ok(Resolved {
                constitution: self.draft(slug)?.constitution,
                version: None,
                label: format!("{slug}@draft"),
            });
        };
        let content: String = self
            .connection
            .query_row(
                "SELECT content FROM versions WHERE constitution_id = ?1 AND number = ?2",
                params![id, number],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or_else(|| StoreError::UnknownVersion {
                slug: slug.to_owned(),
                number,
            })?;
        let version =
            self.versions(id, Some(number))?
                .pop()
                .ok_or_else(|| StoreError::UnknownVersion {
                    slug: slug.to_owned(),
                    number,
                })?;
        Ok(Resolved {
            constitution: decode(slug, &content)?,
            version: Some(version),
            label: format!("{slug}@{number}"),
        })
    }

    /// The number of the newest version of `slug`; [`StoreError::NoVersions`] when it has none.
    /// What a reference without a version (`slug`) means once a version exists, and what `tag`
    /// and `fork` take when they are given no number.
    pub fn newest_version(&self, slug: &str) -> Result<u32> {
        self.log(slug)?
            .first()
            .map(|v| v.number)
            .ok_or_else(|| StoreError::NoVersions {
                slug: slug.to_owned(),
            })
    }

    /// Names version `number` of `slug` `name`, moving the tag if it named another version.
    pub fn tag(&mut self, slug: &str, name: &str, number: u32) -> Result<()> {
        if let Some(message) = tag_problem(name) {
            return Err(StoreError::InvalidName {
                slug: slug.to_owned(),
                message,
            });
        }
        self.write(|tx, path| {
            let id = constitution_id(tx, slug, path)?;
            let version_id = version_id(tx, id, slug, number, path)?;
            tx.execute(
                "INSERT INTO tags (constitution_id, name, version_id, created_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (constitution_id, name) DO UPDATE SET version_id = excluded.version_id",
                params![id, name, version_id, now_ms()],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Copies version `number` into the draft of `slug`, refusing to discard uncommitted changes
    /// unless `force`. Later commits have that version as parent.
    pub fn checkout(&mut self, slug: &str, number: u32, force: bool) -> Result<()> {
        self.write(|tx, path| {
            let id = constitution_id(tx, slug, path)?;
            let version_id = version_id(tx, id, slug, number, path)?;
            refuse_to_discard(tx, id, slug, force, path)?;
            tx.execute(
                "UPDATE drafts SET revision = revision + 1,
                                  content = (SELECT content FROM versions WHERE id = ?2),
                    base_version_id = ?2, updated_ms = ?3
                 WHERE constitution_id = ?1",
                params![id, version_id, now_ms()],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Starts a new constitution `new_slug` whose draft is version `number` of `slug` (its
    /// newest version when `None`), remembering where it came from.
    pub fn fork(&mut self, slug: &str, new_slug: &str, number: Option<u32>) -> Result<()> {
        check_slug(new_slug)?;
        let number = match number {
            Some(number) => number,
            None => self.newest_version(slug)?,
        };
        self.write(|tx, path| {
            let id = constitution_id(tx, slug, path)?;
            let version_id = version_id(tx, id, slug, number, path)?;
            refuse_taken_slug(tx, new_slug, path)?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO constitutions (slug, created_ms, forked_from) VALUES (?1, ?2, ?3)",
                params![new_slug, now, version_id],
            )
            .map_err(|source| sqlite_error(path, source))?;
            let new_id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO drafts (constitution_id, content, updated_ms)
                 SELECT ?1, content, ?3 FROM versions WHERE id = ?2",
                params![new_id, version_id, now],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Moves `slug` to the trash: it leaves [`Store::list`] and every reference to it fails,
    /// but its draft, versions and tags are kept, and [`Store::restore`] brings it back.
    pub fn delete(&mut self, slug: &str) -> Result<()> {
        self.write(|tx, path| {
            let id = constitution_id(tx, slug, path)?;
            tx.execute(
                "UPDATE constitutions SET deleted_ms = ?2 WHERE id = ?1",
                params![id, now_ms()],
            )
            .map_err(|source| sqlite_error(path, source))?;
            Ok(())
        })
    }

    /// Brings the deleted constitution `slug` back from the trash, as it was.
    pub fn restore(&mut self, slug: &str) -> Result<()> {
        self.write(|tx, path| {
            let changed = tx
                .execute(
                    "UPDATE constitutions SET deleted_ms = NULL
                     WHERE slug = ?1 AND deleted_ms IS NOT NULL",
                    [slug],
                )
                .map_err(|source| sqlite_error(path, source))?;
            if changed == 0 {
                return Err(StoreError::NotDeleted(slug.to_owned()));
            }
            Ok(())
        })
    }

    /// `base` if no constitution (deleted ones included) has that id, else the first free
    /// `base-2`, `base-3`, … (cut to the id length limit).
    pub fn free_slug(&self, base: &str) -> Result<String> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT 1 FROM constitutions WHERE slug = ?1")
            .map_err(|e| self.error(e))?;
        let mut failure = None;
        let slug = ids::first_free_id(base, |candidate| {
            statement.exists([candidate]).unwrap_or_else(|error| {
                failure.get_or_insert(error);
                false
            })
        });
        match failure {
            Some(error) => Err(self.error(error)),
            None => Ok(slug),
        }
    }

    /// Brings `constitution`, read from `file`, into the library: the one rule the CLI's
    /// `import` and the app's import and open share.
    ///
    /// - With an `id`: into that constitution, created when missing; else its draft is replaced
    ///   (refused when it has uncommitted changes, unless `force`), and nothing is written when
    ///   the draft already holds this content.
    /// - Without: the id is made of the constitution's name, else of the file's stem, else
    ///   `constitution` ([`ids::slugify`]). When that constitution's draft already holds this
    ///   content, that is the one (importing a file twice gives one copy); else a new
    ///   constitution at the first free id beside it.
    pub fn import(
        &mut self,
        constitution: &Constitution,
        file: &Path,
        id: Option<&str>,
        force: bool,
    ) -> Result<Imported> {
        let same = |store: &Self, slug: &str| -> Result<bool> {
            match store.draft(slug) {
                Ok(draft) => Ok(&draft.constitution == constitution),
                Err(StoreError::UnknownConstitution(_) | StoreError::Corrupt { .. }) => Ok(false),
                Err(error) => Err(error),
            }
        };
        if let Some(slug) = id {
            if same(self, slug)? {
                return Ok(Imported::unchanged(slug));
            }
            return match self.replace_draft(slug, constitution, force) {
                Ok(()) => Ok(Imported {
                    slug: slug.to_owned(),
                    action: ImportAction::Replaced,
                }),
                Err(StoreError::UnknownConstitution(_)) => {
                    self.create(slug, constitution)?;
                    Ok(Imported::created(slug))
                }
                Err(error) => Err(error),
            };
        }
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        let base = [constitution.name.as_str(), &stem]
            .into_iter()
            .map(ids::slugify)
            .find(|slug| !slug.is_empty())
            .unwrap_or_else(|| "constitution".to_owned());
        if same(self, &base)? {
            return Ok(Imported::unchanged(&base));
        }
        let slug = self.free_slug(&base)?;
        self.create(&slug, constitution)?;
        Ok(Imported::created(&slug))
    }

    /// Checks the whole file: SQLite's integrity check, and that every version's content still
    /// hashes to its recorded hash. Returns the problems found.
    pub fn verify(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let integrity: String = self
            .connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(|e| self.error(e))?;
        if integrity != "ok" {
            problems.push(format!("integrity check: {integrity}"));
        }
        let mut statement = self
            .connection
            .prepare(
                "SELECT c.slug, v.number, v.hash, v.content
                 FROM versions v JOIN constitutions c ON c.id = v.constitution_id",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, u32>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.error(e))?;
        for row in rows {
            let (slug, number, hash, content) = row.map_err(|e| self.error(e))?;
            if canonical_text_hash(&content) != hash {
                problems.push(format!("{slug}@{number}: content does not match its hash"));
            }
        }
        Ok(problems)
    }
}

/// The newest migration recorded in the file, creating the record table if needed.
fn recorded_schema_version(connection: &Connection) -> rusqlite::Result<usize> {
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
    )?;
    let version: i64 = connection.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )?;
    Ok(usize::try_from(version).unwrap_or(0))
}

fn sqlite_error(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// Fails with [`StoreError::UncommittedDraft`] when the draft of constitution `id` differs from
/// the version it is based on (or was never committed), unless `force`.
fn refuse_to_discard(
    tx: &Transaction<'_>,
    id: i64,
    slug: &str,
    force: bool,
    path: &Path,
) -> Result<()> {
    let (changed, updated_ms): (bool, i64) = tx
        .query_row(
            "SELECT v.content IS NULL OR v.content != d.content, d.updated_ms
             FROM drafts d LEFT JOIN versions v ON v.id = d.base_version_id
             WHERE d.constitution_id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(|source| sqlite_error(path, source))?;
    if changed && !force {
        return Err(StoreError::UncommittedDraft {
            slug: slug.to_owned(),
            since: format_time(updated_ms),
        });
    }
    Ok(())
}

/// Fails with [`StoreError::DraftChanged`] when `based_on` is given and the draft of `id` is at
/// another revision.
fn refuse_changed_draft(
    tx: &Transaction<'_>,
    id: i64,
    slug: &str,
    based_on: Option<u64>,
    path: &Path,
) -> Result<()> {
    let Some(expected) = based_on else {
        return Ok(());
    };
    let current = draft_row(tx, id)
        .map_err(|source| sqlite_error(path, source))?
        .1
        .revision;
    if current != expected {
        return Err(StoreError::DraftChanged {
            slug: slug.to_owned(),
            expected,
            current,
        });
    }
    Ok(())
}

fn constitution_id(connection: &Connection, slug: &str, path: &Path) -> Result<i64> {
    connection
        .query_row(
            "SELECT id FROM constitutions WHERE slug = ?1 AND deleted_ms IS NULL",
            [slug],
            |row| row.get(0),
        )
        .optional()
        .map_err(|source| sqlite_error(path, source))?
        .ok_or_else(|| StoreError::UnknownConstitution(slug.to_owned()))
}

/// The draft of constitution `id` as stored, and where it stands against its base version.
fn draft_row(connection: &Connection, id: i64) -> rusqlite::Result<(String, DraftStatus)> {
    connection.query_row(
        "SELECT d.content, v.number, d.updated_ms, v.content, d.revision
         FROM drafts d LEFT JOIN versions v ON v.id = d.base_version_id
         WHERE d.constitution_id = ?1",
        [id],
        |row| {
            let content: String = row.get(0)?;
            let base_content: Option<String> = row.get(3)?;
            let status = DraftStatus {
                base: row.get(1)?,
                updated_ms: row.get(2)?,
                has_changes: base_content.as_deref() != Some(content.as_str()),
                revision: row.get::<_, i64>(4)?.cast_unsigned(),
            };
            Ok((content, status))
        },
    )
}

/// Fails when a constitution, deleted or not, already has the id `slug`.
fn refuse_taken_slug(tx: &Transaction<'_>, slug: &str, path: &Path) -> Result<()> {
    let deleted: Option<Option<i64>> = tx
        .query_row(
            "SELECT deleted_ms FROM constitutions WHERE slug = ?1",
            [slug],
            |row| row.get(0),
        )
        .optional()
        .map_err(|source| sqlite_error(path, source))?;
    match deleted {
        None => Ok(()),
        Some(None) => Err(StoreError::ConstitutionExists(slug.to_owned())),
        Some(Some(_)) => Err(StoreError::DeletedConstitutionExists(slug.to_owned())),
    }
}

fn version_id(
    connection: &Connection,
    id: i64,
    slug: &str,
    number: u32,
    path: &Path,
) -> Result<i64> {
    connection
        .query_row(
            "SELECT id FROM versions WHERE constitution_id = ?1 AND number = ?2",
            params![id, number],
            |row| row.get(0),
        )
        .optional()
        .map_err(|source| sqlite_error(path, source))?
        .ok_or_else(|| StoreError::UnknownVersion {
            slug: slug.to_owned(),
            number,
        })
}

/// Decodes stored canonical TOML without validating it: drafts may be invalid.
fn decode(slug: &str, content: &str) -> Result<Constitution> {
    toml::from_str(content).map_err(|error| StoreError::Corrupt {
        slug: slug.to_owned(),
        message: error.message().to_owned(),
    })
}

/// Why `name` cannot be a tag: tags are 1 to 64 ASCII letters, digits, `.`, `_` and `-`, and
/// must not read as a version reference (`draft`, `3`, `v3`).
fn tag_problem(name: &str) -> Option<String> {
    let charset = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let digits = name.strip_prefix('v').unwrap_or(name);
    let reference =
        name == "draft" || (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    (!charset || reference).then(|| {
        format!(
            "`{name}` cannot be a tag: use 1 to 64 letters, digits, `.`, `_` and `-`, and nothing \
             that reads as a version (`draft`, `3`, `v3`)"
        )
    })
}

fn check_slug(slug: &str) -> Result<()> {
    match constitution::slug_problem(slug) {
        None => Ok(()),
        Some(message) => Err(StoreError::InvalidName {
            slug: slug.to_owned(),
            message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Constitution {
        constitution::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("constitutions/general-assistant.toml"),
        )
        .unwrap()
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("nested/preamble.sqlite")).unwrap();
        (dir, store)
    }

    #[test]
    fn draft_commit_log_and_resolve() {
        let (_dir, mut store) = store();
        let mut c = sample();
        store.create("general", &c).unwrap();
        assert!(store.draft("general").unwrap().status.has_changes);
        let v1 = store.commit("general", "first", "ana").unwrap();
        assert_eq!((v1.number, v1.parent), (1, None));
        assert_eq!(v1.hash, ids::content_hash(&c));
        assert!(!store.draft("general").unwrap().status.has_changes);
        assert!(matches!(
            store.commit("general", "again", "ana"),
            Err(StoreError::NothingToCommit { number: 1, .. })
        ));

        c.tiers[0].principles[0].title.push_str(" at all");
        store.save_draft("general", &c, None).unwrap();
        let v2 = store.commit("general", "second", "bo").unwrap();
        assert_eq!((v2.number, v2.parent), (2, Some(1)));

        let log = store.log("general").unwrap();
        assert_eq!(log.iter().map(|v| v.number).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(
            store
                .resolve("general", &Revision::Latest)
                .unwrap()
                .constitution,
            c
        );
        assert_eq!(
            store
                .resolve("general", &Revision::Number(1))
                .unwrap()
                .constitution,
            sample()
        );
        let listing = &store.list().unwrap()[0];
        assert_eq!((listing.versions, listing.latest), (2, Some(2)));
        assert!(!listing.has_changes);
    }

    #[test]
    fn invalid_drafts_are_saved_but_not_committed() {
        let (_dir, mut store) = store();
        let mut c = sample();
        c.tiers[0].principles[0].statement.clear();
        store.create("general", &c).unwrap();
        assert_eq!(store.draft("general").unwrap().constitution, c);
        let error = store.commit("general", "broken", "ana").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("tiers[0].principles[0].statement: must not be empty"),
            "{error}"
        );
        assert!(store.log("general").unwrap().is_empty());
    }

    #[test]
    fn delete_moves_to_the_trash_and_restore_brings_it_back_whole() {
        let (_dir, mut store) = store();
        store.create("ga", &sample()).unwrap();
        store.commit("ga", "first", "me").unwrap();
        store.tag("ga", "shipped", 1).unwrap();
        let mut edited = sample();
        edited.name = "Edited".into();
        store.save_draft("ga", &edited, None).unwrap();

        store.delete("ga").unwrap();
        assert!(store.list().unwrap().is_empty());
        assert_eq!(store.deleted().unwrap()[0].slug, "ga");
        assert!(matches!(
            store.draft("ga"),
            Err(StoreError::UnknownConstitution(_))
        ));
        assert!(matches!(
            store.delete("ga"),
            Err(StoreError::UnknownConstitution(_))
        ));
        assert!(matches!(
            store.create("ga", &sample()),
            Err(StoreError::DeletedConstitutionExists(_))
        ));
        assert_eq!(store.free_slug("ga").unwrap(), "ga-2");

        store.restore("ga").unwrap();
        assert!(store.deleted().unwrap().is_empty());
        let draft = store.draft("ga").unwrap();
        assert_eq!(draft.constitution.name, "Edited");
        assert!(draft.status.has_changes);
        assert_eq!(store.log("ga").unwrap()[0].tags, ["shipped"]);
        assert!(matches!(
            store.restore("ga"),
            Err(StoreError::NotDeleted(_))
        ));
    }

    #[test]
    fn save_draft_says_where_the_draft_stands() {
        let (_dir, mut store) = store();
        store.create("ga", &sample()).unwrap();
        let status = store.save_draft("ga", &sample(), None).unwrap();
        assert_eq!(status, store.draft("ga").unwrap().status);
        assert_eq!((status.base, status.has_changes), (None, true));
        store.commit("ga", "first", "me").unwrap();
        let same = store.save_draft("ga", &sample(), None).unwrap();
        assert_eq!((same.base, same.has_changes), (Some(1), false));
        let mut edited = sample();
        edited.name = "Edited".into();
        let status = store.save_draft("ga", &edited, None).unwrap();
        assert_eq!(status, store.draft("ga").unwrap().status);
        assert!(status.has_changes);
    }

    #[test]
    fn a_save_based_on_an_older_revision_is_refused() {
        let (dir, mut store) = store();
        store.create("ga", &sample()).unwrap();
        let opened = store.draft("ga").unwrap().status.revision;
        let mine = constitution::starter("Mine");
        let saved = store.save_draft("ga", &mine, Some(opened)).unwrap();
        assert_eq!(saved.revision, opened + 1);
        // Another process (the CLI) replaces the draft meanwhile.
        let mut other = Store::open(&dir.path().join("nested/preamble.sqlite")).unwrap();
        other
            .replace_draft("ga", &constitution::starter("Theirs"), true)
            .unwrap();
        let error = store
            .save_draft(
                "ga",
                &constitution::starter("Mine again"),
                Some(saved.revision),
            )
            .unwrap_err();
        assert!(matches!(error, StoreError::DraftChanged { .. }), "{error}");
        assert_eq!(store.draft("ga").unwrap().constitution.name, "Theirs");
        // Saving over it knowingly.
        let over = store
            .save_draft("ga", &constitution::starter("Mine again"), None)
            .unwrap();
        assert_eq!(store.draft("ga").unwrap().constitution.name, "Mine again");
        assert_eq!(over.revision, saved.revision + 2);
        // A commit names the revision it shows, too.
        other
            .replace_draft("ga", &constitution::starter("Theirs again"), true)
            .unwrap();
        let error = store
            .commit_if_unchanged("ga", Some(over.revision), "mine", "me")
            .unwrap_err();
        assert!(matches!(error, StoreError::DraftChanged { .. }), "{error}");
        let current = store.draft("ga").unwrap().status.revision;
        store
            .commit_if_unchanged("ga", Some(current), "theirs", "me")
            .unwrap();
    }

    #[test]
    fn free_slug_counts_up_past_taken_ids() {
        let (_dir, mut store) = store();
        assert_eq!(store.free_slug("ga").unwrap(), "ga");
        store.create("ga", &sample()).unwrap();
        store.create("ga-2", &sample()).unwrap();
        assert_eq!(store.free_slug("ga").unwrap(), "ga-3");
        let long = "a".repeat(64);
        store.create(&long, &sample()).unwrap();
        let next = store.free_slug(&long).unwrap();
        assert_eq!(next, format!("{}-2", "a".repeat(62)));
        store.create(&next, &sample()).unwrap();
    }

    #[test]
    fn tags_checkout_and_fork() {
        let (_dir, mut store) = store();
        let mut c = sample();
        store.create("general", &c).unwrap();
        store.commit("general", "first", "ana").unwrap();
        store.tag("general", "reviewed", 1).unwrap();
        c.name = "Renamed".into();
        store.save_draft("general", &c, None).unwrap();
        assert!(matches!(
            store.checkout("general", 1, false),
            Err(StoreError::UncommittedDraft { .. })
        ));
        store.commit("general", "rename", "ana").unwrap();
        let tagged = store
            .resolve("general", &Revision::Tag("reviewed".into()))
            .unwrap();
        assert_eq!(tagged.label, "general@1");
        assert_eq!(tagged.version.unwrap().tags, ["reviewed"]);

        store.checkout("general", 1, false).unwrap();
        assert_eq!(
            store.draft("general").unwrap().constitution.name,
            "General assistant"
        );
        c.name = "Branch".into();
        store.save_draft("general", &c, None).unwrap();
        let v3 = store.commit("general", "branch from 1", "ana").unwrap();
        assert_eq!((v3.number, v3.parent), (3, Some(1)));

        store.fork("general", "general-fork", Some(2)).unwrap();
        assert_eq!(
            store.draft("general-fork").unwrap().constitution.name,
            "Renamed"
        );
        assert!(matches!(
            store.fork("general", "general-fork", None),
            Err(StoreError::ConstitutionExists(_))
        ));
        for bad in ["7", "v7", "draft", "", "a\u{1f}b", "two words"] {
            assert!(
                matches!(
                    store.tag("general", bad, 1),
                    Err(StoreError::InvalidName { .. })
                ),
                "{bad:?} was accepted as a tag"
            );
        }
        store.tag("general", "release-1.0", 2).unwrap();
        assert!(store.verify().unwrap().is_empty());
    }

    #[test]
    fn a_damaged_draft_marks_its_constitution_not_the_library() {
        let (_dir, mut store) = store();
        store.create("good", &sample()).unwrap();
        store.create("bad", &sample()).unwrap();
        store
            .connection
            .execute(
                "UPDATE drafts SET content = 'not [valid toml' WHERE constitution_id = \
                 (SELECT id FROM constitutions WHERE slug = 'bad')",
                [],
            )
            .unwrap();
        let listings = store.list().unwrap();
        assert_eq!(listings.len(), 2);
        let bad = listings.iter().find(|l| l.slug == "bad").unwrap();
        let good = listings.iter().find(|l| l.slug == "good").unwrap();
        assert!(bad.damaged.as_deref().unwrap().contains("`bad`"), "{bad:?}");
        assert_eq!(good.damaged, None);
        assert!(matches!(
            store.draft("bad"),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn imports_choose_ids_by_one_rule() {
        let (dir, mut store) = store();
        let file = dir.path().join("file-stem.toml");
        let constitution = constitution::starter("Über Policy");
        let first = store.import(&constitution, &file, None, false).unwrap();
        assert_eq!(first.slug, "uber-policy");
        assert_eq!(first.action, ImportAction::Created);
        // The same content again: the same constitution, nothing written.
        let again = store.import(&constitution, &file, None, false).unwrap();
        assert_eq!(again.slug, "uber-policy");
        assert_eq!(again.action, ImportAction::Unchanged);
        // Other content under the same name: a new constitution beside it.
        let other = constitution::starter("Über Policy!");
        let second = store.import(&other, &file, None, false).unwrap();
        assert_eq!(second.slug, "uber-policy-2");
        // A name with no letters: the file's stem.
        let nameless = constitution::starter("***");
        let third = store.import(&nameless, &file, None, false).unwrap();
        assert_eq!(third.slug, "file-stem");
        // With an id: into that one, refusing uncommitted changes unless forced.
        let error = store
            .import(&other, &file, Some("uber-policy"), false)
            .unwrap_err();
        assert!(
            matches!(error, StoreError::UncommittedDraft { .. }),
            "{error}"
        );
        let forced = store
            .import(&other, &file, Some("uber-policy"), true)
            .unwrap();
        assert_eq!(forced.action, ImportAction::Replaced);
        let new = store.import(&other, &file, Some("fresh"), false).unwrap();
        assert_eq!(new.action, ImportAction::Created);
    }

    #[test]
    fn the_default_author_is_never_unknown_on_a_unix_machine() {
        assert!(login_name_from_passwd().is_some());
        assert_ne!(default_author(), "unknown");
    }

    #[test]
    fn versions_cannot_be_altered_or_deleted() {
        let (_dir, mut store) = store();
        store.create("general", &sample()).unwrap();
        store.commit("general", "first", "ana").unwrap();
        let altered = store
            .connection
            .execute("UPDATE versions SET message = 'rewritten'", []);
        assert!(altered.is_err());
        assert!(
            store
                .connection
                .execute("DELETE FROM versions", [])
                .is_err()
        );
        assert_eq!(store.log("general").unwrap().len(), 1);
    }

    #[test]
    fn a_never_committed_draft_is_not_replaced_without_force() {
        let (_dir, mut store) = store();
        let mut c = sample();
        store.create("general", &c).unwrap();
        c.name = "Other".into();
        assert!(matches!(
            store.replace_draft("general", &c, false),
            Err(StoreError::UncommittedDraft { .. })
        ));
        assert_eq!(store.draft("general").unwrap().constitution, sample());
        store.replace_draft("general", &c, true).unwrap();
        assert_eq!(store.draft("general").unwrap().constitution.name, "Other");
    }

    #[test]
    fn references_parse() {
        assert_eq!(Revision::parse_reference("a"), ("a", Revision::Latest));
        assert_eq!(Revision::parse("v2"), Revision::Number(2));
        assert_eq!(Revision::parse("draft"), Revision::Draft);
        assert_eq!(Revision::parse_reference("a@draft"), ("a", Revision::Draft));
        assert_eq!(Revision::parse_reference("a@3"), ("a", Revision::Number(3)));
        assert_eq!(
            Revision::parse_reference("a@v3"),
            ("a", Revision::Number(3))
        );
        assert_eq!(
            Revision::parse_reference("a@reviewed"),
            ("a", Revision::Tag("reviewed".into()))
        );
    }

    #[test]
    fn every_migration_applies_to_the_schema_before_it() {
        for start in 0..SCHEMA_VERSION {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("old.sqlite");
            {
                let connection = Connection::open(&path).unwrap();
                let mut old = Store {
                    connection,
                    path: path.clone(),
                };
                old.migrate(start).unwrap();
                assert_eq!(old.schema_version().unwrap(), start);
            }
            let mut store = Store::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
            store.create("general", &sample()).unwrap();
            store.commit("general", "after migrating", "ana").unwrap();
            assert!(store.verify().unwrap().is_empty());
        }
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, 0)",
                [i64::try_from(SCHEMA_VERSION).unwrap() + 1],
            )
            .unwrap();
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NewerSchema { .. })
        ));
    }

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_795_789_800_000), "2026-11-27 14:30 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
