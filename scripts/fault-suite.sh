#!/usr/bin/env bash
# The whole fault suite (faults/): the fast cases CI runs in `pnpm test` and the slow ones (the issue's full-size
# decompression bombs, a real patient), each in its own folder and child process. Prints every outcome, writes the
# counts table and case list to faults/RESULTS.md and exits 1 unless every case held. Builds the CLI first (the
# black-box cases run apps/cli/dist/bin.js). Options go to faults/src/main.ts: --slow-only, --fast-only,
# --filter TEXT, --keep (leave each case's folder in the temp dir), --report FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm exec turbo run build --filter=@mriseg/cli --output-logs=errors-only >/dev/null
MRISEG_COMMIT="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!faults/RESULTS.md' || echo ' + changes')" \
  node faults/run.mjs --report faults/RESULTS.md "$@"
