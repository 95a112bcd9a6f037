#!/usr/bin/env bash
# The main job: builds the CLI and runs the bundled backup and restore runbooks against a small local
# lab (a folder of application data), then shows that the restored tree equals the original.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node esbuild.config.mjs

lab=${LIFEBOAT_DEMO_DIR:-$repo/.lifeboat/demo}
rm -rf "$lab"
mkdir -p "$lab/app/config" "$lab/app/data/faces/Asha" "$lab/app/data/faces/G" "$lab/app/logs"
printf 'listen: 0.0.0.0:5000\nretention_days: 7\n' > "$lab/app/config/app.yaml"
for n in 1 2 3; do head -c 40000 /dev/urandom > "$lab/app/data/faces/Asha/face-$n.webp"; done
head -c 52000 /dev/urandom > "$lab/app/data/faces/G/face-1.webp"
seq 1 5000 | sed 's/^/request handled in 12 ms, id=/' > "$lab/app/logs/app.log"
printf 'locations:\n  local:\n    path: backups\n' > "$lab/lifeboat.yaml"
cp runbooks/*.runbook.md "$lab/"

lifeboat() { node "$repo/dist/cli.js" "$@"; }
step() { printf '\n\033[1m$ lifeboat %s\033[0m\n' "$*"; }

cd "$lab"
step check local-backup.runbook.md
lifeboat check local-backup.runbook.md
step run local-backup.runbook.md --param source=app --param keep=3
lifeboat run local-backup.runbook.md --param source=app --param keep=3
step run local-restore.runbook.md --param target=restored --dry-run
lifeboat run local-restore.runbook.md --param target=restored --dry-run
step run local-restore.runbook.md --param target=restored
lifeboat run local-restore.runbook.md --param target=restored

printf '\n\033[1mRestored tree equals the original:\033[0m '
diff -r app restored >/dev/null && echo yes
printf 'Run history: %s\n' "$(ls "$lab"/.lifeboat/runs/*.jsonl)"
