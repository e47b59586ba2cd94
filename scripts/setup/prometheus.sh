#!/usr/bin/env bash
# Installs Debian's prometheus package (prometheus and promtool) for the Prometheus tests if it is missing.
# The package's own service is kept from starting (a policy-rc.d for the time of the install) and, on a
# machine run by systemd, disabled: the tests start Prometheus by hand with a generated configuration.
set -euo pipefail
if [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; then exit 0; fi
echo "installing Debian's prometheus for the Prometheus tests..." >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
remove_policy() { if [ "$added_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap remove_policy EXIT
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >&2
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
test -x /usr/bin/prometheus && test -x /usr/bin/promtool
