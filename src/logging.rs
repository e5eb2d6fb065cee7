//! Log set-up shared by the CLI and the app: `tracing` with an env filter.
//!
//! The filter comes from `PREAMBLE_LOG` (the `RUST_LOG` syntax, e.g. `preamble=debug,info`),
//! else the caller's default. Logs go to stderr, or to a file in the data folder's log
//! folder for the desktop app, which has no terminal.

use std::path::Path;

use tracing_subscriber::EnvFilter;

/// The environment variable that sets the log filter.
pub const ENV_VAR: &str = "PREAMBLE_LOG";

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(ENV_VAR).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Sends logs at `default` level (unless `PREAMBLE_LOG` says otherwise) to stderr. Does nothing
/// when a subscriber is already installed.
pub fn to_stderr(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(default))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Sends logs to `<folder>/<file_name>`, appending, creating the folder. Does nothing when a
/// subscriber is already installed.
pub fn to_file(folder: &Path, file_name: &str, default: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(folder.join(file_name))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(default))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}
