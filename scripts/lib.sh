# Shared by the scripts in this folder; sourced, not run.

TARGET_DIR="${CARGO_TARGET_DIR:-target}"

step() { printf '\n== %s\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The llama.cpp backend the build uses: sets GPU (cuda, vulkan or cpu) and GPU_REASON.
# PREAMBLE_GPU=cuda|vulkan|cpu decides; else CUDA when its toolkit (nvcc) and an NVIDIA driver
# are present, Vulkan when a GPU render node is present (the Vulkan build tools are Debian
# packages that setup installs), else the CPU.
choose_gpu() {
  case "${PREAMBLE_GPU:-}" in
    cuda|vulkan|cpu) GPU=$PREAMBLE_GPU; GPU_REASON="PREAMBLE_GPU=$PREAMBLE_GPU"; return ;;
    "") ;;
    *) die "PREAMBLE_GPU is '$PREAMBLE_GPU'; it takes cuda, vulkan or cpu" ;;
  esac
  local nvcc
  nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
  if [ -n "$nvcc" ] && { [ -e /dev/nvidiactl ] || command -v nvidia-smi >/dev/null; }; then
    GPU=cuda; GPU_REASON="the CUDA toolkit ($nvcc) and an NVIDIA driver are present"
    # llama.cpp's CMake finds the compiler by CUDACXX when it is not on PATH.
    export CUDACXX="${CUDACXX:-$nvcc}"
  elif compgen -G "/dev/dri/renderD*" >/dev/null; then
    GPU=vulkan; GPU_REASON="a GPU render node ($(compgen -G '/dev/dri/renderD*' | head -n1)) is present and no CUDA toolkit"
  else
    GPU=cpu; GPU_REASON="no CUDA toolkit and no GPU render node found"
  fi
}
choose_gpu

# One profile and one feature set serve clippy, the tests, the E2E app and `run-app.sh`, so every
# dependency is compiled once (the dev profile optimizes dependencies; see Cargo.toml).
APP_FEATURES="preamble-app/custom-protocol"
[ "$GPU" = cpu ] || APP_FEATURES="$APP_FEATURES preamble-app/$GPU"
