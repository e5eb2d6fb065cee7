//! A process killed with SIGKILL in the middle of committing never corrupts the store or loses
//! a committed version. The child process is this test binary running `commits_until_killed`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use preamble::constitution;
use preamble::store::{Revision, Store};

const CHILD_ENV: &str = "PREAMBLE_CRASH_TEST_DB";

fn sample() -> constitution::Constitution {
    constitution::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("constitutions/general-assistant.toml"),
    )
    .unwrap()
}

/// The child: commits edit after edit until it is killed. Does nothing unless started by
/// `killing_committers_never_corrupts_the_store`.
#[test]
#[ignore = "run as a child process by killing_committers_never_corrupts_the_store"]
fn commits_until_killed() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = Store::open(Path::new(&db)).unwrap();
    let mut constitution = sample();
    if store.draft("crash").is_err() {
        store.create("crash", &constitution).unwrap();
    }
    for round in 0u64.. {
        constitution.description = format!("edit {round} in process {}", std::process::id());
        store.save_draft("crash", &constitution, None).unwrap();
        store
            .commit("crash", &format!("round {round}"), "crash-test")
            .unwrap();
    }
}

#[test]
fn killing_committers_never_corrupts_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite");
    let mut committed = 0;
    for (kill, delay_ms) in [150u64, 90, 260, 40, 330, 120, 210, 70]
        .into_iter()
        .enumerate()
    {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "commits_until_killed",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, &db)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = Store::open(&db).unwrap();
        assert_eq!(
            store.verify().unwrap(),
            Vec::<String>::new(),
            "after kill {kill}"
        );
        let log = store.log("crash").unwrap_or_default();
        let numbers: Vec<u32> = log.iter().rev().map(|v| v.number).collect();
        assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>());
        assert!(
            log.len() >= committed,
            "a committed version was lost after kill {kill}"
        );
        committed = log.len();
        if let Some(newest) = log.first() {
            let resolved = store
                .resolve("crash", &Revision::Number(newest.number))
                .unwrap();
            assert!(constitution::validate(&resolved.constitution).is_empty());
            store.draft("crash").unwrap();
        }
    }
    assert!(
        committed > 0,
        "the child never committed: the test proved nothing"
    );
}
