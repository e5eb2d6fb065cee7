//! Preamble's desktop app: a thin Tauri shell over the `preamble` core.
//!
//! Usage: `preamble-app [CONSTITUTION.toml]` opens the window with that constitution.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod error;

use std::path::PathBuf;

use preamble::data_dir::DataDir;

fn main() {
    let data = DataDir::resolve().ok();
    if let Some(data) = &data
        && let Err(error) = preamble::logging::to_file(&data.logs(), "preamble-app.log", "info")
    {
        eprintln!("cannot write logs to {}: {error}", data.logs().display());
    }
    let constitution = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .map(|path| std::path::absolute(&path).unwrap_or(path));
    tracing::info!(?constitution, "starting");
    let state = commands::AppState::new(data, constitution);
    let result = tauri::Builder::default()
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::current_constitution,
            commands::model_status,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "the app failed");
        eprintln!("preamble-app: {error}");
        std::process::exit(1);
    }
}
