#!/usr/bin/env bash
# Installs the Debian packages the tests use: binder/apt.txt (Redis, Prometheus) plus chromium for
# the browser test. As root it installs them; otherwise it says what is missing, and the tests
# that need them skip with that reason (in CI, where CI=true, they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(grep -v '^\s*#' binder/apt.txt | sed '/^\s*$/d')
wanted+=(chromium)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "raykit: not a Debian/Ubuntu host; install ${missing[*]} another way for the full suite."
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "raykit: the browser, GCS fault-tolerance and metrics tests need: ${missing[*]}"
    echo "        install them with: sudo apt-get install ${missing[*]}"
    exit 0
  fi
fi
echo "raykit: installing ${missing[*]} (Debian packages the tests use)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
