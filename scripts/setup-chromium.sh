#!/usr/bin/env bash
# Installs Debian's `chromium` package (headless browser for the viewer's end-to-end test) when /usr/bin/chromium
# is missing; does nothing otherwise. Needs root or sudo. Idempotent: safe to run on every install.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present) at /usr/bin/chromium"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup-chromium: /usr/bin/chromium is missing and neither root nor sudo is available" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium
/usr/bin/chromium --version
