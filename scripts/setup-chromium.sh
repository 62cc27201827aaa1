#!/usr/bin/env bash
# Installs Debian's `chromium` package (headless browser for the viewer's end-to-end test) when /usr/bin/chromium
# is missing; does nothing otherwise. Needs root or sudo. Idempotent: safe to run on every install.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present) at /usr/bin/chromium"
  exit 0
fi

# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
apt_install setup-chromium "/usr/bin/chromium is" chromium
/usr/bin/chromium --version
