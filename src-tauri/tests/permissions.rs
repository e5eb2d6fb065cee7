//! Least privilege: every command the app registers has a generated permission, the main
//! window's capability grants exactly those permissions, and nothing else.

use std::collections::BTreeSet;
use std::path::Path;

fn source(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The identifiers between `start` and the next `end` in `text`, e.g. a list of commands.
fn names_between(text: &str, start: &str, end: &str) -> BTreeSet<String> {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not found"))
        + start.len();
    let to = from + text[from..].find(end).expect("end marker");
    text[from..to]
        .split([',', '\n', ' ', '"', '&', '['])
        .map(|name| name.trim().rsplit("::").next().unwrap_or_default())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_registered_command_is_declared_and_granted() {
    let registered = names_between(&source("src/main.rs"), "generate_handler![", "]");
    let declared = names_between(&source("build.rs"), "COMMANDS: &[&str] = &[", "]");
    assert_eq!(
        registered, declared,
        "build.rs COMMANDS vs generate_handler!"
    );

    let capability: serde_json::Value =
        serde_json::from_str(&source("capabilities/main-window.json")).unwrap();
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .expect("permissions array")
        .iter()
        .map(|p| p.as_str().expect("plain permission names only").to_owned())
        .collect();
    let expected: BTreeSet<String> = declared
        .iter()
        .map(|command| format!("allow-{}", command.replace('_', "-")))
        .collect();
    assert_eq!(
        granted, expected,
        "the capability grants exactly the app's commands"
    );
}

#[test]
fn the_content_security_policy_allows_no_remote_or_inline_code() {
    let config: serde_json::Value = serde_json::from_str(&source("tauri.conf.json")).unwrap();
    let csp = &config["app"]["security"]["csp"];
    assert_eq!(csp["default-src"], "'self'");
    assert_eq!(csp["script-src"], "'self'");
    assert_eq!(csp["object-src"], "'none'");
    let allowed = ["'self'", "'none'", "data:", "ipc:", "http://ipc.localhost"];
    for (directive, sources) in csp.as_object().expect("CSP as an object") {
        for source in sources
            .as_str()
            .expect("sources as a string")
            .split_whitespace()
        {
            assert!(
                allowed.contains(&source),
                "CSP {directive} allows {source}: only local sources are allowed"
            );
        }
    }
}
