#!/usr/bin/env bash
# The run command: install what is missing, build, and run emberd in the
# foreground on config/default.ini (data in ./data of this checkout,
# Redis protocol on 127.0.0.1:6399). Extra arguments override options,
# e.g. ./scripts/run.sh --persistence.fsync=always. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$jobs"

exec build/release/app/emberd --config-file=config/default.ini "$@"
