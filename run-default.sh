#!/usr/bin/env bash
# run-default.sh: builds tetriserve and runs the main job on the bundled
# defaults: the default trace on a simulated 4-GPU node under the baselines
# and tetriserve, printing the SLO-attainment table and writing results.db.
# Extra arguments go to `tetriserve sim` (e.g. --gpus 8 --slo-scale 1.2).
set -euo pipefail
cd "$(dirname "$0")"
./build.sh build >/dev/null
exec ./build/tetriserve sim --db results.db "$@"
