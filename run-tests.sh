#!/usr/bin/env bash
# run-tests.sh: builds tetriserve and runs the whole test suite twice: the
# normal build (GPU tests skip with exit 77 where there is no GPU) and an
# ASan+UBSan build of everything but the CUDA executor; then the fuzz
# harnesses of the parsers for about a minute. Ends with the line
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

# The fuzz harnesses (tests/fuzz, 20 s each under ASan+UBSan): under
# libFuzzer in a clang build of just them (and the core they link) when
# clang is here, else under tests/fuzz/fuzz_main.c in the ASan build.
fuzz_targets=(tests/fuzz/fuzz_trace tests/fuzz/fuzz_profile tests/fuzz/fuzz_spec)
fuzz_suite=(--suite fuzz)
if command -v clang >/dev/null 2>&1 &&
	{ [ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dcuda=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" >/dev/null; } &&
	ninja -C build-fuzz "${fuzz_targets[@]}" >/dev/null; then
	fuzz_suite=()
fi

status=0
logs=(build/meson-logs/testlog.json build-asan/meson-logs/testlog.json)
meson test -C build --print-errorlogs --num-processes 2 || status=1
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite sim \
	--suite sched --suite cli "${fuzz_suite[@]}" || status=1
if [ ${#fuzz_suite[@]} -eq 0 ]; then
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		meson test -C build-fuzz --no-rebuild --print-errorlogs --num-processes 2 --suite fuzz ||
		status=1
	logs+=(build-fuzz/meson-logs/testlog.json)
fi

python3 - "${logs[@]}" <<'PY'
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
