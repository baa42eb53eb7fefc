#!/usr/bin/env bash
# Install every Debian package decompose needs to build, test and run.
#
# Idempotent and quick when everything is there: the packages are checked
# with dpkg-query first, and apt-get runs only for the missing ones. Uses
# sudo only when not root.
set -euo pipefail

packages=(
  gcc
  libc6-dev
  meson
  ninja-build
  pkg-config
  libpython3-dev
  libyaml-dev
  libjansson-dev
  libcmocka-dev
  python3-torch
  python3-torchvision
  python3-torchaudio
  # Debian's torch calls the system BLAS (BLAS_INFO=generic), and the
  # reference one is ~30x slower at a 1024x4096x4096 linear (1.9 against 58
  # GFLOP/s on one core here): every linear, matmul and RNN of a model, run
  # ~20 times by a decomposition. This one threads with OpenMP, as torch
  # does, and becomes libblas.so.3 through Debian's alternatives.
  libopenblas0-openmp
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
