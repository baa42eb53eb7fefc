#!/usr/bin/env bash
# Installs what is missing, builds, and decomposes the bundled example model
# into workspace/output/custom/mlp_conv/ (a model outside a levelN folder
# is of source level "custom").
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
if [ -f build/build.ninja ]; then
    meson setup --reconfigure build >/dev/null
else
    meson setup build >/dev/null
fi
meson compile -C build
build/decompose workspace/data/examples/mlp_conv.py
