#!/usr/bin/env bash
# record.sh: re-records tests/regress/baseline.json, the configurations the
# CI replays (tests/regress/meson.build), after an intended change of
# results: the bundled traces on 4 GPUs under today's FCFS baselines, the
# fair baselines (EDF, late requests set aside) and tetriserve.
# usage: tests/regress/record.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
exe="${1:-build}/tetriserve"
db="$(mktemp -d)/regress.db"
policies="fixed-sp:1,fixed-sp:2,fixed-sp:4,rssp,tetriserve"
policies+=",fixed-sp:4:order=edf:late=defer,rssp:256/1+512/1+1024/2+2048/4:order=edf:late=defer"
policies+=",tetriserve:late=drop"
for trace in traces/default.csv traces/skewed.csv traces/bursty.csv; do
	"$exe" sim --trace "$trace" --profile traces/profiles/flux-dev_H200_engine.csv --gpus 4 \
		--policy "$policies" --db "$db" --quiet
done
"$exe" sim --trace traces/default.csv --profile traces/profiles/flux-dev_H200_engine.csv --gpus 4 \
	--policy tetriserve,fixed-sp:4:order=edf:late=defer --slo-scale 1.5 --db "$db" --quiet
"$exe" sim --trace traces/default.csv --profile traces/profiles/flux-dev_H200_engine.csv --gpus 4 \
	--policy tetriserve,fixed-sp:4:order=edf:late=defer --slo-scale 2.5 --db "$db" --quiet
"$exe" regress --db "$db" --baseline tests/regress/baseline.json --record
rm -rf "$(dirname "$db")"
