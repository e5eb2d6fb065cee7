//! The commands the window calls. Each delegates to the core and maps its errors to
//! [`CommandError`]; blocking work (file reads, model loading) runs off the async runtime, and
//! the model lives on the core's engine thread ([`Engine`]), which takes its jobs.

use std::path::PathBuf;

use preamble::constitution::{self, Constitution};
use preamble::data_dir::DataDir;
use preamble::default_model;
use preamble::engine::{Engine, LoadOptions, ModelInfo};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::error::CommandError;

/// What the commands share.
pub struct AppState {
    data: Option<DataDir>,
    constitution: Option<PathBuf>,
    engine: OnceCell<Result<Engine, CommandError>>,
}

impl AppState {
    /// `constitution` is the file the app was opened with, if any.
    pub fn new(data: Option<DataDir>, constitution: Option<PathBuf>) -> Self {
        Self {
            data,
            constitution,
            engine: OnceCell::new(),
        }
    }

    /// The engine holding the default model, started on first use.
    async fn engine(&self) -> Result<&Engine, CommandError> {
        let data = self.data.clone();
        self.engine
            .get_or_init(|| async move {
                let data = data.ok_or(preamble::data_dir::NoDataDir)?;
                tauri::async_runtime::spawn_blocking(move || {
                    let options = LoadOptions {
                        fetch_hint: Some(default_model::FETCH_HINT.to_owned()),
                        ..LoadOptions::default()
                    };
                    Ok(Engine::start(&default_model::path(&data), &options)?)
                })
                .await
                .map_err(|error| CommandError::new("internal", error.to_string()))?
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A constitution as the window's header shows it.
#[derive(Debug, Serialize)]
pub struct ConstitutionSummary {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub principle_count: usize,
    pub tiers: Vec<TierSummary>,
}

#[derive(Debug, Serialize)]
pub struct TierSummary {
    pub id: String,
    pub name: String,
    pub principle_count: usize,
}

impl ConstitutionSummary {
    fn new(path: PathBuf, constitution: &Constitution) -> Self {
        Self {
            path,
            name: constitution.name.clone(),
            description: constitution.description.clone(),
            principle_count: constitution.principle_count(),
            tiers: constitution
                .tiers
                .iter()
                .map(|tier| TierSummary {
                    id: tier.id.clone(),
                    name: tier.name.clone(),
                    principle_count: tier.principles.len(),
                })
                .collect(),
        }
    }
}

/// The constitution the app was opened with, freshly read from its file.
#[tauri::command]
pub async fn current_constitution(
    state: tauri::State<'_, AppState>,
) -> Result<ConstitutionSummary, CommandError> {
    let path = state.constitution.clone().ok_or_else(|| {
        CommandError::new(
            "no_constitution",
            "no constitution is open: start the app with a constitution file, e.g. \
             `preamble-app constitutions/general-assistant.toml`",
        )
    })?;
    tauri::async_runtime::spawn_blocking(move || {
        let constitution = constitution::load(&path)?;
        Ok(ConstitutionSummary::new(path, &constitution))
    })
    .await
    .map_err(|error| CommandError::new("internal", error.to_string()))?
}

/// The default model as loaded by llama.cpp, with the backend and device that run it. The model
/// is loaded once, by the engine thread that keeps it for later jobs.
#[tauri::command]
pub async fn model_status(state: tauri::State<'_, AppState>) -> Result<ModelInfo, CommandError> {
    Ok(state.engine().await?.info().clone())
}
