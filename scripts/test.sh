#!/usr/bin/env bash
# `pnpm test`: lint and format check, then every package's type-check and tests. Every part runs even when an
# earlier one fails (turbo --continue), so one failing package does not hide the others' results; the exit status
# is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1
status=0
pnpm exec biome check . || status=1
pnpm exec turbo run typecheck test --concurrency=1 --continue || status=1
exit $status
