//! Preamble's core: everything the CLI and the desktop app share.
//!
//! The core knows nothing of Tauri. It holds the domain model of a constitution and its file
//! format ([`constitution`]), where the app keeps its files ([`data_dir`]), the default model and
//! how it is fetched and verified ([`default_model`]), the llama.cpp engine ([`engine`]) and
//! log set-up ([`logging`]).

pub mod constitution;
pub mod data_dir;
pub mod default_model;
pub mod diff;
pub mod engine;
pub mod interchange;
pub mod logging;
