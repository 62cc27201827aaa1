#!/usr/bin/env bash
# Installs the independent tools the NIfTI/DICOM tests check mriseg against: Debian's python3 with nibabel, pydicom
# and Pillow (fixtures made from the sample patients, our output read back) and dcmtk (dcmdump). Does nothing when
# they are already there. Needs root or sudo. Idempotent: safe to run on every install.
set -euo pipefail

PY=${MRISEG_PYTHON:-/usr/bin/python3}
have() { [ -x "$PY" ] && "$PY" -c 'import nibabel, pydicom, PIL, numpy' 2>/dev/null && command -v dcmdump >/dev/null 2>&1; }

if have; then
  echo "format tools: $("$PY" -c 'import nibabel, pydicom; print("nibabel", nibabel.__version__, "pydicom", pydicom.__version__)'), $(command -v dcmdump)"
  exit 0
fi

# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
apt_install setup-format-tools "python3-nibabel/python3-pydicom/python3-pil/dcmtk are" \
  python3 python3-nibabel python3-pydicom python3-pil dcmtk
have || { echo "setup-format-tools: installed, but $PY still cannot import nibabel, pydicom and PIL" >&2; exit 1; }
echo "format tools installed"
