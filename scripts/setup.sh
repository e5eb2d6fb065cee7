#!/usr/bin/env bash
# Installs what Preamble needs on Debian 12 and builds it: Debian packages, the UI's npm
# packages, the Rust workspace, the default model and (with --test) the E2E driver.
# Idempotent: each step is skipped when its result is already in place.
#   scripts/setup.sh          everything to run the app
#   scripts/setup.sh --test   also what the test suites need
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

with_tests=false
[ "${1:-}" = "--test" ] && with_tests=true

packages=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev cmake clang libclang-dev curl file python3-pip)
$with_tests && packages+=(webkit2gtk-driver xvfb xauth dbus dbus-x11)
# The Vulkan build compiles llama.cpp's shaders with glslc against the loader's headers; Mesa's
# drivers run it on AMD and Intel GPUs (NVIDIA's driver brings its own).
[ "$GPU" = vulkan ] && packages+=(libvulkan-dev glslc mesa-vulkan-drivers)

step "GPU backend"
echo "building for: $GPU ($GPU_REASON); set PREAMBLE_GPU=cuda|vulkan|cpu to choose"

step "Debian packages"
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all ${#packages[@]} present"
fi

step "toolchains"
command -v cargo >/dev/null || die "cargo not found: install Rust 1.90 or newer with rustup (https://rustup.rs)"
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))"
echo "$(cargo --version); node $(node --version); npm $(npm --version)"

step "UI packages"
lock_sum=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
if [ "$(cat ui/node_modules/.preamble-lock 2>/dev/null)" != "$lock_sum" ]; then
  (cd ui && npm ci --no-audit --no-fund)
  echo "$lock_sum" > ui/node_modules/.preamble-lock
else
  echo "up to date"
fi

step "UI build"
(cd ui && npm run --silent build)

step "Rust build (CLI and app)"
cargo build --workspace --bins --features "$APP_FEATURES"

step "default model"
"$TARGET_DIR/debug/preamble" model fetch

if $with_tests; then
  step "tauri-driver"
  if ! cargo install --list | grep -qx "tauri-driver v2.1.0:"; then
    cargo install tauri-driver --version 2.1.0 --locked
  else
    echo "tauri-driver 2.1.0 present"
  fi
fi
