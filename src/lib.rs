//! Preamble's core: everything the CLI and the desktop app share.
//!
//! The core knows nothing of Tauri. It holds the domain model of a constitution and its TOML
//! file format ([`constitution`]), the other formats it imports and exports ([`interchange`]),
//! the version history in SQLite ([`store`]), structural diffs between versions ([`diff`]),
//! where the app keeps its files ([`data_dir`]), the default model and how it is fetched and
//! verified ([`default_model`]), the llama.cpp engine (`engine`, behind the default `engine`
//! feature) and log set-up ([`logging`]).

pub mod constitution;
pub mod data_dir;
pub mod default_model;
pub mod diff;
#[cfg(feature = "engine")]
pub mod engine;
pub mod interchange;
pub mod logging;
pub mod store;
