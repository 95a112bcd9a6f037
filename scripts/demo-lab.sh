#!/usr/bin/env bash
# Writes the demo lab into the folder given (created; it must not exist yet): a small application
# folder, a lifeboat.yaml with the backup location `local`, the bundled runbooks plus a tour of the lab,
# and two backups made with the CLI, so every view has something to show. Used by `npm run demo` and
# by the browser e2e, which open it as their workspace. Needs dist/cli.js (node esbuild.config.mjs).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
lab=${1:?usage: scripts/demo-lab.sh NEW_FOLDER}
if [ -e "$lab" ]; then
  echo "demo-lab: $lab already exists; the lab is only written into a new folder" >&2
  exit 2
fi

mkdir -p "$lab/app/config" "$lab/app/data/faces/Asha" "$lab/app/data/faces/G" "$lab/app/logs" "$lab/runbooks"
printf 'listen: 0.0.0.0:5000\nretention_days: 7\n' > "$lab/app/config/app.yaml"
for n in 1 2 3; do head -c 40000 /dev/urandom > "$lab/app/data/faces/Asha/face-$n.webp"; done
head -c 52000 /dev/urandom > "$lab/app/data/faces/G/face-1.webp"
seq 1 5000 | sed 's/^/request handled in 12 ms, id=/' > "$lab/app/logs/app.log"
printf 'locations:\n  local:\n    path: backups\n' > "$lab/lifeboat.yaml"
cp "$repo"/runbooks/*.runbook.md "$lab/runbooks/"
cat > "$lab/runbooks/lab-tour.runbook.md" <<'EOF'
---
title: Tour of the lab
description: What the demo lab holds and which backups of it exist.
---

# Tour of the lab

This workspace is a small application folder, `app/`, backed up into `backups/`: the location
`local` in `lifeboat.yaml`. Run All to see both. Then open `local-backup.runbook.md` to make another
backup, or `local-restore.runbook.md` to restore the newest one into a new folder.

`npm run demo` also starts a Frigate for the lab, with face backup locations in `backups/frigate`,
on the SSH host `nas` and in the S3 store `offsite`. Run **Lifeboat: Backup Frigate Faces Now**
(one backup into each of them), then **Lifeboat: Back Up Frigate Recordings…**, then
**Lifeboat: Check Frigate Backups**: it says ok, and every one of them is a run in the Runs view.

```bash {name="Application data"}
echo "Application data in app/:"
du -sh app/*
```

```lifeboat {name="Archives in the local location"}
action: archive.list
location: backups
```
EOF

lifeboat() {
  printf '\033[1m$ lifeboat %s\033[0m\n' "$*"
  (cd "$lab" && node "$repo/dist/cli.js" "$@")
}
lifeboat run runbooks/local-backup.runbook.md --param source=app --param prefix=app --yes
# A second, later backup after the application changed; archive names carry the time to the second.
head -c 30000 /dev/urandom > "$lab/app/data/faces/G/face-2.webp"
sleep 1
lifeboat run runbooks/local-backup.runbook.md --param source=app --param prefix=app --yes
