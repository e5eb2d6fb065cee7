//! One app per data folder: two processes must never autosave the same draft.
//!
//! The first process holds an exclusive lock on `<data>/app.lock` for as long as it runs (the
//! kernel drops it when the process ends, also after a crash) and listens on the Unix socket
//! `<data>/app.sock`. A later launch on the same folder finds the lock taken, sends its file
//! argument over the socket (the path's bytes; nothing when it has none) and exits; the first
//! process opens that file and brings its window to the front. A first process that is closing
//! (its window gone, the process not yet ended) says so, and the later launch waits for the
//! folder to be free and takes it: a quick relaunch is never lost. Apps with different data
//! folders (the E2E suites side by side) do not see each other.

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file's name in the data folder.
const LOCK: &str = "app.lock";
/// The socket's name in the data folder.
const SOCKET: &str = "app.sock";
/// How long a second launch keeps trying to reach the first (which may be starting up).
const PATIENCE: Duration = Duration::from_secs(10);
/// The longest file argument accepted over the socket.
const MAX_MESSAGE: u64 = 64 * 1024;
/// The first process's answer: it took the launch over.
const TAKEN: &[u8] = b"taken\n";
/// The first process's answer: it is closing; the launch should wait and start itself.
const CLOSING: &[u8] = b"closing\n";

/// What [`claim`] found.
enum Claim {
    /// No other app runs on this data folder: this process is the one.
    First(Instance),
    /// Another app runs on this data folder.
    Running,
}

/// The running app's hold on its data folder.
pub struct Instance {
    /// Held, not read: the lock lasts as long as the file is open.
    _lock: File,
    /// `None` when the socket could not be bound (a data folder whose path is too long for a
    /// socket name): the app still runs alone, but later launches cannot hand over.
    listener: Option<UnixListener>,
}

/// Takes the data folder `root` for this process, unless another app holds it.
fn claim(root: &Path) -> std::io::Result<Claim> {
    std::fs::create_dir_all(root)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(LOCK))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(Claim::Running),
        Err(TryLockError::Error(error)) => return Err(error),
    }
    // A socket left by a process that crashed: the lock says no one listens on it.
    let socket = root.join(SOCKET);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .inspect_err(|error| {
            tracing::warn!(socket = %socket.display(), %error, "later launches cannot hand over")
        })
        .ok();
    Ok(Claim::First(Instance {
        _lock: lock,
        listener,
    }))
}

/// Takes the data folder `root` for this process, or hands `file` to the app that holds it:
/// `None` when the launch was handed over. When that app is closing, waits for it to end and
/// takes the folder.
pub fn claim_or_hand_over(root: &Path, file: Option<&Path>) -> std::io::Result<Option<Instance>> {
    let started = Instant::now();
    loop {
        match claim(root)? {
            Claim::First(instance) => return Ok(Some(instance)),
            Claim::Running if hand_over(root, file)? => return Ok(None),
            Claim::Running if started.elapsed() > PATIENCE => {
                return Err(std::io::Error::other(
                    "the app that holds the data folder is closing but does not end",
                ));
            }
            Claim::Running => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Sends `file` (or nothing) to the app that holds `root`, trying for a while when it is still
/// starting: `true` when it took the launch over, `false` when it is closing.
fn hand_over(root: &Path, file: Option<&Path>) -> std::io::Result<bool> {
    let socket = root.join(SOCKET);
    let started = Instant::now();
    let mut stream = loop {
        match UnixStream::connect(&socket) {
            Ok(stream) => break stream,
            Err(_) if started.elapsed() < PATIENCE => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => return Err(error),
        }
    };
    if let Some(file) = file {
        stream.write_all(file.as_os_str().as_bytes())?;
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    // Wait until the first app has read the message, so the launch ends after its job is done.
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(answer == TAKEN)
}

impl Instance {
    /// Calls `on_launch` with each later launch's file argument, on a thread of its own;
    /// `on_launch` says whether it took the launch over (`false`: the app is closing).
    pub fn listen(self, on_launch: impl Fn(Option<PathBuf>) -> bool + Send + 'static) {
        let Self {
            _lock: lock,
            listener,
        } = self;
        let Some(listener) = listener else {
            // Nothing to listen on, but the folder stays taken until the process ends.
            std::mem::forget(lock);
            return;
        };
        std::thread::spawn(move || {
            // The lock moves here: it lasts as long as the thread, which lasts as long as the app.
            let _lock = lock;
            for stream in listener.incoming() {
                let mut stream = match stream {
                    Ok(stream) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "a later launch could not connect");
                        continue;
                    }
                };
                let mut message = Vec::new();
                if let Err(error) = (&mut stream).take(MAX_MESSAGE).read_to_end(&mut message) {
                    tracing::warn!(%error, "a later launch sent nothing readable");
                    continue;
                }
                let file = (!message.is_empty())
                    .then(|| PathBuf::from(std::ffi::OsString::from_vec(message)));
                tracing::info!(?file, "a later launch handed over");
                let answer = if on_launch(file) { TAKEN } else { CLOSING };
                let _ = stream.write_all(answer);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_second_launch_hands_its_file_to_the_first_and_other_folders_are_apart() {
        let data = tempfile::tempdir().unwrap();
        let Claim::First(first) = claim(data.path()).unwrap() else {
            panic!("nothing else holds a fresh folder")
        };
        assert!(matches!(claim(data.path()).unwrap(), Claim::Running));
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(claim(other.path()).unwrap(), Claim::First(_)));

        let (sender, launches) = mpsc::channel();
        first.listen(move |file| {
            sender.send(file).unwrap();
            true
        });
        let file = Path::new("/home/me/new policy.toml");
        assert!(hand_over(data.path(), Some(file)).unwrap());
        assert!(
            claim_or_hand_over(data.path(), None).unwrap().is_none(),
            "handed over"
        );
        let timeout = Duration::from_secs(5);
        assert_eq!(launches.recv_timeout(timeout).unwrap(), Some(file.into()));
        assert_eq!(launches.recv_timeout(timeout).unwrap(), None);
        // Still held: a third launch is still second.
        assert!(matches!(claim(data.path()).unwrap(), Claim::Running));
    }

    #[test]
    fn a_closing_app_sends_a_later_launch_away_to_start_by_itself() {
        let data = tempfile::tempdir().unwrap();
        let Claim::First(closing) = claim(data.path()).unwrap() else {
            panic!("fresh folder")
        };
        closing.listen(|_| false);
        assert!(!hand_over(data.path(), None).unwrap());
    }

    #[test]
    fn a_crashed_app_leaves_the_folder_free() {
        let data = tempfile::tempdir().unwrap();
        let Claim::First(first) = claim(data.path()).unwrap() else {
            panic!("fresh folder")
        };
        // Its socket file stays behind; its lock goes with it.
        drop(first);
        assert!(data.path().join(SOCKET).exists());
        let Claim::First(again) = claim(data.path()).unwrap() else {
            panic!("the lock ended with its holder")
        };
        assert!(again.listener.is_some());
    }
}
