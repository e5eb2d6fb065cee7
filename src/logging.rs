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

/// The size past which a log file is rotated: it becomes `<file_name>.1` (replacing the older
/// one) and a new file starts, so the logs of an app that runs for weeks stay under twice this.
pub const MAX_LOG_BYTES: u64 = 4 * 1024 * 1024;

/// Sends logs to `<folder>/<file_name>`, appending, creating the folder, rotated past
/// [`MAX_LOG_BYTES`]. Does nothing when a subscriber is already installed.
pub fn to_file(folder: &Path, file_name: &str, default: &str) -> std::io::Result<()> {
    let file = RotatingFile::open(folder.join(file_name), MAX_LOG_BYTES)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(default))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

/// Logs panics (message, place and backtrace) as errors, after the usual report on stderr: an
/// app started from a desktop has no terminal, so its log is the only place a panic shows.
pub fn log_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let place = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!(%message, %place, %thread, %backtrace, "panic");
    }));
}

/// A log file that starts over, keeping the previous one as `<path>.1`, once it holds
/// `limit` bytes.
pub struct RotatingFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    written: u64,
    limit: u64,
}

impl RotatingFile {
    /// Opens `path` for appending, creating it and its folder; rotates it first when it is
    /// already past `limit`.
    pub fn open(path: std::path::PathBuf, limit: u64) -> std::io::Result<Self> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let file = Self::append(&path)?;
        let written = file.metadata()?.len();
        let mut log = Self {
            path,
            file,
            written,
            limit,
        };
        if log.written >= limit {
            log.rotate()?;
        }
        Ok(log)
    }

    fn append(path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, old)?;
        self.file = Self::append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl std::io::Write for RotatingFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // Rotates between records (tracing writes one record per call), never inside one.
        if self.written > 0 && self.written + bytes.len() as u64 > self.limit {
            self.rotate()?;
        }
        let n = self.file.write(bytes)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_log_file_is_rotated_past_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/app.log");
        let mut log = RotatingFile::open(path.clone(), 100).unwrap();
        for i in 0..12 {
            log.write_all(format!("record {i:02} of twenty bytes\n").as_bytes())
                .unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        let current = read(&path);
        let previous = read(&dir.path().join("logs/app.log.1"));
        assert!(
            current.len() <= 100 && previous.len() <= 100,
            "{current}{previous}"
        );
        assert!(
            current.ends_with("record 11 of twenty bytes\n"),
            "{current}"
        );
        assert!(previous.starts_with("record 0"), "{previous}");
        // Every record is whole, in one file or the other.
        for record in current.lines().chain(previous.lines()) {
            assert!(record.ends_with("of twenty bytes"), "{record}");
        }
        // A file already past the limit is rotated when it is opened.
        drop(log);
        std::fs::write(&path, "x".repeat(150)).unwrap();
        let log = RotatingFile::open(path.clone(), 100).unwrap();
        assert_eq!(log.written, 0);
        assert_eq!(read(&dir.path().join("logs/app.log.1")).len(), 150);
    }
}
