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
# Count test cases, not meson's test programs: unittest's "Ran N tests",
# cmocka's "[  PASSED  ] N test(s)" / "[  FAILED  ] N test(s)".
import json
import re
passed = failed = 0
with open("build/meson-logs/testlog.json") as f:
    for line in f:
        entry = json.loads(line)
        out = entry.get("stdout", "") + entry.get("stderr", "")
        ran = [int(n) for n in re.findall(r"^Ran (\d+) tests?", out, re.M)]
        if ran:
            bad = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", out))
            passed += sum(ran) - bad
            failed += bad
            continue
        ok = [int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out)]
        ko = [int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out)]
        if ok or ko:
            passed += sum(ok)
            failed += sum(ko)
        elif entry["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif entry["result"] != "SKIP":
            failed += 1
print(f"{passed} passed, {failed} failed")
PY
exit "$status"
