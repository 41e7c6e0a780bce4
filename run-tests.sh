#!/usr/bin/env bash
# run-tests.sh: builds tetriserve and runs the whole test suite twice: the
# normal build (GPU tests skip with exit 77 where there is no GPU) and an
# ASan+UBSan build of everything but the CUDA executor. Ends with the line
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

# Python packages of the tests (tests/requirements.txt), when missing
if grep -qv '^\s*\(#\|$\)' tests/requirements.txt; then
	python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt ||
		{ echo "run-tests.sh: pip could not install tests/requirements.txt"; echo "0 passed, 1 failed"; exit 1; }
fi
./build.sh build || { echo "0 passed, 1 failed"; exit 1; }
./build.sh build-asan -Dcuda=disabled -Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all || { echo "0 passed, 1 failed"; exit 1; }

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=1
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite sim \
	--suite sched --suite cli || status=1

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
