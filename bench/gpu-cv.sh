#!/bin/bash
# The 5-fold cross-validation of the reference recipe (U-Net f32, 256², batch 16, Adam 1e-4, Dice, reference sampler
# and augmentation; folds by patient, stratified by tumour volume, seed 42) on the GPU box, on the full kaggle_3m
# rebuilt from ../shared/gpu/pack_lgg.py parts into /tmp/lgg (see ../shared/gpu/README.md).
#
#   bash bench/gpu-cv.sh EPOCHS            every fold for EPOCHS epochs in this call, then the out-of-fold tables
#   bash bench/gpu-cv.sh EPOCHS FOLD       fold FOLD only (one call a fold); the call that finds all folds trained
#                                          gathers them when it has COLLECT_SECONDS (300) left, else:
#   bash bench/gpu-cv.sh EPOCHS collect    gather the trained folds (out-of-fold tables, plan, report)
#
# A call stopped by its time limit (LIMIT seconds, default 540) leaves the fold it was training resumable: the next call with
# the same arguments continues it (files under /tmp stay while the box lives). Budget of a 540 s call, from figures
# measured elsewhere (not yet for cv itself): about 14 s an epoch of the reference recipe on an H200, up to a minute
# of first-time preprocessing of the 110 patients and of autotuning, and about 1.5 s a patient (36 slices at 256²,
# on the loaded 2-core CPU machine) to gather the folds: all 5 folds in one call hold about E = 3; one fold a call
# about E = 25.
# Copies the tables, plan.json, cv-report.md and each fold's metrics.jsonl and split.json back under $OUT.
#
# Environment: FOLDS (5), DATA (/tmp/lgg), CV_OUT (/tmp/cv), CACHE (/tmp/mriseg-cache), LIMIT, TILINGS=FILE (tilings
# tuned by gpu-bench.sh on the same kind of card), EXTRA (more cv/train flags), MRISEG (the command that runs the CLI;
# default the bundle through .gpu/run.sh). A dry run off the box, tiny and on the 4 sample patients:
#   MRISEG="node apps/cli/dist/bin.js" DATA=../shared/data/sample/kaggle_3m FOLDS=2 CV_OUT=/tmp/cv-dry \
#     EXTRA="--features 2 --image-size 32 --batch-size 4 --epoch-size 16 --workers 0" OUT=/tmp/cv-dry-out bash bench/gpu-cv.sh 1
set -uo pipefail
export MRISEG_TUNING_CACHE=${MRISEG_TUNING_CACHE:-/tmp/mriseg-tilings.json}
[ -n "${TILINGS:-}" ] && cp "$TILINGS" "$MRISEG_TUNING_CACHE"
export MRISEG_AUTOTUNE_SECONDS=${MRISEG_AUTOTUNE_SECONDS:-60}
epochs=${1:?usage: bash bench/gpu-cv.sh EPOCHS [FOLD|collect]}
fold=${2:-}
limit=${LIMIT:-540}
folds=${FOLDS:-5}
data=${DATA:-/tmp/lgg}
cv=${CV_OUT:-/tmp/cv}
out=${OUT:-bench-out}
mriseg=${MRISEG:-bash .gpu/run.sh node .gpu-bench/cli.bundle.mjs}
mkdir -p "$out"
if [ "$data" = /tmp/lgg ] && [ ! -d /tmp/lgg ]; then python3 .gpu/unpack_lgg.py /tmp/lgg /tmp/lggparts/*.tar; fi
echo "patients: $(ls "$data" | grep -c '^TCGA_')"
common=(cv --data "$data" --folds "$folds" --epochs "$epochs" --out "$cv" --cache "${CACHE:-/tmp/mriseg-cache}")
# EXTRA and MRISEG are word lists (split on purpose below).
case "$fold" in
  '') args=("${common[@]}") ;;
  collect) args=("${common[@]}" --collect) ;;
  *) args=("${common[@]}" --fold "$fold") ;;
esac
# shellcheck disable=SC2086
timeout "$limit" $mriseg "${args[@]}" ${EXTRA:-} 2> "$out/cv.err" | tee "$out/cv.log"
code=${PIPESTATUS[0]}
echo "exit: $code"
# One fold a call: the call that finds every fold trained gathers them, when the call has time left for it (about
# 1.5 s a patient of CPU metrics and post-processing choice at 256², so 2–3 minutes for 110); else a call of its own.
left=$((limit - SECONDS))
if [ "$code" = 0 ] && [ -n "$fold" ] && [ "$fold" != collect ] && grep -q "all $folds folds trained" "$out/cv.log" &&
  [ "$left" -lt "${COLLECT_SECONDS:-300}" ]; then
  echo "all folds trained; too little time left in this call (${left} s) to gather them: bash bench/gpu-cv.sh $epochs collect"
elif [ "$code" = 0 ] && [ -n "$fold" ] && [ "$fold" != collect ] && grep -q "all $folds folds trained" "$out/cv.log"; then
  # shellcheck disable=SC2086
  $mriseg "${common[@]}" --collect ${EXTRA:-} 2>> "$out/cv.err" | tee -a "$out/cv.log"
  echo "collect exit: ${PIPESTATUS[0]}"
fi
cp "$cv"/cv-report.md "$cv"/oof-patients.csv "$cv"/oof-summary.csv "$cv"/plan.json "$cv"/cv-summary.json \
  "$cv"/cv-dsc.svg "$cv"/cv.json "$out"/ 2>/dev/null
for d in "$cv"/fold-*; do
  [ -d "$d" ] || continue
  mkdir -p "$out/$(basename "$d")"
  cp "$d"/metrics.jsonl "$d"/split.json "$d"/config.json "$d"/report.md "$d"/cv-fold.json "$out/$(basename "$d")"/ 2>/dev/null
done
tail -c 3000 "$out/cv.err"
exit "$code"
