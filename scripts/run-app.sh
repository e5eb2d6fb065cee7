#!/usr/bin/env bash
# Command 1: set up, build and open the desktop app with the sample constitution.
#   scripts/run-app.sh [CONSTITUTION.toml]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/lib.sh
step "starting the app"
exec "$TARGET_DIR/debug/preamble-app" "${1:-constitutions/general-assistant.toml}"
