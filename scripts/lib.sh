# Shared by the scripts in this folder; sourced, not run.

# One profile and one feature set serve clippy, the tests, the E2E app and `run-app.sh`, so every
# dependency is compiled once (the dev profile optimizes dependencies; see Cargo.toml).
APP_FEATURES="preamble-app/custom-protocol"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

step() { printf '\n== %s\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
