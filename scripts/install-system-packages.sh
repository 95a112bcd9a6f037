#!/usr/bin/env bash
# Debian packages the tests use, installed only when missing so repeated runs stay fast.
set -euo pipefail
packages=(tar gzip bsdutils)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
