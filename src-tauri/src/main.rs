//! Preamble's desktop app: a thin Tauri shell over the `preamble` core.
//!
//! Usage: `preamble-app [CONSTITUTION]` opens the library; with a file (any importable format),
//! that constitution is imported into the library, unless it is already there, and opened.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod chosen;
mod commands;
mod compare;
mod error;
mod instance;
mod preview;
mod prompt_sets;
mod runs;
mod settings;
#[cfg(test)]
mod wire;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use preamble::data_dir::DataDir;
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};

use crate::commands::{AppState, Launch};
use crate::settings::WindowSize;

fn main() -> std::process::ExitCode {
    // The model's worker process is this binary too (see `commands::AppState::with_worker`).
    let mut args = std::env::args_os().skip(1).peekable();
    if args.peek().is_some_and(|arg| arg == "--worker") {
        preamble::logging::to_stderr("warn");
        return preamble::worker::serve_args(args.skip(1));
    }
    let data = DataDir::resolve().ok();
    if let Some(data) = &data
        && let Err(error) = preamble::logging::to_file(&data.logs(), "preamble-app.log", "info")
    {
        eprintln!("cannot write logs to {}: {error}", data.logs().display());
    }
    preamble::logging::log_panics();
    let constitution = args.next().map(PathBuf::from).map(|path| {
        std::fs::canonicalize(&path)
            .or_else(|_| std::path::absolute(&path))
            .unwrap_or(path)
    });
    // One app per data folder: a second launch hands its file to the first and ends.
    let instance = match &data {
        Some(data) => match instance::claim_or_hand_over(data.root(), constitution.as_deref()) {
            Ok(Some(instance)) => Some(instance),
            Ok(None) => {
                tracing::info!(?constitution, "handed over to the app already running");
                return std::process::ExitCode::SUCCESS;
            }
            Err(error) => {
                tracing::error!(%error, "cannot take the data folder or reach its app");
                eprintln!(
                    "preamble-app: cannot take the data folder {} or reach the app that holds it: {error}",
                    data.root().display()
                );
                return std::process::ExitCode::FAILURE;
            }
        },
        None => None,
    };
    tracing::info!(?constitution, "starting");
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(AppState::new(data, constitution))
        .setup(|app| {
            if let Some(instance) = instance {
                let app = app.handle().clone();
                instance.listen(move |file| launched(&app, file));
            }
            // The window is built here, not in tauri.conf.json, so that it is created at the
            // size it had last time rather than resized after it appears.
            let size = app.state::<AppState>().settings().window;
            let (width, height) = size.map_or(DEFAULT_SIZE, |s| (s.width, s.height));
            WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                .title("Preamble")
                .inner_size(width, height)
                .min_inner_size(640.0, 480.0)
                .maximized(size.is_some_and(|s| s.maximized))
                .build()?;
            Ok(())
        })
        .on_window_event(|window, event| match event {
            WindowEvent::Resized(_) => remember_window_size_soon(window),
            // The editor saves what is pending first, then closes the window itself. (The size
            // needs no saving here: it was saved when the last resize settled.)
            WindowEvent::CloseRequested { api, .. }
                if window.state::<AppState>().close_requested(window) =>
            {
                api.prevent_close();
            }
            _ => {}
        })
        .invoke_handler(tauri::generate_handler![
            commands::startup,
            commands::set_theme,
            commands::watch_close,
            commands::close_window,
            commands::acknowledge_close,
            commands::library,
            commands::create_constitution,
            commands::import_constitution,
            commands::formats,
            commands::export_constitution,
            commands::fork_constitution,
            commands::delete_constitution,
            commands::restore_constitution,
            commands::open_draft,
            commands::save_draft,
            commands::commit_draft,
            commands::history,
            commands::checkout_version,
            commands::tag_version,
            commands::diff_revisions,
            commands::export_diff_markdown,
            commands::choose_import_file,
            commands::choose_save_file,
            commands::model_status,
            commands::start_model,
            commands::fetch_default_model,
            commands::watch_launches,
            commands::log_ui_error,
            runs::runs,
            runs::run_detail,
            preview::prompt_sets,
            preview::preview_defaults,
            preview::start_preview,
            preview::resume_run,
            preview::cancel_run,
            preview::rerun_prompt,
            runs::export_run_dataset,
            runs::export_run_report,
            commands::choose_export_folder,
            commands::use_model,
            compare::start_compare,
            compare::cancel_compare,
            compare::diff_behaviour,
            prompt_sets::stored_prompt_sets,
            prompt_sets::prompt_set_items,
            prompt_sets::save_prompt_set,
            prompt_sets::import_prompt_set,
            prompt_sets::delete_prompt_set,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "the app failed");
        eprintln!("preamble-app: {error}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

/// A later launch handed over (on the instance's own thread): bring the window to the front, and
/// open the file it named. `false` when the window is gone: the app is closing, and the launch
/// should start by itself.
fn launched(app: &tauri::AppHandle, file: Option<PathBuf>) -> bool {
    let Some(window) = app.get_webview_window("main") else {
        return false;
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
    let Some(file) = file else { return true };
    let state = app.state::<AppState>();
    let launch = match tauri::async_runtime::block_on(state.bring_in(file)) {
        Ok((open, notice)) => Launch { open, notice },
        Err(error) => Launch {
            open: None,
            notice: Some(error.message),
        },
    };
    state.launched(launch);
    true
}

/// The window's size in logical pixels on a first start.
const DEFAULT_SIZE: (f64, f64) = (1100.0, 760.0);

/// How long the window keeps its size before a resize is saved.
const RESIZE_SETTLE: Duration = Duration::from_millis(500);

/// The latest resize; a pending save writes only when it is still the latest.
static RESIZES: AtomicU64 = AtomicU64::new(0);

/// Saves the window size once it has stopped changing for [`RESIZE_SETTLE`], so the size
/// survives even a process that is killed rather than closed.
fn remember_window_size_soon(window: &tauri::Window) {
    let resize = RESIZES.fetch_add(1, Ordering::SeqCst) + 1;
    let window = window.clone();
    std::thread::spawn(move || {
        std::thread::sleep(RESIZE_SETTLE);
        if RESIZES.load(Ordering::SeqCst) == resize {
            remember_window_size(&window);
        }
    });
}

/// Saves the window's size (in logical pixels) and whether it is maximized, for the next start.
fn remember_window_size(window: &tauri::Window) {
    let (Ok(size), Ok(scale), Ok(maximized), Ok(minimized)) = (
        window.inner_size(),
        window.scale_factor(),
        window.is_maximized(),
        window.is_minimized(),
    ) else {
        return;
    };
    // A minimized window reports no useful size; keep the last one.
    if minimized || size.width == 0 || size.height == 0 {
        return;
    }
    let size = size.to_logical::<f64>(scale);
    window.state::<AppState>().update_settings(|settings| {
        // A maximized window keeps the size it had before, for when it is restored.
        let (width, height) = match (maximized, settings.window) {
            (true, Some(previous)) => (previous.width, previous.height),
            _ => (size.width, size.height),
        };
        settings.window = Some(WindowSize {
            width,
            height,
            maximized,
        });
    });
}
