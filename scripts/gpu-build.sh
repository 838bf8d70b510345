#!/usr/bin/env bash
# Builds the model library alone (-DFEDLOG_MODEL_ONLY=ON) against the CUDA LibTorch of a machine's Python torch,
# for GPU sites and GPU measurements. Such machines may have no Abseil/GoogleTest packages: pass a folder holding
# Debian's orig tarballs (abseil_*.orig.tar.gz, googletest_*.orig.tar.gz; `apt-get source --download-only abseil
# googletest` on Debian fetches them) and they are built from source.
# usage: scripts/gpu-build.sh BUILD_DIR [TARBALL_DIR] [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:?usage: gpu-build.sh BUILD_DIR [TARBALL_DIR] [targets...]}"
tarballs="${2:-}"
shift $(( $# >= 2 ? 2 : 1 ))
extra=()
if [ -n "$tarballs" ]; then
  mkdir -p "$build/third_party_src"
  for t in "$tarballs"/abseil_*.orig.tar.gz "$tarballs"/googletest_*.orig.tar.gz; do
    tar -xzf "$t" -C "$build/third_party_src"
  done
  absl_src="$(ls -d "$build"/third_party_src/abseil-* | head -1)"
  gtest_src="$(ls -d "$build"/third_party_src/googletest-* | head -1)"
  extra+=(-DFEDLOG_ABSL_SOURCE_DIR="$(realpath "$absl_src")" -DFEDLOG_GTEST_SOURCE_DIR="$(realpath "$gtest_src")")
fi
torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFEDLOG_MODEL_ONLY=ON -DFEDLOG_USE_CCACHE=OFF \
  -DCMAKE_PREFIX_PATH="$torch_prefix" "${extra[@]}"
cmake --build "$build" -j "$(nproc)" --target "${@:-fedlog_model}"
