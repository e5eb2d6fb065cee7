//! The commands the window calls. Each delegates to the core and maps its errors to
//! [`CommandError`]. Store work and file dialogs run on blocking threads, never on the async
//! runtime; the model lives on the core's engine thread ([`Engine`]), which takes its jobs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use preamble::constitution::{self, Constitution};
use preamble::data_dir::{DataDir, NoDataDir};
use preamble::default_model;
use preamble::diff::{self, ConstitutionDiff};
use preamble::engine::{Engine, LoadOptions, ModelInfo};
use preamble::interchange::{self, Format, Provenance};
use preamble::store::{self, Listing, Resolved, Revision, Store, VersionInfo};
use serde::Serialize;
use tauri_plugin_dialog::DialogExt;
use tokio::sync::OnceCell;

use crate::error::CommandError;
use crate::settings::{Settings, Theme};

/// What the commands share.
pub struct AppState {
    data: Option<DataDir>,
    /// The file the app was started with, imported into the library on first use.
    opened_with: Option<PathBuf>,
    store: Arc<Mutex<Option<Store>>>,
    settings: Arc<Mutex<Settings>>,
    engine: OnceCell<Result<Engine, CommandError>>,
}

/// Runs `work` on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|error| CommandError::new("internal", error.to_string()))?
}

/// Locks `mutex`, also after a panic on another thread (the data is plain values).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
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
            engine: OnceCell::new(),
        }
    }

    /// A copy of the settings as they stand.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Changes the settings with `change` and writes them; a failed write is logged, not fatal.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) {
        let mut settings = lock(&self.settings);
        change(&mut settings);
        if let Some(data) = &self.data
            && let Err(error) = settings.save(&crate::settings::path_in(data.root()))
        {
            tracing::warn!(%error, "cannot save the settings");
        }
    }

    /// Runs `work` with the store (opened on first use) on a blocking thread.
    async fn with_store<T: Send + 'static>(
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

    /// The engine holding the default model, started on first use.
    async fn engine(&self) -> Result<&Engine, CommandError> {
        let data = self.data.clone();
        self.engine
            .get_or_init(|| async move {
                let data = data.ok_or(NoDataDir)?;
                blocking(move || {
                    let options = LoadOptions {
                        fetch_hint: Some(default_model::FETCH_HINT.to_owned()),
                        ..LoadOptions::default()
                    };
                    Ok(Engine::start(&default_model::path(&data), &options)?)
                })
                .await
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What the window needs to start: which constitution to open and how to look.
#[derive(Debug, Serialize)]
pub struct Startup {
    /// The constitution to open: the file the app was started with (imported into the library),
    /// else the one open when the app last closed, if it still exists.
    pub open: Option<String>,
    /// Something the user should know about how `open` was chosen.
    pub notice: Option<String>,
    pub theme: Theme,
    /// Where exports are suggested to go.
    pub export_folder: PathBuf,
}

/// Chooses the constitution to open; imports the file the app was started with on first call.
#[tauri::command]
pub async fn startup(state: tauri::State<'_, AppState>) -> Result<Startup, CommandError> {
    let settings = state.settings();
    let opened_with = state.opened_with.clone();
    let last_open = settings.last_open.clone();
    let (open, notice) = state
        .with_store(move |store| match opened_with {
            Some(file) => open_file(store, &file).map(|(slug, notice)| (Some(slug), notice)),
            None => {
                let listed = store.list()?;
                let open = last_open.filter(|slug| listed.iter().any(|l| &l.slug == slug));
                Ok((open, None))
            }
        })
        .await?;
    Ok(Startup {
        open,
        notice,
        theme: settings.theme,
        export_folder: export_folder(),
    })
}

/// The library's constitution for `file`: the one named after it when its draft already holds
/// the same content, else a new one imported from it.
fn open_file(store: &mut Store, file: &Path) -> Result<(String, Option<String>), CommandError> {
    let constitution = interchange::import_file(file, None)?;
    let base = slug_for(&constitution, file);
    if let Ok(draft) = store.draft(&base)
        && draft.constitution == constitution
    {
        return Ok((base, None));
    }
    let slug = store.free_slug(&base)?;
    store.create(&slug, &constitution)?;
    Ok((
        slug.clone(),
        Some(format!("Imported {} as `{slug}`", file.display())),
    ))
}

/// The id a constitution imported from `file` gets: from its name, else the file's name.
fn slug_for(constitution: &Constitution, file: &Path) -> String {
    let from_name = interchange::slugify(&constitution.name);
    if !from_name.is_empty() {
        return from_name;
    }
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    let from_file = interchange::slugify(&stem);
    if from_file.is_empty() {
        "constitution".to_owned()
    } else {
        from_file
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
pub fn set_theme(state: tauri::State<'_, AppState>, theme: Theme) {
    state.update_settings(|settings| settings.theme = theme);
}

/// The library: constitutions and the trash.
#[derive(Debug, Serialize)]
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

/// Starts a constitution named `name` from the starter template; returns its id.
#[tauri::command]
pub async fn create_constitution(
    state: tauri::State<'_, AppState>,
    name: String,
) -> Result<String, CommandError> {
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(CommandError::new(
            "invalid_name",
            "give the constitution a name",
        ));
    }
    state
        .with_store(move |store| {
            let base = match interchange::slugify(&name) {
                slug if slug.is_empty() => "constitution".to_owned(),
                slug => slug,
            };
            let slug = store.free_slug(&base)?;
            store.create(&slug, &constitution::starter(&name))?;
            Ok(slug)
        })
        .await
}

/// Imports a constitution file in any importable format as a new constitution; returns its id.
#[tauri::command]
pub async fn import_constitution(
    state: tauri::State<'_, AppState>,
    path: PathBuf,
) -> Result<String, CommandError> {
    state
        .with_store(move |store| {
            let constitution = interchange::import_file(&path, None)?;
            let slug = store.free_slug(&slug_for(&constitution, &path))?;
            store.create(&slug, &constitution)?;
            Ok(slug)
        })
        .await
}

/// A file format as the export menu lists it.
#[derive(Debug, Serialize)]
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

/// Writes `reference` (`draft`, a version number or a tag) of `slug` to `path` in `format`.
#[tauri::command]
pub async fn export_constitution(
    state: tauri::State<'_, AppState>,
    slug: String,
    reference: String,
    format: String,
    path: PathBuf,
) -> Result<(), CommandError> {
    let format: Format = format
        .parse()
        .map_err(|error: interchange::UnknownFormat| {
            CommandError::new("unknown_format", error.to_string())
        })?;
    state
        .with_store(move |store| {
            let resolved = resolve(store, &slug, &reference)?;
            let provenance = Provenance::labelled(
                &resolved.label,
                resolved.version.as_ref().map(|v| v.hash.as_str()),
                &resolved.constitution,
            );
            let text = interchange::export_any(&resolved.constitution, format, &provenance)?;
            write_file(&path, &text)
        })
        .await
}

fn write_file(path: &Path, text: &str) -> Result<(), CommandError> {
    std::fs::write(path, text).map_err(|error| {
        CommandError::new("io", format!("cannot write {}: {error}", path.display()))
    })
}

fn resolve(store: &Store, slug: &str, reference: &str) -> Result<Resolved, CommandError> {
    let (_, revision) = Revision::parse_reference(&format!("{slug}@{reference}"));
    Ok(store.resolve(slug, &revision)?)
}

/// Starts `new_name` from the newest version of `slug`; returns the new id.
#[tauri::command]
pub async fn fork_constitution(
    state: tauri::State<'_, AppState>,
    slug: String,
    new_name: String,
) -> Result<String, CommandError> {
    let new_name = new_name.trim().to_owned();
    if new_name.is_empty() {
        return Err(CommandError::new("invalid_name", "give the fork a name"));
    }
    state
        .with_store(move |store| {
            let new_slug = store.free_slug(&interchange::slugify(&new_name))?;
            store.fork(&slug, &new_slug, None)?;
            let mut draft = store.draft(&new_slug)?.constitution;
            draft.name = new_name;
            store.save_draft(&new_slug, &draft)?;
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
/// `tiers[0].principles[2].title`.
#[derive(Debug, Serialize)]
pub struct ProblemView {
    pub field: String,
    pub message: String,
}

fn problems(constitution: &Constitution) -> Vec<ProblemView> {
    constitution::validate(constitution)
        .into_iter()
        .map(|problem| ProblemView {
            field: problem.field.to_string(),
            message: problem.message,
        })
        .collect()
}

/// A draft as the editor opens it.
#[derive(Debug, Serialize)]
pub struct DraftView {
    pub slug: String,
    pub constitution: Constitution,
    pub state: DraftState,
}

/// Where a draft stands after a save.
#[derive(Debug, Serialize)]
pub struct DraftState {
    /// The version the draft is based on.
    pub base: Option<u32>,
    /// The draft differs from its base version (or there is none).
    pub has_changes: bool,
    pub updated_ms: i64,
    pub problems: Vec<ProblemView>,
}

fn draft_state(store: &Store, slug: &str) -> Result<(Constitution, DraftState), CommandError> {
    let draft = store.draft(slug)?;
    let state = DraftState {
        base: draft.base,
        has_changes: draft.has_changes,
        updated_ms: draft.updated_ms,
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
    state.update_settings(|settings| settings.last_open = Some(slug));
    Ok(view)
}

/// Saves the editor's draft (valid or not) in one transaction and validates it.
#[tauri::command]
pub async fn save_draft(
    state: tauri::State<'_, AppState>,
    slug: String,
    constitution: Constitution,
) -> Result<DraftState, CommandError> {
    state
        .with_store(move |store| {
            store.save_draft(&slug, &constitution)?;
            Ok(draft_state(store, &slug)?.1)
        })
        .await
}

/// Commits the draft of `slug` as its next version.
#[tauri::command]
pub async fn commit_draft(
    state: tauri::State<'_, AppState>,
    slug: String,
    message: String,
) -> Result<VersionInfo, CommandError> {
    let message = message.trim().to_owned();
    if message.is_empty() {
        return Err(CommandError::new(
            "empty_message",
            "describe the change in a commit message",
        ));
    }
    state
        .with_store(move |store| Ok(store.commit(&slug, &message, &store::default_author())?))
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
#[derive(Debug, Serialize)]
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

/// Writes the Markdown change report of a diff to `path`.
#[tauri::command]
pub async fn export_diff_markdown(
    state: tauri::State<'_, AppState>,
    slug: String,
    old: String,
    new: String,
    path: PathBuf,
) -> Result<(), CommandError> {
    state
        .with_store(move |store| {
            let view = diff_of(store, &slug, &old, &new)?;
            let report = diff::render_markdown(&view.diff, &view.old_label, &view.new_label);
            write_file(&path, &report)
        })
        .await
}

/// Asks the user for a constitution file to import; `None` when they cancel.
#[tauri::command]
pub async fn choose_import_file(app: tauri::AppHandle) -> Result<Option<PathBuf>, CommandError> {
    blocking(move || {
        let chosen = app
            .dialog()
            .file()
            .set_title("Import a constitution")
            .add_filter("Constitutions (TOML, JSON)", &["toml", "json"])
            .blocking_pick_file();
        Ok(chosen.and_then(|file| file.into_path().ok()))
    })
    .await
}

/// Asks the user where to save an export, suggesting `suggested` (a path); `None` on cancel.
#[tauri::command]
pub async fn choose_save_file(
    app: tauri::AppHandle,
    suggested: PathBuf,
) -> Result<Option<PathBuf>, CommandError> {
    blocking(move || {
        let mut dialog = app.dialog().file().set_title("Export");
        if let Some(folder) = suggested.parent() {
            dialog = dialog.set_directory(folder);
        }
        if let Some(name) = suggested.file_name() {
            dialog = dialog.set_file_name(name.to_string_lossy());
        }
        Ok(dialog
            .blocking_save_file()
            .and_then(|file| file.into_path().ok()))
    })
    .await
}

/// The default model as loaded by llama.cpp, with the backend and device that run it. The model
/// is loaded once, by the engine thread that keeps it for later jobs.
#[tauri::command]
pub async fn model_status(state: tauri::State<'_, AppState>) -> Result<ModelInfo, CommandError> {
    Ok(state.engine().await?.info().clone())
}
