#!/usr/bin/env bash
# The main job: Lifeboat in VS Code, in the browser. Builds the extension, packages the VSIX, installs it
# into a local code-server (scripts/setup-code-server.sh), writes a lab workspace with sample runbooks
# and backups (scripts/demo-lab.sh), starts code-server on 127.0.0.1 and prints the URL to open.
# Ctrl-C stops everything it started.
#
# Everything lives in the git-ignored .lifeboat/demo/ (or LIFEBOAT_DEMO_DIR), rewritten on each run.
# LIFEBOAT_DEMO_SMOKE=1 checks instead of waiting: the server answers /healthz, the workbench page loads
# and the extension is installed; then it stops (the e2e runs this).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-code-server.sh
# The lab's services: sshd (and ssh-keygen), openssl for the test bed's certificates.
bash scripts/install-system-packages.sh openssh-server openssh-client openssl

demo=${LIFEBOAT_DEMO_DIR:-$repo/.lifeboat/demo}
lab=$demo/lab
home=$demo/vscode
vsix=$demo/lifeboat.vsix
# Only what this script wrote before: the folder may be one the user named.
rm -rf "$lab" "$home" "$vsix" "$demo/code-server.log" "$demo/lab-services.log"
mkdir -p "$demo"

# `vscode:prepublish` makes the release build (minified bundles) that the VSIX carries.
npx vsce package --no-dependencies --out "$vsix"
bash scripts/demo-lab.sh "$lab"
# The lab's services, from the test bed (compiled with the tests): Frigate in a Kubernetes cluster
# (simulators), an SSH host (a real sshd) and an S3 store (s3rver). Their secrets reach Lifeboat the
# way secrets do, from the environment.
node esbuild.config.mjs --tests
export LIFEBOAT_SECRET_FRIGATE_PASSWORD=lab-frigate-admin
# s3rver's fixed secret key.
export LIFEBOAT_SECRET_OFFSITE_SECRET_KEY=S3RVER
services_log=$demo/lab-services.log
node out/test/testbed/lab.js "$lab" >"$services_log" 2>&1 &
services=$!
trap 'kill -TERM "$services" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  grep -q 'lab services ready' "$services_log" && break
  kill -0 "$services" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q 'lab services ready' "$services_log"; then
  echo "demo: the lab services did not start; their output:" >&2
  cat "$services_log" >&2
  exit 1
fi

code_server=$repo/.test-tools/code-server/node_modules/.bin/code-server
# Its own XDG folders, or code-server writes its config (with a password) into ~/.config.
export XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data
dirs=(--user-data-dir "$home/user-data" --extensions-dir "$home/extensions")
mkdir -p "$home/user-data/User"
cp scripts/code-server-settings.json "$home/user-data/User/settings.json"
"$code_server" "${dirs[@]}" --install-extension "$vsix"

# In a session of its own, so stopping its process group ends the extension host and terminals too,
# and Ctrl-C reaches only this script, which then stops it.
log=$demo/code-server.log
setsid "$code_server" "${dirs[@]}" --bind-addr 127.0.0.1:0 --auth none --disable-telemetry \
  --disable-update-check --disable-workspace-trust "$lab" >"$log" 2>&1 &
server=$!
stop() {
  kill -TERM "$services" 2>/dev/null || true
  kill -TERM -- "-$server" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 -- "-$server" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$server" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

address=
for _ in $(seq 300); do
  address=$(grep -Eo 'HTTP server listening on http://[0-9.]+:[0-9]+' "$log" | grep -Eo '[0-9.]+:[0-9]+$' || true)
  [ -n "$address" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$address" ]; then
  echo "demo: code-server did not start; its output:" >&2
  cat "$log" >&2
  exit 1
fi
url="http://$address/?folder=$lab"

if [ "${LIFEBOAT_DEMO_SMOKE:-}" = 1 ]; then
  # Node's fetch rather than curl: Node is on every machine that runs this.
  node -e '
    const [health, workbench] = process.argv.slice(1);
    (async () => {
      const alive = await (await fetch(health)).json();
      if (!["alive", "expired"].includes(alive.status)) throw new Error(`/healthz answered ${JSON.stringify(alive)}`);
      const page = await fetch(workbench);
      if (!page.ok) throw new Error(`the workbench page answered ${page.status}`);
    })().catch((error) => { console.error(`demo: ${error.message}`); process.exit(1); });
  ' "http://$address/healthz" "$url"
  installed=$("$code_server" "${dirs[@]}" --list-extensions --show-versions)
  version=$(node -p 'require("./package.json").version')
  if ! grep -qx "lifeboat.lifeboat@$version" <<<"$installed"; then
    echo "demo: lifeboat.lifeboat@$version is not installed; code-server lists: $installed" >&2
    exit 1
  fi
  echo "Demo smoke check passed: code-server at http://$address/ is healthy and serves the workbench, with lifeboat.lifeboat@$version installed."
  exit 0
fi

printf '\n\033[1mLifeboat is ready in VS Code (code-server). Open:\033[0m\n\n  %s\n\n' "$url"
printf 'Start with runbooks/lab-tour.runbook.md and Run All; the Lifeboat icon in the activity bar\n'
printf 'shows the runbooks, backups and runs. For Frigate: Backup Frigate Faces Now, Back Up Frigate\n'
printf 'Recordings…, then Check Frigate Backups. Server log: %s\n' "$log"
printf 'Press Ctrl-C to stop.\n'
wait "$server"
