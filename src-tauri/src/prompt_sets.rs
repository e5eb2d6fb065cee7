//! The prompt-set editor's commands: sets kept in the store, made in the app, copied from a
//! bundled set or imported from a file (JSONL, CSV, text lines), edited and deleted. The
//! checks are the core's ([`preamble::store::Store::save_prompt_set`]).

use preamble::prompt_set::{self, PromptItem};
use preamble::store::PromptSetSummary;

use crate::chosen::Purpose;
use crate::commands::AppState;
use crate::error::CommandError;
use crate::preview::{PromptSource, load_prompts};

/// The prompt sets kept in the store, by name.
#[tauri::command]
pub async fn stored_prompt_sets(
    state: tauri::State<'_, AppState>,
) -> Result<Vec<PromptSetSummary>, CommandError> {
    state.with_store(|store| Ok(store.prompt_sets()?)).await
}

/// The prompts of a set: bundled, stored, or a chosen file.
#[tauri::command]
pub async fn prompt_set_items(
    state: tauri::State<'_, AppState>,
    source: PromptSource,
) -> Result<Vec<PromptItem>, CommandError> {
    let file = source.chosen_path(state.chosen())?;
    state
        .with_store(move |store| load_prompts(store, &source, file, None))
        .await
}

/// Saves `items` as the stored set `name` (created, or replaced whole); refused with the item
/// and field at fault when they break the prompt-set rules.
#[tauri::command]
pub async fn save_prompt_set(
    state: tauri::State<'_, AppState>,
    name: String,
    items: Vec<PromptItem>,
) -> Result<PromptSetSummary, CommandError> {
    state
        .with_store(move |store| Ok(store.save_prompt_set(&name, &items)?))
        .await
}

/// Reads the file the user chose (JSONL, CSV or text lines) into the stored set `name`.
#[tauri::command]
pub async fn import_prompt_set(
    state: tauri::State<'_, AppState>,
    name: String,
    file: String,
) -> Result<PromptSetSummary, CommandError> {
    let path = state.chosen().path(&file, Purpose::Open)?;
    state
        .with_store(move |store| {
            let items = prompt_set::load(&path)?;
            Ok(store.save_prompt_set(&name, &items)?)
        })
        .await
}

/// Deletes the stored set `name` (runs made from it keep their prompts).
#[tauri::command]
pub async fn delete_prompt_set(
    state: tauri::State<'_, AppState>,
    name: String,
) -> Result<(), CommandError> {
    state
        .with_store(move |store| Ok(store.delete_prompt_set(&name)?))
        .await
}
