#!/bin/bash
# A real training run on the GPU box: the reference recipe (U-Net f32, 256², batch 16, Adam 1e-4, Dice, reference
# sampler, augmentation and split) for EPOCHS epochs on the full kaggle_3m, rebuilt from ../shared/gpu/pack_lgg.py
# parts into /tmp/lgg (see ../shared/gpu/README.md). Usage on the box: bash bench/gpu-train.sh EPOCHS [SECONDS]
# Copies metrics.jsonl, the report and the run's config back under $OUT (checkpoints stay on the box).
# TILINGS=FILE reuses convolution tilings tuned on the same kind of card (gpu-bench.sh's $OUT/tilings.json, carried
# in the tree); the run then tunes only what the file lacks, and for at most MRISEG_AUTOTUNE_SECONDS (default 60).
set -uo pipefail
export MRISEG_TUNING_CACHE=/tmp/mriseg-tilings.json
[ -n "${TILINGS:-}" ] && cp "$TILINGS" "$MRISEG_TUNING_CACHE"
export MRISEG_AUTOTUNE_SECONDS=${MRISEG_AUTOTUNE_SECONDS:-60}
epochs=${1:-20}
limit=${2:-540}
out=${OUT:-bench-out}
mkdir -p "$out"
[ -d /tmp/lgg ] || python3 .gpu/unpack_lgg.py /tmp/lgg /tmp/lggparts/*.tar
ls /tmp/lgg | wc -l
timeout "$limit" bash .gpu/run.sh node .gpu-bench/cli.bundle.mjs train --data /tmp/lgg --epochs "$epochs" \
  --out /tmp/run --cache /tmp/mriseg-cache 2> "$out/train.err" | tee "$out/train.log"
echo "exit: ${PIPESTATUS[0]}"
cp /tmp/run/metrics.jsonl /tmp/run/config.json /tmp/run/split.json /tmp/run/report.md /tmp/run/*.svg "$out"/ 2>/dev/null
tail -c 3000 "$out/train.err"
