#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, builds, type-checks, lints, runs the
# unit and integration tests (real services on 127.0.0.1) in plain Node, the extension-host suite in a
# real VS Code (code-server), and the browser e2e (the workbench driven through its UI, and the demo's
# smoke check). Ends with the line "N passed, N failed" counting all three.
set -euo pipefail
cd "$(dirname "$0")/.."

# tar and gzip build test archives; bsdutils has `script`, which gives the CLI a real terminal; openssl
# makes the test bed's certificates; restic and rclone are the real tools their clients are tested with;
# openssh-server (with openssh-client) is the real sshd the SSH integration tests start on loopback;
# webp's dwebp checks that simulated Frigate images decode; curl is the seed procedure's client, which
# the Frigate faces benchmark runs beside Lifeboat; cron's `crontab` is what the schedule actions edit
# over SSH; postgresql-15 is the real server behind the simulated database pods' pg_dump and
# pg_restore; rsync is what host-to-host sync uses when both ends have it, and pigz the parallel gzip
# archive.create hands compression to when the machine has it. The tests start their own sshd and PostgreSQL on loopback and never need cron's daemon
# or Debian's PostgreSQL cluster: the installer starts no service and leaves the services it
# installed disabled (README, "Running the tests").
bash scripts/install-system-packages.sh tar gzip bsdutils openssl restic rclone openssh-server openssh-client webp curl cron postgresql-15 rsync pigz

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-code-server.sh

node esbuild.config.mjs --tests
npx tsc --noEmit
npx eslint .

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# The CLI keeps its compiled code in $XDG_CACHE_HOME/lifeboat: the tests' goes with their logs.
export XDG_CACHE_HOME="$logs/cache"
status=0
npx mocha | tee "$logs/unit-and-integration" || status=1
node out/test/vscode/runInCodeServer.js | tee "$logs/extension-host" || status=1
npx mocha --config test/e2e/mocharc.json | tee "$logs/browser-e2e" || status=1

# Each suite prints "N passed, N failed", then a "suite failed to load: <file>: <error>" line for each
# test file it could not load (counted as a failure). A suite that printed no total stopped before its
# end: it is named below and counts as one failure.
total() {
  local passed=0 failed=0 line suite
  local problems=()
  for suite in unit-and-integration extension-host browser-e2e; do
    line=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$logs/$suite" | tail -n 1 || true)
    if [ -z "$line" ]; then
      failed=$((failed + 1))
      problems+=("suite did not finish: $suite (no result line; its output is above)")
      continue
    fi
    passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
    while IFS= read -r line; do problems+=("$line"); done < <(grep '^suite failed to load: ' "$logs/$suite" || true)
  done
  echo "$passed passed, $failed failed"
  for line in "${problems[@]}"; do echo "$line"; done
}
echo
total
exit "$status"
