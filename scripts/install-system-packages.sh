#!/usr/bin/env bash
# Installs the Debian packages named as arguments, only those that are missing, so repeated runs stay
# fast: scripts/install-system-packages.sh tar gzip …
#
# The tests need programs, never system services. Debian's packages that ship a daemon (openssh-server,
# cron) start it at once and enable it at boot; here no service is started while installing, and the
# services of the packages this run installed are disabled again afterwards, so the machine runs what it
# ran before. Installing needs root: `sudo` is used when it needs no password, otherwise the exact
# command to run is printed.
set -euo pipefail

missing=()
for package in "$@"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

script=$(realpath "$0")
if [ "$(id -u)" -ne 0 ]; then
  command_line="bash $(printf '%q ' "$script" "${missing[@]}")"
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n bash "$script" "${missing[@]}"
  fi
  echo "install-system-packages: missing Debian packages: ${missing[*]}" >&2
  if command -v sudo >/dev/null; then
    echo "Installing them needs root, and sudo asks for a password. Run this, then start again:" >&2
    echo "  sudo ${command_line% }" >&2
  else
    echo "Installing them needs root. Run this as root, then start again:" >&2
    echo "  ${command_line% }" >&2
  fi
  exit 1
fi

# invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d before starting a service; 101 means
# "not allowed". One that is already there (Docker images ship one) is put back as it was afterwards,
# whatever happens.
policy=/usr/sbin/policy-rc.d
kept_policy=""
put_policy_back() {
  if [ -n "$kept_policy" ]; then mv -f "$kept_policy" "$policy"; else rm -f "$policy"; fi
}
if [ -e "$policy" ] || [ -L "$policy" ]; then
  kept_policy=$(mktemp "$policy.kept.XXXXXX")
  cp -a "$policy" "$kept_policy"
fi
trap put_policy_back EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
printf '#!/bin/sh\n# Written by Lifeboat'"'"'s scripts/install-system-packages.sh while it installs; removed afterwards.\nexit 101\n' >"$policy.new"
chmod 755 "$policy.new"
mv -f "$policy.new" "$policy"

installed() {
  dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort
}
before=$(installed)

# Another apt (unattended upgrades, a software centre) may hold the lock: wait for it, up to 5 minutes.
# The option covers the package lists' lock of `update` too (apt 1.9.11 and later).
apt_options=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
export DEBIAN_FRONTEND=noninteractive
apt-get "${apt_options[@]}" update -qq
apt-get "${apt_options[@]}" install -y -qq --no-install-recommends "${missing[@]}"

# Blocking the start does not stop a package's postinst from enabling its service at boot (systemd
# unit links, sysvinit rc links): disable each service of every package this run installed,
# dependencies included, as an administrator would (package upgrades keep it disabled). Services of
# packages that were installed before are left as they are.
disable_unit() {
  if command -v systemctl >/dev/null; then
    systemctl disable --quiet "$2"
  elif command -v deb-systemd-helper >/dev/null; then
    # Without systemctl (no systemd) the links are inert, but they were not there before.
    DPKG_MAINTSCRIPT_PACKAGE=$1 deb-systemd-helper disable "$2"
  fi
}
for package in $(comm -13 <(echo "$before") <(installed)); do
  while read -r path; do
    case "$path" in
      /lib/systemd/system/*@.*|/usr/lib/systemd/system/*@.*) ;;
      /lib/systemd/system/*.service|/lib/systemd/system/*.socket|/lib/systemd/system/*.timer|\
      /usr/lib/systemd/system/*.service|/usr/lib/systemd/system/*.socket|/usr/lib/systemd/system/*.timer)
        if ! disable_unit "$package" "${path##*/}"; then
          echo "install-system-packages: could not disable ${path##*/} (from $package); disable it with: systemctl disable ${path##*/}" >&2
          exit 1
        fi
        echo "install-system-packages: ${path##*/} (from $package) was not started and is disabled at boot"
        ;;
      /etc/init.d/*)
        if ! update-rc.d "${path##*/}" disable >/dev/null; then
          echo "install-system-packages: could not disable /etc/init.d/${path##*/} (from $package); disable it with: update-rc.d ${path##*/} disable" >&2
          exit 1
        fi
        echo "install-system-packages: /etc/init.d/${path##*/} (from $package) was not started and is disabled at boot"
        ;;
    esac
  done < <(dpkg-query -L "$package")
done
