#!/usr/bin/env bash
# build.sh: installs what the build needs (Debian packages, only when missing)
# and builds tetriserve into build/ (or the folder given as $1).
# Extra arguments after the folder go to `meson setup`.
set -euo pipefail
cd "$(dirname "$0")"
builddir="${1:-build}"
shift || true

need=()
for pkg in meson ninja-build pkg-config gcc libgsl-dev libsqlite3-dev libjansson-dev libglpk-dev libltdl-dev python3; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "build.sh: installing ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" "$@"
fi
ninja -C "$builddir"
