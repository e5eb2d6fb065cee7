#!/usr/bin/env bash
# Builds the Debian package of the desktop app: a release build of the app (the UI compiled in)
# bundled by the Tauri CLI (`tauri build --bundles deb`, installed from npm with the UI's packages).
# Prints the .deb's path; install it with `sudo apt install ./Preamble_*.deb`.
#   scripts/package-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/setup.sh

step "release build and .deb"
(cd src-tauri && ../ui/node_modules/.bin/tauri build --bundles deb --features custom-protocol)

deb=$(ls -t "$TARGET_DIR"/release/bundle/deb/Preamble_*_amd64.deb | head -n 1)
step "built $deb"
dpkg-deb --info "$deb" | grep -E '^ (Package|Version|Architecture|Depends|Installed-Size):'
