#!/bin/bash
# What bias-field correction, skull stripping and the dense CRF do to the DSC, each measured with the same recipe
# (issue 23). The cross-validation command does not exist yet, so this measures on the reference validation split:
#   - val   = the reference's 10 validation patients (Python: random.seed(42); random.sample(sorted(patients), 10));
#   - tune  = 10 of the other 100 (random.seed(23)), held out of training, used only to choose the CRF's parameters;
#   - train = the remaining 90. Every model trains on these 90 with the reference recipe (or TRAIN_FLAGS), EPOCHS
#     epochs, seed 1, differing only in the option measured. train's own validation (the best epoch) sees val + tune,
#     so the `best` checkpoints are optimistic; the `last` ones involve no choice on the evaluated patients.
# Steps (each skipped when its output exists, so a second call carries on where a first one stopped):
#   1. train base, skull (--skull-strip), bias (--bias-correct), both (both flags)          [EPOCHS × ~13 s each]
#   2. evaluate every model's best and last checkpoint on val                                 [~20 s each]
#   3. CRF grid on tune with base/last (JOBS evaluate processes at once), the best setting by mean post-processed
#      DSC; the same setting volumetric (3d:sz=4); both then evaluated on val with base's best and last
#   4. results.json and results.md in $OUT: per option, DSC mean ± sd (reference metric; post-processed DSC for the
#      CRF), median, HD95, per-patient DSC, the CRF grid and the setting chosen
# On the box, from the project root, after `bash bench/bundle-gpu.sh && ../shared/gpu/stage.sh .gpu` here and the
# data unpacked into /tmp/lgg (see ../shared/gpu/README.md; carry .gpu and .gpu-bench):
#   EPOCHS=20 bash bench/gpu-options.sh [SECONDS]
# MODELS="base skull" trains only those (base is needed for the CRF). A run stopped by the time limit resumes from its
# last checkpoint on the next call while the box keeps /tmp; TILINGS=FILE reuses tuned convolution tilings.
# Dry run of the plumbing here (phantom data, tiny model, CPU driver; about a minute on 2 cores; the tiny model learns
# nothing in so few steps, so every DSC is 0 — it checks that every step runs and the tables fill):
#   pnpm --filter @mriseg/cli run bundle
#   (cd packages/data && node -e "import('@mriseg/data').then(d => d.writePhantomDataset('/tmp/go-data',
#     {patients: 8, size: 64, slices: [6, 8], seed: 3}))")
#   RUN= B=apps/cli/dist DATA=/tmp/go-data NVAL=2 NTUNE=2 EPOCHS=1 JOBS=2 WORK=/tmp/go OUT=/tmp/go-out \
#   MRISEG_CACHE=/tmp/go-cache GRID="wa=5:sa=4:sb=0.5 wa=10:sa=8:sb=1" \
#   TRAIN_FLAGS="--features 2 --image-size 32 --batch-size 4 --epoch-size 16 --val-batch-size 16 --workers 0" \
#   bash bench/gpu-options.sh 900
set -uo pipefail
RUN=${RUN-bash .gpu/run.sh}
B=${B:-.gpu-bench}
DATA=${DATA:-/tmp/lgg}
NVAL=${NVAL:-10}
NTUNE=${NTUNE:-10}
EPOCHS=${EPOCHS:-20}
JOBS=${JOBS:-8}
TRAIN_FLAGS=${TRAIN_FLAGS:-}
# The CRF grid: appearance weight, spatial sd (px) and intensity sd (z-scores); ws=3, sg=1, 5 iterations throughout.
GRID=${GRID:-"$(for wa in 3 10; do for sa in 5 15 40; do for sb in 0.25 0.5 1; do echo -n "wa=$wa:sa=$sa:sb=$sb "; done; done; done)"}
work=${WORK:-/tmp/mriseg-options}
dest=${OUT:-bench-out}
budget=${1:-560}
export MRISEG_CACHE=${MRISEG_CACHE:-/tmp/mriseg-cache}
export MRISEG_TUNING_CACHE=${MRISEG_TUNING_CACHE:-/tmp/mriseg-tilings.json}
[ -n "${TILINGS:-}" ] && [ ! -f "$MRISEG_TUNING_CACHE" ] && cp "$TILINGS" "$MRISEG_TUNING_CACHE"
export MRISEG_AUTOTUNE_SECONDS=${MRISEG_AUTOTUNE_SECONDS:-60}
mkdir -p "$work" "$dest"
start=$(date +%s)
CLI="$RUN node $B/cli.bundle.mjs"
left() { echo $((budget - ($(date +%s) - start))); }
# step NAME DONE-FILE CMD… : runs CMD unless DONE-FILE exists, under what is left of the budget.
step() {
  local name=$1 done=$2; shift 2
  if [ -e "$done" ]; then echo "$name: done before" >> "$work/steps.txt"; return; fi
  local l=$(left)
  if ((l < 20)); then echo "$name: skipped (budget spent)" >> "$work/steps.txt"; return; fi
  local t0=$(date +%s)
  timeout "$l" "$@"
  echo "$name: rc $? in $(( $(date +%s) - t0 )) s" >> "$work/steps.txt"
}

[ -d "$DATA" ] || { [ -d /tmp/lggparts ] && python3 .gpu/unpack_lgg.py /tmp/lgg /tmp/lggparts/*.tar; }
# The patient lists.
python3 - "$DATA" "$NVAL" "$NTUNE" "$work" <<'PY'
import os, random, sys
data, nval, ntune, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
patients = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)) and not d.startswith('.'))
random.seed(42)
val = random.sample(patients, nval)
rest = sorted(set(patients) - set(val))
random.seed(23)
tune = random.sample(rest, ntune)
for name, ids in (('val', val), ('tune', tune), ('held-out', val + tune)):
    with open(os.path.join(work, f'{name}.txt'), 'w') as f:
        f.write(''.join(i + '\n' for i in sorted(ids)))
print(f'{len(patients)} patients: {nval} validation, {ntune} tuning, {len(patients) - nval - ntune} training')
PY

declare -A FLAGS=([base]="" [skull]="--skull-strip" [bias]="--bias-correct" [both]="--bias-correct --skull-strip")
for m in ${MODELS:-base skull bias both}; do
  run=$work/run-$m
  # A run cut short by the time limit resumes where its last checkpoint left it.
  if [ -f "$run/last.safetensors" ]; then how="--resume $run --epochs $EPOCHS"
  else how="--data $DATA --split file:$work/held-out.txt --epochs $EPOCHS --seed 1 --out $run $TRAIN_FLAGS ${FLAGS[$m]}"; fi
  step "train-$m" "$run.done" bash -c "$CLI train $how --cache $MRISEG_CACHE >> $work/train-$m.log 2>&1 && touch $run.done"
done
# The model's own post-processing is lcc3d, so evaluate's `dice` column equals the reference DSC for these.
evaluate() { # NAME CHECKPOINT SPLIT-FILE [FLAGS…]
  local name=$1 ck=$2 split=$3; shift 3
  step "eval-$name" "$work/eval-$name/summary.csv" bash -c "$CLI evaluate --checkpoint $ck --data $DATA \
    --split file:$split --out $work/eval-$name --cache $MRISEG_CACHE $* > $work/eval-$name.log 2>&1"
}
for m in base skull bias both; do
  for which in best last; do
    [ -f "$work/run-$m.done" ] && evaluate "$m-$which" "$work/run-$m/$which.safetensors" "$work/val.txt"
  done
done

# The CRF's parameters, chosen on the tuning patients with base/last (never on val).
if [ -f "$work/run-base.done" ] && [ ! -s "$work/crf-choice.txt" ] && (($(left) > 60)); then
  t0=$(date +%s)
  for g in $GRID; do echo "$g"; done | xargs -P "$JOBS" -I{} bash -c "[ -f $work/tune-{}/summary.csv ] || \
    timeout $(left) $CLI evaluate --checkpoint $work/run-base/last.safetensors --data $DATA \
    --split file:$work/tune.txt --out $work/tune-{} --cache $MRISEG_CACHE --workers 1 --postprocess 'crf:{},lcc3d' \
    > $work/tune-{}.log 2>&1"
  evaluate tune-lcc3d "$work/run-base/last.safetensors" "$work/tune.txt"
  python3 - "$work" $GRID > "$work/crf-grid.txt" <<'PY'
import csv, sys, pathlib
work = pathlib.Path(sys.argv[1])
def mean_dice(folder):
    p = work / folder / 'summary.csv'
    if not p.exists(): return None
    rows = {r['metric']: r for r in csv.DictReader(p.open())}
    return float(rows['dice']['mean'])
base = mean_dice('eval-tune-lcc3d')
print(f'lcc3d {base}')
for g in sys.argv[2:]:
    print(f'{g} {mean_dice("tune-" + g)}')
PY
  echo "crf-grid: $(( $(date +%s) - t0 )) s" >> "$work/steps.txt"
  python3 - "$work/crf-grid.txt" > "$work/crf-choice.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
# Only a complete grid chooses (an unfinished one is completed by the next call).
if rows and all(v != 'None' for _, v in rows):
    print(max((float(v), g) for g, v in rows[1:])[1])
PY
fi
choice=$(cat "$work/crf-choice.txt" 2>/dev/null)
if [ -n "$choice" ]; then
  evaluate tune-3d "$work/run-base/last.safetensors" "$work/tune.txt" --postprocess "crf:$choice:3d:sz=4,lcc3d"
  for which in best last; do
    evaluate "crf-$which" "$work/run-base/$which.safetensors" "$work/val.txt" --postprocess "crf:$choice,lcc3d"
    evaluate "crf3d-$which" "$work/run-base/$which.safetensors" "$work/val.txt" --postprocess "crf:$choice:3d:sz=4,lcc3d"
  done
fi

python3 - "$work" "$dest" "$EPOCHS" "$choice" <<'PY' | tee "$dest/results.md"
import csv, json, sys, pathlib, datetime
work, dest, epochs, choice = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def read(name, column):
    s, p = work / f'eval-{name}' / 'summary.csv', work / f'eval-{name}' / 'patients.csv'
    if not s.exists(): return None
    rows = {r['metric']: r for r in csv.DictReader(s.open())}
    per = {r['patient']: float(r[column]) for r in csv.DictReader(p.open())}
    key = 'referenceDsc' if column == 'reference_dsc' else 'dice'
    f = lambda m, k: float(rows[m][k])
    return {'dsc_mean': f(key, 'mean'), 'dsc_sd': f(key, 'std'), 'dsc_median': f(key, 'median'),
            'hd95_mean': f('hd95', 'mean'), 'hd95_median': f('hd95', 'median'), 'per_patient': per}
options = [('reference preprocessing, lcc3d', 'base', 'reference_dsc'),
           ('+ skull stripping', 'skull', 'reference_dsc'),
           ('+ bias correction', 'bias', 'reference_dsc'),
           ('+ bias correction + skull stripping', 'both', 'reference_dsc'),
           (f'+ dense CRF per slice ({choice}), lcc3d', 'crf', 'dice'),
           (f'+ dense CRF 3-D ({choice}:3d:sz=4), lcc3d', 'crf3d', 'dice')]
result = {'date': datetime.date.today().isoformat(), 'epochs': epochs, 'crf_choice': choice,
          'commit': (pathlib.Path('.gpu-bench/commit.txt').read_text().strip()
                     if pathlib.Path('.gpu-bench/commit.txt').exists() else None),
          'split': {n: (work / f'{n}.txt').read_text().split() for n in ('val', 'tune')},
          'crf_grid': (work / 'crf-grid.txt').read_text() if (work / 'crf-grid.txt').exists() else None,
          'crf_3d_on_tune': read('tune-3d', 'dice'), 'options': {}}
n_val, n_tune = len(result['split']['val']), len(result['split']['tune'])
print(f'# Options on {n_val} validation patients ({epochs} epochs; the same training patients for every model; '
      f'CRF parameters chosen on {n_tune} other held-out patients)\n')
print('| option | checkpoint | DSC mean ± sd | median | HD95 mean | HD95 median |')
print('| --- | --- | ---: | ---: | ---: | ---: |')
for label, key, column in options:
    for which in ('last', 'best'):
        r = read(f'{key}-{which}', column)
        result['options'][f'{key}-{which}'] = r
        if r is None:
            print(f'| {label} | {which} | not run | | | |')
            continue
        print(f"| {label} | {which} | {r['dsc_mean']:.4f} ± {r['dsc_sd']:.4f} | {r['dsc_median']:.4f} | "
              f"{r['hd95_mean']:.2f} | {r['hd95_median']:.2f} |")
print('\nDSC: the reference metric (threshold 0.5, largest 3-D component) for the preprocessing options; for the CRF, '
      'the same threshold and largest component after the CRF. `best` was chosen by train on val + tune (optimistic).')
if result['crf_grid']:
    print('\nCRF grid on the tuning patients (mean post-processed DSC, base/last):\n')
    print('```\n' + result['crf_grid'] + '```')
(dest / 'results.json').write_text(json.dumps(result, indent=1) + '\n')
PY
cp "$work/steps.txt" "$dest/steps.txt"
tar czf "$dest/logs.tgz" -C "$work" $(cd "$work" && ls *.log *.txt run-*/metrics.jsonl 2>/dev/null) 2>/dev/null
echo "results in $dest ($(( $(date +%s) - start )) s)"
