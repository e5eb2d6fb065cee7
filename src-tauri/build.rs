//! Generates the permissions of the app's own commands; `capabilities/` grants them.

/// Every command the app registers. `tests/permissions.rs` checks this list against the
/// invoke handler and the capability.
const COMMANDS: &[&str] = &[
    "startup",
    "set_theme",
    "watch_close",
    "close_window",
    "acknowledge_close",
    "library",
    "create_constitution",
    "import_constitution",
    "formats",
    "export_constitution",
    "fork_constitution",
    "delete_constitution",
    "restore_constitution",
    "open_draft",
    "save_draft",
    "commit_draft",
    "history",
    "checkout_version",
    "tag_version",
    "diff_revisions",
    "export_diff_markdown",
    "choose_import_file",
    "choose_save_file",
    "model_status",
    "start_model",
    "fetch_default_model",
    "watch_launches",
    "log_ui_error",
    "runs",
    "run_detail",
    "prompt_sets",
    "preview_defaults",
    "start_preview",
    "resume_run",
    "cancel_run",
    "rerun_prompt",
    "export_run_dataset",
    "export_run_report",
    "choose_export_folder",
    "use_model",
    "start_compare",
    "cancel_compare",
    "diff_behaviour",
    "stored_prompt_sets",
    "prompt_set_items",
    "save_prompt_set",
    "import_prompt_set",
    "delete_prompt_set",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
