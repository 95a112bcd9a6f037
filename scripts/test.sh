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
# over SSH (its daemon is never started by the tests).
bash scripts/install-system-packages.sh tar gzip bsdutils openssl restic rclone openssh-server openssh-client webp curl cron

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-code-server.sh

node esbuild.config.mjs --tests
npx tsc --noEmit
npx eslint .

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
npx mocha | tee "$logs/unit" || status=1
node out/test/vscode/runInCodeServer.js | tee "$logs/vscode" || status=1
npx mocha --config test/e2e/mocharc.json | tee "$logs/e2e" || status=1

# Each suite prints "N passed, N failed"; a suite that printed none counts as one failure.
total() {
  local passed=0 failed=0 line
  for log in "$logs/unit" "$logs/vscode" "$logs/e2e"; do
    line=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    if [ -z "$line" ]; then failed=$((failed + 1)); continue; fi
    passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
  done
  echo "$passed passed, $failed failed"
}
echo
total
exit "$status"
