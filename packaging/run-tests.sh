#!/bin/sh
# Installs what is missing (apt-get), builds ParamScope and runs the whole test suite: every
# label (unit, io, cli, engine, xai, gui under xvfb-run) in the release build, then the unit, io, cli,
# engine and xai tests again under AddressSanitizer + UBSan (the malformed-file corpus must be clean
# there).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/packaging/install-deps.sh" --test
cd "$src"
cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan -L 'unit|io|cli|engine|xai'
