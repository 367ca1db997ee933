#!/usr/bin/env bash
# The run command: install what is missing, build, and run the main job.
# The daemon `emberd` lands with issue 4; until then this builds everything
# and starts the operator tool on the default data directory (./data).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$jobs"

if [ -x build/release/app/emberd ]; then
  exec build/release/app/emberd --config-file=config/default.ini "$@"
fi
echo "emberd is not part of this build yet (issue 4); the operator tool is"
echo "build/release/app/ember-persist:"
exec build/release/app/ember-persist --help
