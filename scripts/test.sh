#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, builds, type-checks, lints and runs
# every test. Ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-packages.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

node esbuild.config.mjs --tests
npx tsc --noEmit
npx eslint .
npx mocha
