#!/usr/bin/env bash
# Installs everything mriseg needs on a fresh Debian/Ubuntu machine with Node.js 20: pnpm, the workspace's
# packages (from the lockfile), WebGPU for GPU-less machines (scripts/setup-webgpu.sh), Chromium for the viewer's
# browser test (scripts/setup-chromium.sh), the NIfTI/DICOM tests' reference tools (scripts/setup-format-tools.sh:
# Debian's nibabel, pydicom, Pillow, dcmtk) and the package builds.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null)" != "$want" ]; then
  echo "install: pnpm $want" >&2
  npm install -g --silent "pnpm@$want"
fi
export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile
bash scripts/setup-webgpu.sh
bash scripts/setup-chromium.sh   # the viewer's end-to-end test drives Debian's Chromium
bash scripts/setup-format-tools.sh   # nibabel/pydicom/dcmtk: fixtures and read-back checks of NIfTI and DICOM
pnpm run build
