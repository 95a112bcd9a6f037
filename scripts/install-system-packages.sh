#!/usr/bin/env bash
# Installs the Debian packages named as arguments, only those that are missing, so repeated runs stay
# fast: scripts/install-system-packages.sh tar gzip …
set -euo pipefail
missing=()
for package in "$@"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}"
fi
