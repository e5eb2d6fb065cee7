#!/usr/bin/env bash
# Command 2: set up, then run every check and test suite: formatting, lints, the UI's type
# check and unit tests, Rust unit and integration tests (real model, real files), and the E2E
# suites in a real window under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh --test
source scripts/lib.sh

step "cargo fmt"
cargo fmt --all -- --check

step "UI type check and unit tests"
(cd ui && npm run --silent check && npm test --silent)

step "cargo clippy"
cargo clippy --workspace --all-targets --features "$APP_FEATURES" -- -D warnings

# One cargo invocation builds and runs the unit, integration and E2E suites with one feature
# set; the E2E suites need a display and a D-Bus session, in that order.
step "Rust unit, integration and E2E tests"
xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- \
  cargo test --workspace --features "$APP_FEATURES"
echo "E2E artifacts: $TARGET_DIR/e2e/"

step "all checks passed in $(( $(date +%s) - start )) s"
