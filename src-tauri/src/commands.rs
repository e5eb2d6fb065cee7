//! The commands the window calls. Each delegates to the core and maps its errors to
//! [`CommandError`]. Store work and file dialogs run on blocking threads, never on the async
//! runtime. The model runs in a worker process ([`WarmWorker`]: this binary started with
//! `--worker`), started only when something needs the model, never at start-up.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use preamble::constitution::{self, Constitution, Segment};
use preamble::data_dir::{DataDir, NoDataDir};
use preamble::default_model::{self, Progress};
use preamble::diff::{self, ConstitutionDiff};
use preamble::engine::ModelInfo;
use preamble::files;
use preamble::interchange::{self, Format, Provenance};
use preamble::store::{
    self, DraftStatus, ImportAction, Listing, Resolved, Revision, Store, VersionInfo,
};
use preamble::worker::{WarmWorker, WorkerCommand};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri_plugin_dialog::{DialogExt, FileDialogBuilder, FilePath};

use crate::chosen::{self, ChosenFile, ChosenFiles, Purpose};
use crate::error::{CommandError, ErrorCode};
use crate::preview::Executing;
use crate::settings::{Settings, Theme};

/// What the commands share.
pub struct AppState {
    data: Option<DataDir>,
    /// The file the app was started with, imported into the library on first use.
    opened_with: Option<PathBuf>,
    store: Arc<Mutex<Option<Store>>>,
    settings: Arc<Mutex<Settings>>,
    /// The default model's worker process, once something needed the model.
    worker: Arc<Mutex<Option<WarmWorker>>>,
    close: CloseWatch,
    chosen: Arc<ChosenFiles>,
    launches: Mutex<Launches>,
    /// A preview run holds the model's worker (so the worker's lock is taken, yet it runs).
    run_holds_model: Arc<AtomicBool>,
    executing: Arc<Executing>,
}

/// How closing the window waits for the editor to save: the window announces a close request
/// on the channel the UI registered; the UI acknowledges it at once ([`acknowledge_close`]),
/// saves, and closes the window itself ([`close_window`]). A request the UI does not
/// acknowledge within [`CLOSE_GRACE`] (a hung page) closes the window anyway.
#[derive(Default)]
struct CloseWatch {
    channel: Mutex<Option<Channel<String>>>,
    /// Whether a request waits for its acknowledgement.
    unanswered: Arc<AtomicBool>,
    /// The number of the latest request; a fallback acts only for its own request.
    latest: Arc<AtomicU64>,
}

/// How long a close request waits for the UI to acknowledge it.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Runs `work` on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|error| CommandError::new(ErrorCode::Internal, error.to_string()))?
}

fn update_settings(
    settings: &Mutex<Settings>,
    data: Option<&DataDir>,
    change: impl FnOnce(&mut Settings),
) {
    let mut settings = lock(settings);
    change(&mut settings);
    if let Some(data) = data
        && let Err(error) = settings.save(&crate::settings::path_in(data.root()))
    {
        tracing::warn!(%error, "cannot save the settings");
    }
}

/// Locks `mutex`, also after a panic on another thread (the data is plain values).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    /// `opened_with` is the constitution file the app was started with, if any.
    pub fn new(data: Option<DataDir>, opened_with: Option<PathBuf>) -> Self {
        let settings = data
            .as_ref()
            .map(|data| Settings::load(&crate::settings::path_in(data.root())))
            .unwrap_or_default();
        Self {
            data,
            opened_with,
            store: Arc::new(Mutex::new(None)),
            settings: Arc::new(Mutex::new(settings)),
            worker: Arc::default(),
            close: CloseWatch::default(),
            chosen: Arc::default(),
            launches: Mutex::default(),
            run_holds_model: Arc::default(),
            executing: Arc::default(),
        }
    }

    /// Handles a request to close `window`: `true` when the UI was asked to save first (the
    /// close must wait), `false` when the window may close now.
    pub fn close_requested(&self, window: &tauri::Window) -> bool {
        let channel = lock(&self.close.channel);
        let Some(channel) = channel.as_ref() else {
            return false;
        };
        if self.close.unanswered.swap(true, Ordering::SeqCst) {
            return true;
        }
        if channel.send("close".to_owned()).is_err() {
            self.close.unanswered.store(false, Ordering::SeqCst);
            return false;
        }
        let request = self.close.latest.fetch_add(1, Ordering::SeqCst) + 1;
        let (unanswered, latest) = (
            Arc::clone(&self.close.unanswered),
            Arc::clone(&self.close.latest),
        );
        let window = window.clone();
        std::thread::spawn(move || {
            std::thread::sleep(CLOSE_GRACE);
            if latest.load(Ordering::SeqCst) == request && unanswered.swap(false, Ordering::SeqCst)
            {
                tracing::warn!("the window did not answer the close request; closing");
                let _ = window.destroy();
            }
        });
        true
    }

    /// A copy of the settings as they stand.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Changes the settings with `change` and writes them; a failed write is logged, not fatal.
    /// Blocks on the file: call it from a blocking thread or the window's event handler.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) {
        update_settings(&self.settings, self.data.as_ref(), change);
    }

    /// [`AppState::update_settings`] on a blocking thread.
    async fn update_settings_off_runtime(
        &self,
        change: impl FnOnce(&mut Settings) + Send + 'static,
    ) -> Result<(), CommandError> {
        let settings = Arc::clone(&self.settings);
        let data = self.data.clone();
        blocking(move || {
            update_settings(&settings, data.as_ref(), change);
            Ok(())
        })
        .await
    }

    /// Runs `work` with the store (opened on first use) on a blocking thread.
    pub(crate) async fn with_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, CommandError> + Send + 'static,
    ) -> Result<T, CommandError> {
        let store = Arc::clone(&self.store);
        let data = self.data.clone();
        blocking(move || {
            let mut store = lock(&store);
            if store.is_none() {
                let data = data.ok_or(NoDataDir)?;
                *store = Some(Store::open(&Store::default_path(&data))?);
            }
            let Some(store) = store.as_mut() else {
                unreachable!("the store was opened above")
            };
            work(store)
        })
        .await
    }

    /// Runs `work` on a blocking thread with the default model's worker process, started
    /// first when none runs (a failed start is not remembered: the next call tries again,
    /// e.g. after the model was fetched). What the worker says of the model is remembered.
    async fn with_worker<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut WarmWorker) -> Result<T, CommandError> + Send + 'static,
    ) -> Result<T, CommandError> {
        self.data.as_ref().ok_or(NoDataDir)?;
        let worker = Arc::clone(&self.worker);
        let model = self.settings().model_file;
        let value = blocking(move || {
            let mut slot = lock(&worker);
            let worker = started(&mut slot, model)?;
            let value = work(worker)?;
            Ok((value, worker.info().cloned()))
        })
        .await?;
        self.remember_model(value).await
    }

    /// Runs `work` (a preview run) on a blocking thread with a store connection of its own and
    /// the model's worker process, as [`AppState::with_worker`] does; refused with `run_busy`
    /// while another run (or a model start) holds the worker, rather than waiting for it.
    pub(crate) async fn with_run_worker<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store, &mut WarmWorker) -> Result<T, CommandError> + Send + 'static,
    ) -> Result<T, CommandError> {
        let data = self.data.clone().ok_or(NoDataDir)?;
        let worker = Arc::clone(&self.worker);
        let running = Arc::clone(&self.run_holds_model);
        let model = self.settings().model_file;
        let value = blocking(move || {
            let mut slot = match worker.try_lock() {
                Ok(slot) => slot,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    return Err(CommandError::new(
                        ErrorCode::RunBusy,
                        "the model is busy with another run in this window: wait for it to \
                         end, or cancel it",
                    ));
                }
            };
            let mut store = Store::open(&Store::default_path(&data))?;
            let worker = started(&mut slot, model)?;
            let value = {
                let _holding = Holding::set(&running);
                work(&mut store, worker)
            };
            Ok((value?, worker.info().cloned()))
        })
        .await?;
        self.remember_model(value).await
    }

    /// Keeps what the worker said of the model in the settings (the status bar shows it on
    /// the next start); passes `value` on.
    async fn remember_model<T>(
        &self,
        (value, info): (T, Option<ModelInfo>),
    ) -> Result<T, CommandError> {
        if let Some(info) = info
            && self.settings().model.as_ref() != Some(&info)
        {
            self.update_settings_off_runtime(move |settings| settings.model = Some(info))
                .await?;
        }
        Ok(value)
    }

    /// The files chosen in dialogs.
    pub(crate) fn chosen(&self) -> &ChosenFiles {
        &self.chosen
    }

    /// The runs executing in this app.
    pub(crate) fn executing(&self) -> Arc<Executing> {
        Arc::clone(&self.executing)
    }
}

/// Marks that a run holds the model while alive, also when the run panics.
struct Holding<'a>(&'a AtomicBool);

impl<'a> Holding<'a> {
    fn set(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::SeqCst);
        Self(flag)
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The worker in `slot`, started first when there is none: for `model`, or for the default
/// model when that is `None`.
fn started(
    slot: &mut Option<WarmWorker>,
    model: Option<PathBuf>,
) -> Result<&mut WarmWorker, CommandError> {
    if slot.is_none() {
        let command = WorkerCommand::current_exe(&["--worker"])?;
        *slot = Some(WarmWorker::for_model(command, model, None)?);
    }
    let worker = slot.as_mut().expect("set above");
    worker.get()?;
    Ok(worker)
}

/// What the window needs to start: which constitution to open and how to look.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct Startup {
    /// The constitution to open: the file the app was started with (imported into the library),
    /// else the one open when the app last closed, if it still exists.
    pub open: Option<String>,
    /// Something the user should know about how `open` was chosen.
    pub notice: Option<String>,
    pub theme: Theme,
}

/// Chooses the constitution to open; brings in the file the app was started with.
#[tauri::command]
pub async fn startup(state: tauri::State<'_, AppState>) -> Result<Startup, CommandError> {
    let settings = state.settings();
    let (open, notice) = match state.opened_with.clone() {
        Some(file) => state.bring_in(file).await?,
        None => {
            let last_open = settings.last_open.clone();
            let open = state
                .with_store(move |store| {
                    let listed = store.list()?;
                    Ok(last_open.filter(|slug| listed.iter().any(|l| &l.slug == slug)))
                })
                .await?;
            (open, None)
        }
    };
    Ok(Startup {
        open,
        notice,
        theme: settings.theme,
    })
}

impl AppState {
    /// The library constitution for `file`, a constitution file the app was started (or
    /// launched again) with: its library copy as the user left it when it was brought in
    /// before, else imported now (with a notice). A file that does not import is a notice, not
    /// an error: the app still opens.
    pub async fn bring_in(
        &self,
        file: PathBuf,
    ) -> Result<(Option<String>, Option<String>), CommandError> {
        let imported = self
            .settings()
            .imports
            .get(&*file.to_string_lossy())
            .cloned();
        // The file is read before the store is taken (a slow or huge file holds up no one).
        let read = {
            let file = file.clone();
            blocking(move || Ok(interchange::import_file(&file, None).map_err(CommandError::from)))
                .await?
        };
        let (open, notice) = {
            let file = file.clone();
            self.with_store(move |store| {
                let listed = store.list()?;
                let exists = |slug: &String| listed.iter().any(|l| &l.slug == slug);
                match read {
                    // Brought in before: its library copy, as the user left it.
                    _ if imported.as_ref().is_some_and(exists) => Ok((imported, None)),
                    Ok(constitution) => match open_file(store, &constitution, &file) {
                        Ok((slug, notice)) => Ok((Some(slug), notice)),
                        Err(error) => Ok((None, Some(error.message))),
                    },
                    Err(error) => Ok((None, Some(error.message))),
                }
            })
            .await?
        };
        if let Some(slug) = open.clone() {
            self.update_settings_off_runtime(move |settings| {
                settings
                    .imports
                    .insert(file.to_string_lossy().into_owned(), slug);
            })
            .await?;
        }
        Ok((open, notice))
    }

    /// Hands a later launch's file to the window (now, or once it watches for launches).
    pub fn launched(&self, launch: Launch) {
        let mut launches = lock(&self.launches);
        match launches.channel.as_ref() {
            Some(channel) if channel.send(launch.clone()).is_ok() => {}
            _ => launches.pending.push(launch),
        }
    }
}

/// What a later launch of the app asks the window to open.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Launch {
    /// The constitution to open, when the launch named a file that imported.
    pub open: Option<String>,
    /// What the user should know, e.g. that the file was imported, or why it was not.
    pub notice: Option<String>,
}

/// The window's channel for later launches, and the launches that came before it had one.
#[derive(Default)]
struct Launches {
    channel: Option<Channel<Launch>>,
    pending: Vec<Launch>,
}

/// Registers the channel on which the window hears of later launches of the app (which hand
/// their file over and exit, see `instance.rs`); launches that came before are sent at once.
#[tauri::command]
pub fn watch_launches(state: tauri::State<'_, AppState>, on_launch: Channel<Launch>) {
    let mut launches = lock(&state.launches);
    for launch in std::mem::take(&mut launches.pending) {
        let _ = on_launch.send(launch);
    }
    launches.channel = Some(on_launch);
}

/// Writes an error the page caught (an uncaught exception, a rejected promise) to the app's log.
#[tauri::command]
pub fn log_ui_error(message: String, place: Option<String>) {
    const MAX: usize = 4000;
    let message: String = message.chars().take(MAX).collect();
    tracing::error!(%message, place = place.as_deref().unwrap_or(""), "UI error");
}

/// The library's constitution for `file`, read already ([`Store::import`]'s rule): a notice
/// when it was imported now.
fn open_file(
    store: &mut Store,
    constitution: &Constitution,
    file: &Path,
) -> Result<(String, Option<String>), CommandError> {
    let imported = store.import(constitution, file, None, false)?;
    let notice = (imported.action != ImportAction::Unchanged)
        .then(|| format!("Imported {} as `{}`", file.display(), imported.slug));
    Ok((imported.slug, notice))
}

/// A slug of `name`, or `fallback` when it has no ASCII letter or digit.
fn slug_or(name: &str, fallback: &str) -> String {
    match constitution::ids::slugify(name) {
        slug if slug.is_empty() => fallback.to_owned(),
        slug => slug,
    }
}

/// `~/Documents` when it exists, else the home folder, else the working folder.
fn export_folder() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home {
        Some(home) if home.join("Documents").is_dir() => home.join("Documents"),
        Some(home) => home,
        None => PathBuf::from("."),
    }
}

/// Remembers the colour theme.
#[tauri::command]
pub async fn set_theme(
    state: tauri::State<'_, AppState>,
    theme: Theme,
) -> Result<(), CommandError> {
    state
        .update_settings_off_runtime(move |settings| settings.theme = theme)
        .await
}

/// Registers the channel on which the window hears that the user asked to close it; the UI
/// then calls [`acknowledge_close`], saves, and calls [`close_window`] (or keeps the window
/// open and says why, when saving failed).
#[tauri::command]
pub fn watch_close(state: tauri::State<'_, AppState>, on_close: Channel<String>) {
    *lock(&state.close.channel) = Some(on_close);
}

/// Closes the window after the UI has saved.
#[tauri::command]
pub fn close_window(window: tauri::Window) -> Result<(), CommandError> {
    window
        .destroy()
        .map_err(|error| CommandError::new(ErrorCode::Internal, error.to_string()))
}

/// The UI has heard the close request and is saving: no fallback close.
#[tauri::command]
pub fn acknowledge_close(state: tauri::State<'_, AppState>) {
    state.close.unanswered.store(false, Ordering::SeqCst);
}

/// The library: constitutions and the trash.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct Library {
    pub constitutions: Vec<Listing>,
    pub deleted: Vec<Listing>,
}

#[tauri::command]
pub async fn library(state: tauri::State<'_, AppState>) -> Result<Library, CommandError> {
    state
        .with_store(|store| {
            Ok(Library {
                constitutions: store.list()?,
                deleted: store.deleted()?,
            })
        })
        .await
}

/// `text` trimmed, or the error `code` with `message` when nothing is left.
fn required(text: &str, code: ErrorCode, message: &str) -> Result<String, CommandError> {
    match text.trim() {
        "" => Err(CommandError::new(code, message)),
        trimmed => Ok(trimmed.to_owned()),
    }
}

/// Starts a constitution named `name` from the starter template; returns its id.
#[tauri::command]
pub async fn create_constitution(
    state: tauri::State<'_, AppState>,
    name: String,
) -> Result<String, CommandError> {
    let name = required(
        &name,
        ErrorCode::InvalidName,
        "give the constitution a name",
    )?;
    state
        .with_store(move |store| {
            let slug = store.free_slug(&slug_or(&name, "constitution"))?;
            store.create(&slug, &constitution::starter(&name))?;
            Ok(slug)
        })
        .await
}

/// Imports `file` (a handle from [`choose_import_file`]), in any importable format, as a new
/// constitution; returns its id.
#[tauri::command]
pub async fn import_constitution(
    state: tauri::State<'_, AppState>,
    file: String,
) -> Result<String, CommandError> {
    let path = state.chosen.path(&file, Purpose::Open)?;
    // The file is read before the store is taken: a slow or huge file holds up no one.
    let (constitution, path) =
        blocking(move || Ok((interchange::import_file(&path, None)?, path))).await?;
    state
        .with_store(move |store| Ok(store.import(&constitution, &path, None, false)?.slug))
        .await
}

/// A file format as the export menu lists it.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct FormatInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub extension: &'static str,
    pub importable: bool,
}

#[tauri::command]
pub fn formats() -> Vec<FormatInfo> {
    Format::ALL
        .into_iter()
        .map(|format| FormatInfo {
            name: format.name(),
            description: format.description(),
            extension: format.extension(),
            importable: format.is_importable(),
        })
        .collect()
}

/// Writes `reference` (`draft`, a version number or a tag) of `slug` in `format` to `file`, a
/// handle from [`choose_save_file`].
#[tauri::command]
pub async fn export_constitution(
    state: tauri::State<'_, AppState>,
    slug: String,
    reference: String,
    format: String,
    file: String,
) -> Result<(), CommandError> {
    let format: Format = format
        .parse()
        .map_err(|error: interchange::UnknownFormat| {
            CommandError::new(ErrorCode::UnknownFormat, error.to_string())
        })?;
    let path = state.chosen.path(&file, Purpose::Save)?;
    state
        .with_store(move |store| {
            let resolved = resolve(store, &slug, &reference)?;
            let provenance = Provenance::labelled(
                &resolved.label,
                resolved.version.as_ref().map(|v| v.hash.as_str()),
                &resolved.constitution,
            );
            let text = interchange::export_any(&resolved.constitution, format, &provenance)?;
            write_chosen(&path, &text)
        })
        .await
}

/// Writes `text` to `path`, a file the user chose in a save dialog, by the core's rule
/// ([`files::write`]: atomically, keeping the file's permissions, refusing a symbolic link). It
/// replaces a file that is there: the save dialog asked the user already.
fn write_chosen(path: &Path, text: &str) -> Result<(), CommandError> {
    Ok(files::write(path, text.as_bytes(), files::Replace::Allow)?)
}

pub(crate) fn resolve(
    store: &Store,
    slug: &str,
    reference: &str,
) -> Result<Resolved, CommandError> {
    let revision = Revision::parse(reference);
    Ok(store.resolve(slug, &revision)?)
}

/// Starts `new_name` from the newest version of `slug`; returns the new id.
#[tauri::command]
pub async fn fork_constitution(
    state: tauri::State<'_, AppState>,
    slug: String,
    new_name: String,
) -> Result<String, CommandError> {
    let new_name = required(&new_name, ErrorCode::InvalidName, "give the fork a name")?;
    state
        .with_store(move |store| {
            let new_slug = store.free_slug(&slug_or(&new_name, &format!("{slug}-fork")))?;
            store.fork(&slug, &new_slug, None)?;
            let mut draft = store.draft(&new_slug)?.constitution;
            draft.name = new_name;
            store.save_draft(&new_slug, &draft, None)?;
            Ok(new_slug)
        })
        .await
}

/// Moves `slug` to the trash; [`restore_constitution`] undoes it.
#[tauri::command]
pub async fn delete_constitution(
    state: tauri::State<'_, AppState>,
    slug: String,
) -> Result<(), CommandError> {
    state
        .with_store(move |store| Ok(store.delete(&slug)?))
        .await
}

#[tauri::command]
pub async fn restore_constitution(
    state: tauri::State<'_, AppState>,
    slug: String,
) -> Result<(), CommandError> {
    state
        .with_store(move |store| Ok(store.restore(&slug)?))
        .await
}

/// A problem the core's validation found, at a field path such as
/// `tiers[0].principles[2].title`, with the ids of the tier and principle it is in (indices go
/// stale as soon as the user reorders; ids do not).
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(rename = "Problem")]
pub struct ProblemView {
    pub field: String,
    pub message: String,
    pub tier: Option<String>,
    pub principle: Option<String>,
    /// The field's own name, e.g. `title`; empty for the document as a whole.
    pub key: String,
}

fn problems(constitution: &Constitution) -> Vec<ProblemView> {
    constitution::validate(constitution)
        .into_iter()
        .map(|problem| {
            let segments = &problem.field.0;
            let index_after = |key: &str| {
                segments.windows(2).find_map(|pair| match pair {
                    [Segment::Key(k), Segment::Index(i)] if *k == key => Some(*i),
                    _ => None,
                })
            };
            let tier = index_after("tiers").and_then(|t| constitution.tiers.get(t));
            let principle = tier
                .zip(index_after("principles"))
                .and_then(|(tier, p)| tier.principles.get(p));
            let key = match segments.last() {
                Some(Segment::Key(key)) => (*key).to_owned(),
                _ => String::new(),
            };
            ProblemView {
                field: problem.field.to_string(),
                message: problem.message,
                tier: tier.map(|t| t.id.clone()),
                principle: principle.map(|p| p.id.clone()),
                key,
            }
        })
        .collect()
}

/// A draft as the editor opens it.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct DraftView {
    pub slug: String,
    pub constitution: Constitution,
    pub state: DraftState,
}

/// Where a draft stands after a save: its status against its history, and what validation
/// finds in it.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct DraftState {
    #[serde(flatten)]
    pub status: DraftStatus,
    pub problems: Vec<ProblemView>,
}

fn draft_state(store: &Store, slug: &str) -> Result<(Constitution, DraftState), CommandError> {
    let draft = store.draft(slug)?;
    let state = DraftState {
        status: draft.status,
        problems: problems(&draft.constitution),
    };
    Ok((draft.constitution, state))
}

/// Opens the draft of `slug` in the editor and remembers it as the last open constitution.
#[tauri::command]
pub async fn open_draft(
    state: tauri::State<'_, AppState>,
    slug: String,
) -> Result<DraftView, CommandError> {
    let view = state
        .with_store(move |store| {
            let (constitution, state) = draft_state(store, &slug)?;
            Ok(DraftView {
                slug,
                constitution,
                state,
            })
        })
        .await?;
    let slug = view.slug.clone();
    state
        .update_settings_off_runtime(move |settings| settings.last_open = Some(slug))
        .await?;
    Ok(view)
}

/// Saves the editor's draft (valid or not) in one transaction and validates it; refused with
/// `draft_changed` when `based_on` (the revision the editor last loaded or saved) is no longer
/// the draft's: someone else changed it. Without `based_on` it saves over whatever is there.
#[tauri::command]
pub async fn save_draft(
    state: tauri::State<'_, AppState>,
    slug: String,
    constitution: Constitution,
    based_on: Option<u64>,
) -> Result<DraftState, CommandError> {
    state
        .with_store(move |store| {
            Ok(DraftState {
                status: store.save_draft(&slug, &constitution, based_on)?,
                problems: problems(&constitution),
            })
        })
        .await
}

/// Commits the draft of `slug` as its next version; refused with `draft_changed` when the draft
/// is no longer at `based_on`, the revision the editor shows.
#[tauri::command]
pub async fn commit_draft(
    state: tauri::State<'_, AppState>,
    slug: String,
    message: String,
    based_on: Option<u64>,
) -> Result<VersionInfo, CommandError> {
    let message = required(
        &message,
        ErrorCode::EmptyMessage,
        "describe the change in a commit message",
    )?;
    state
        .with_store(move |store| {
            let author = store::default_author();
            Ok(store.commit_if_unchanged(&slug, based_on, &message, &author)?)
        })
        .await
}

/// The versions of `slug`, newest first.
#[tauri::command]
pub async fn history(
    state: tauri::State<'_, AppState>,
    slug: String,
) -> Result<Vec<VersionInfo>, CommandError> {
    state.with_store(move |store| Ok(store.log(&slug)?)).await
}

/// Copies version `number` into the draft; refuses to discard uncommitted changes unless
/// `force`. Returns the new draft.
#[tauri::command]
pub async fn checkout_version(
    state: tauri::State<'_, AppState>,
    slug: String,
    number: u32,
    force: bool,
) -> Result<DraftView, CommandError> {
    state
        .with_store(move |store| {
            store.checkout(&slug, number, force)?;
            let (constitution, state) = draft_state(store, &slug)?;
            Ok(DraftView {
                slug,
                constitution,
                state,
            })
        })
        .await
}

#[tauri::command]
pub async fn tag_version(
    state: tauri::State<'_, AppState>,
    slug: String,
    name: String,
    number: u32,
) -> Result<(), CommandError> {
    state
        .with_store(move |store| Ok(store.tag(&slug, name.trim(), number)?))
        .await
}

/// The diff of two revisions (`draft`, a version number or a tag) of one constitution.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct DiffView {
    pub old_label: String,
    pub new_label: String,
    pub diff: ConstitutionDiff,
}

fn diff_of(store: &Store, slug: &str, old: &str, new: &str) -> Result<DiffView, CommandError> {
    let old = resolve(store, slug, old)?;
    let new = resolve(store, slug, new)?;
    Ok(DiffView {
        diff: diff::diff(&old.constitution, &new.constitution),
        old_label: old.label,
        new_label: new.label,
    })
}

#[tauri::command]
pub async fn diff_revisions(
    state: tauri::State<'_, AppState>,
    slug: String,
    old: String,
    new: String,
) -> Result<DiffView, CommandError> {
    state
        .with_store(move |store| diff_of(store, &slug, &old, &new))
        .await
}

/// Writes the Markdown change report of a diff to `file`, a handle from [`choose_save_file`].
#[tauri::command]
pub async fn export_diff_markdown(
    state: tauri::State<'_, AppState>,
    slug: String,
    old: String,
    new: String,
    file: String,
) -> Result<(), CommandError> {
    let path = state.chosen.path(&file, Purpose::Save)?;
    state
        .with_store(move |store| {
            let view = diff_of(store, &slug, &old, &new)?;
            let report = diff::render_markdown(&view.diff, &view.old_label, &view.new_label);
            write_chosen(&path, &report)
        })
        .await
}

/// What an open dialog asks for.
#[derive(Debug, Clone, Copy, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// A constitution file to import into the library.
    Constitution,
    /// A prompt set (JSONL, CSV or text lines) to preview on.
    Prompts,
    /// A GGUF model to run instead of the default one.
    Model,
}

/// Asks the user, in a dialog on the main window, for a file of `kind` to open; `None` when
/// they cancel.
#[tauri::command]
pub async fn choose_import_file(
    state: tauri::State<'_, AppState>,
    window: tauri::Window,
    kind: ImportKind,
) -> Result<Option<ChosenFile>, CommandError> {
    let (title, filter, extensions): (_, _, &[&str]) = match kind {
        ImportKind::Constitution => (
            "Import a constitution",
            "Constitutions (TOML, JSON)",
            &["toml", "json"],
        ),
        ImportKind::Prompts => (
            "Choose a prompt set",
            "Prompt sets (JSONL, CSV, text)",
            &["jsonl", "csv", "txt"],
        ),
        ImportKind::Model => ("Choose a model", "GGUF models", &["gguf"]),
    };
    choose(&state, window, Purpose::Open, move |dialog| {
        dialog
            .set_title(title)
            .add_filter(filter, extensions)
            .blocking_pick_file()
    })
    .await
}

/// Asks the user, in a dialog on the main window, for a folder to export a dataset into (in the
/// export folder); `None` when they cancel.
#[tauri::command]
pub async fn choose_export_folder(
    state: tauri::State<'_, AppState>,
    window: tauri::Window,
) -> Result<Option<ChosenFile>, CommandError> {
    choose(&state, window, Purpose::Save, |dialog| {
        dialog
            .set_title("Export the dataset into a folder")
            .set_directory(export_folder())
            .blocking_pick_folder()
    })
    .await
}

/// Asks the user, in a dialog on the main window, where to save an export, suggesting the file
/// name `suggested` in the export folder; `None` when they cancel. The dialog asks before it
/// lets them pick a file that exists.
#[tauri::command]
pub async fn choose_save_file(
    state: tauri::State<'_, AppState>,
    window: tauri::Window,
    suggested: String,
) -> Result<Option<ChosenFile>, CommandError> {
    choose(&state, window, Purpose::Save, move |dialog| {
        let mut dialog = dialog.set_title("Export").set_directory(export_folder());
        if let Some(name) = chosen::suggested_name(&suggested) {
            dialog = dialog.set_file_name(name);
        }
        dialog.blocking_save_file()
    })
    .await
}

/// Asks the user with the dialog `ask` builds on the main window (a debug build may take the
/// scripted answer instead) and keeps their choice for `purpose`; `None` when they cancel.
async fn choose(
    state: &AppState,
    window: tauri::Window,
    purpose: Purpose,
    ask: impl FnOnce(FileDialogBuilder<tauri::Wry>) -> Option<FilePath> + Send + 'static,
) -> Result<Option<ChosenFile>, CommandError> {
    let chosen = Arc::clone(&state.chosen);
    blocking(move || {
        let path = chosen::scripted_answer().unwrap_or_else(|| {
            ask(window.dialog().file().set_parent(&window)).and_then(|file| file.into_path().ok())
        });
        Ok(path.map(|path| chosen.keep(path, purpose)))
    })
    .await
}

/// What the status bar shows of the model, without loading it.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct ModelStatus {
    /// The model as its worker process last described it, this session or an earlier one.
    pub info: Option<ModelInfo>,
    /// Whether a worker process holds the model now.
    pub running: bool,
    /// The default model's file is not in the data folder yet ([`fetch_default_model`]) (and
    /// no other model was chosen).
    pub missing: bool,
    /// The GGUF file chosen to run instead of the default model ([`use_model`]).
    pub file: Option<String>,
    /// The GPU backends the app was built with (empty for a CPU build): a model that runs on
    /// the CPU all the same deserves a warning.
    pub gpu_backends: Vec<String>,
}

/// The default model as its worker process last described it (the backend and device that ran
/// it); loads nothing.
#[tauri::command]
pub fn model_status(state: tauri::State<'_, AppState>) -> ModelStatus {
    // Never waits: while a worker starts (its lock held), the model is not running yet.
    let running = state.run_holds_model.load(Ordering::SeqCst)
        || state.worker.try_lock().is_ok_and(|worker| {
            worker
                .as_ref()
                .is_some_and(|worker| worker.info().is_some())
        });
    let settings = state.settings();
    let missing = settings.model_file.is_none()
        && state
            .data
            .as_ref()
            .is_some_and(|data| !default_model::path(data).is_file());
    ModelStatus {
        info: settings.model,
        running,
        missing,
        file: settings.model_file.map(|path| path.display().to_string()),
        gpu_backends: preamble::engine::gpu_backends_built()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// Downloads the default model into the data folder (verifying both checksums), reporting
/// progress on `on_progress`; returns the model's path. Does nothing when it is there already.
#[tauri::command]
pub async fn fetch_default_model(
    state: tauri::State<'_, AppState>,
    on_progress: Channel<Progress>,
) -> Result<String, CommandError> {
    let data = state.data.clone().ok_or(NoDataDir)?;
    blocking(move || {
        // A message per 256 KiB is plenty for a progress bar, and spares the page.
        let mut sent = None;
        let mut report = |progress: Progress| {
            let due = sent.is_none_or(|sent| progress.done_bytes >= sent + 256 * 1024)
                || Some(progress.done_bytes) == progress.total_bytes;
            if due {
                sent = Some(progress.done_bytes);
                let _ = on_progress.send(progress);
            }
        };
        let fetched = default_model::download(&default_model::SMOLLM2_135M, &data, &mut report)?;
        Ok(fetched.path().display().to_string())
    })
    .await
}

/// Runs the GGUF file the user chose with `choose_import_file("model")` from now on, or the
/// default model for `None`: the model's worker process stops (it starts again on the next
/// use, with the model's own errors if the file is no model). Refused with `run_busy` while a
/// run holds the model.
#[tauri::command]
pub async fn use_model(
    state: tauri::State<'_, AppState>,
    file: Option<String>,
) -> Result<ModelStatus, CommandError> {
    let path = file
        .map(|handle| state.chosen.path(&handle, Purpose::Open))
        .transpose()?;
    let worker = Arc::clone(&state.worker);
    blocking(move || match worker.try_lock() {
        Ok(mut slot) => {
            *slot = None;
            Ok(())
        }
        Err(TryLockError::Poisoned(poisoned)) => {
            *poisoned.into_inner() = None;
            Ok(())
        }
        Err(TryLockError::WouldBlock) => Err(CommandError::new(
            ErrorCode::RunBusy,
            "the model is busy with a run: wait for it to end, or cancel it, then change it",
        )),
    })
    .await?;
    state
        .update_settings_off_runtime(move |settings| {
            if settings.model_file != path {
                settings.model = None;
            }
            settings.model_file = path;
        })
        .await?;
    Ok(model_status(state))
}

/// Starts the default model's worker process (if none runs) and describes the model as llama.cpp
/// loaded it, with the backend and device that run it.
#[tauri::command]
pub async fn start_model(state: tauri::State<'_, AppState>) -> Result<ModelInfo, CommandError> {
    state
        .with_worker(|worker| {
            Ok(worker
                .info()
                .cloned()
                .expect("with_worker starts the worker"))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_tier_and_principle_they_are_in() {
        let mut constitution = constitution::starter("Test");
        constitution.tiers[3].principles[0].title.clear();
        constitution.name.clear();
        let found = problems(&constitution);
        let title = found.iter().find(|p| p.key == "title").unwrap();
        assert_eq!(title.field, "tiers[3].principles[0].title");
        assert_eq!(title.tier.as_deref(), Some("helpfulness"));
        assert_eq!(title.principle.as_deref(), Some("answer-the-question"));
        let name = found.iter().find(|p| p.key == "name").unwrap();
        assert_eq!(
            (name.tier.as_deref(), name.principle.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn exports_keep_permissions_and_refuse_links() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.md");
        write_chosen(&path, "first").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_chosen(&path, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // A link is refused, and what it points to is left alone.
        let link = dir.path().join("bashrc");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let error = write_chosen(&link, "echo owned").unwrap_err();
        assert_eq!(error.code, ErrorCode::SymlinkRefused);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let error = write_chosen(&dir.path().join("missing/out.md"), "x").unwrap_err();
        assert_eq!(error.code, ErrorCode::Io);
    }

    #[test]
    fn slugs_fall_back_when_a_name_has_no_letters() {
        assert_eq!(slug_or("Политика", "constitution"), "politika");
        assert_eq!(slug_or("***", "constitution"), "constitution");
        assert_eq!(slug_or("Safety first!", "constitution"), "safety-first");
    }
}
