//! Preamble's core: everything the CLI and the desktop app share.
//!
//! The core knows nothing of Tauri. It holds the domain model of a constitution and its TOML
//! file format ([`constitution`]), the other formats it imports and exports ([`interchange`]),
//! the version history in SQLite ([`store`]), structural diffs between versions ([`diff`]),
//! where the app keeps its files ([`data_dir`]), how files users keep are written ([`files`]), the default model and how it is fetched and
//! verified ([`default_model`]), prompt sets ([`prompt_set`]), refusal detection
//! ([`refusal`]) and log set-up ([`logging`]). Behind the default `engine` feature: the
//! llama.cpp engine (`engine`), the critique -> revision preview (`preview`), AI preference
//! labels (`feedback`), the throughput benchmark (`bench`), the model's worker process
//! (`worker`), the run service the CLI and the app share (`runs`), principle ablation
//! (`ablation`), the metrics of stored runs (`metrics`), compares of two runs (`compare`),
//! training-data export (`dataset`) and shareable reports (`report`).

#[cfg(feature = "engine")]
pub mod ablation;
#[cfg(feature = "engine")]
pub mod bench;
#[cfg(feature = "engine")]
pub mod compare;
pub mod constitution;
pub mod data_dir;
#[cfg(feature = "engine")]
pub mod dataset;
pub mod default_model;
pub mod diff;
#[cfg(feature = "engine")]
pub mod engine;
#[cfg(feature = "engine")]
pub mod feedback;
pub mod files;
pub mod interchange;
pub mod logging;
#[cfg(feature = "engine")]
pub mod metrics;
#[cfg(feature = "engine")]
pub mod preview;
pub mod prompt_set;
pub mod refusal;
#[cfg(feature = "engine")]
pub mod report;
#[cfg(feature = "engine")]
pub mod runs;
pub mod store;
#[cfg(feature = "engine")]
pub mod worker;
