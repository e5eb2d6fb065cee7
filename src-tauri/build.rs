//! Generates the permissions of the app's own commands; `capabilities/` grants them.

/// Every command the app registers. `tests/permissions.rs` checks this list against the
/// invoke handler and the capability.
const COMMANDS: &[&str] = &["current_constitution", "model_status"];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
