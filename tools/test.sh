#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the C unit tests
# (cmocka), the Python glue's unit tests and the end-to-end runs of the
# binary. Ends with one line "N passed, N failed" over the meson tests.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
if [ -f build/build.ninja ]; then
    meson setup --reconfigure build >/dev/null
else
    meson setup build >/dev/null
fi
meson compile -C build

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=$?

/usr/bin/python3 - <<'PY'
import json
passed = failed = 0
with open("build/meson-logs/testlog.json") as f:
    for line in f:
        result = json.loads(line)["result"]
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result != "SKIP":
            failed += 1
print(f"{passed} passed, {failed} failed")
PY
exit "$status"
