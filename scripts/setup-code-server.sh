#!/usr/bin/env bash
# Installs what `npm run test:vscode` needs to run the extension-host tests inside a real VS Code on a
# machine that cannot download VS Code (README, "Development"): Debian chromium, and code-server in the
# git-ignored .test-tools/code-server/. Every step is skipped
# when already done, so a warm run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# code-server 4.100.3 (VS Code 1.100.3) is the newest release that runs on Node 20.
CODE_SERVER_VERSION=4.100.3
# The @vscode/ripgrep release code-server 4.100.3 depends on, and the ripgrep build it would download.
RIPGREP_PACKAGE_VERSION=1.15.11
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

# libkrb5-dev: headers for code-server's `kerberos` native module; ripgrep: stands in for the binary
# @vscode/ripgrep would fetch from GitHub; chromium: the browser that loads the workbench.
bash scripts/install-system-packages.sh libkrb5-dev ripgrep chromium

dir=.test-tools/code-server
# Written only after npm install succeeded. An interrupted install (the postinstall builds native
# modules) leaves node_modules behind but no marker; npm would call that up to date and not rerun the
# postinstall, so it starts over from an empty folder.
marker="$dir/.installed-$CODE_SERVER_VERSION"
[ -f "$marker" ] && exit 0
rm -rf "$dir/node_modules" "$dir"/.installed-*

if [ "$(uname -m)" != x86_64 ]; then
  echo "setup-code-server: the ripgrep pre-seed below is for x86_64 only, not $(uname -m)" >&2
  exit 1
fi

# @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache already holds the tarball.
cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$RIPGREP_PACKAGE_VERSION"
if [ ! -f "$cache/$RIPGREP_ASSET" ]; then
  mkdir -p "$cache"
  staging="$(mktemp -d)"
  cp /usr/bin/rg "$staging/rg"
  tar -czf "$cache/$RIPGREP_ASSET" -C "$staging" rg
  rm -rf "$staging"
fi

mkdir -p "$dir"
# A package.json of its own keeps this install out of the project's package-lock.json.
[ -f "$dir/package.json" ] || echo '{ "private": true }' >"$dir/package.json"
echo "setup-code-server: installing code-server@$CODE_SERVER_VERSION into $dir (about a minute)"
# unsafe_perm: the postinstall refuses to run as root without it. yes: node-pty's postinstall runs
# `npx node-gyp`, which aborts when npx may not ask.
(
  cd "$dir"
  npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --save-exact --loglevel=error "code-server@$CODE_SERVER_VERSION"
)
touch "$marker"
