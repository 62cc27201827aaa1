#!/bin/bash
# mriseg's GPU benchmarks on a bare NVIDIA box (no Node, no node_modules; see ../shared/gpu/README.md).
# Here, first:  bash bench/bundle-gpu.sh && ../shared/gpu/stage.sh .gpu
# On the box, from the project root (carry .gpu and .gpu-bench):  bash bench/gpu-bench.sh [SECONDS]
# Runs the measurements most important first, each under a time limit, all within SECONDS (default 560, so that
# one device call of 10 minutes holds it), and leaves in $OUT (or ./bench-out) four files: results.json (card,
# driver, commit, every mriseg and PyTorch figure of this call, the ratios), summary.txt (what it prints last),
# tilings.json (the tuned convolution tilings) and raw.tgz (every raw output). Keep results.json as
# bench/results/<card>-<date>.json (formatted: `npx biome format --write bench/results`). The steps:
#   0. the three model goldens on the card (PyTorch's logits, loss, gradients, Adam step, eval logits) with the
#      GPU's default tilings, with every kind of convolution kernel pinned, and as replays of captured steps
#   1. U-Net f32 b16 256² train + inference with the default tilings (--autotune off): a figure within a minute
#   2. PyTorch on the same card: strict FP32 and TF32
#   3. the same U-Net autotuned (every candidate checked against the default's result), with a per-kernel profile
#   4. Attention U-Net and UNet++ (autotuned), then in PyTorch (strict FP32, TF32)
#   5. the CLI's own training loop (phantom data at 256², batch 16, f 32, data loading and augmentation in
#      worker threads), its img/s against bench's sustained figure
#   6. the U-Net with the default tilings again, every step eager (--replay off): what replay saves the host
#   7. BatchNorm2d → ReLU forward and backward at the U-Net's 18 shapes, checked against float64
#   8. the dense GEMM ceiling (every candidate tile on a 4096³ product)
# Every mriseg step replays from a capture (bench and train default to --replay on).
# ONLY="unet-tuned pytorch" runs just those steps (a second call after a failed step).
# For a dry run of the plumbing here (PyTorch for the CPU in a venv on PATH, or the PyTorch steps fail and the rest
# runs):  RUN= SIZE="--features 4 --batch-size 2 --image-size 32" LOOP="--features 4 --batch-size 2 --image-size 32
#   --demo-patients 4" GEMM=--small TORCH="--device cpu --batch 2 --size 32 --features 4" BN=--small OUT=/tmp/gb \
#   bash bench/gpu-bench.sh 400
set -uo pipefail
dest=${OUT:-bench-out}
# Raw outputs go to a work folder; $OUT gets four files (a device call brings back at most eight).
out=${WORK:-/tmp/mriseg-gpu-bench}
rm -rf "$out"
RUN=${RUN-bash .gpu/run.sh}
SIZE=${SIZE:-}
LOOP=${LOOP:---image-size 256 --batch-size 16 --features 32 --demo-patients 60}
GEMM=${GEMM:-}
TORCH=${TORCH:-}
BN=${BN:-}
budget=${1:-560}
mkdir -p "$out" "$dest"
B=.gpu-bench
# The first autotuned run times the candidate tilings; the later ones reuse them and tune only new GEMMs. Each
# autotuned step caps its tuning time (MRISEG_AUTOTUNE_SECONDS) well inside its limit, so that it ends with its
# measurement and saves what it tuned.
export MRISEG_TUNING_CACHE=${MRISEG_TUNING_CACHE:-$out/tilings.json}
export MRISEG_CACHE=${MRISEG_CACHE:-/tmp/mriseg-cache}
start=$(date +%s)
# step NAME LIMIT CMD… : runs CMD under min(LIMIT, what is left of the budget); skipped when under 15 s are left,
# or when ONLY (a list of step names) leaves it out.
step() {
  local name=$1 limit=$2; shift 2
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  local left=$((budget - ($(date +%s) - start)))
  ((left < limit)) && limit=$left
  if ((limit < 15)); then echo "$name: skipped (budget spent)" >> "$out/steps.txt"; return; fi
  local t0=$(date +%s)
  timeout "$limit" "$@"
  echo "$name: rc $? in $(( $(date +%s) - t0 )) s (limit $limit s)" >> "$out/steps.txt"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
cp "$B/commit.txt" "$out/commit.txt" 2>/dev/null
step doctor 15 bash -c "$RUN node $B/cli.bundle.mjs doctor --json > $out/doctor.json 2> $out/doctor.err"
step golden 60 bash -c "$RUN node $B/golden-on-device.mjs --golden $B/golden --json $out/golden.json > $out/golden.md 2> $out/golden.err"
step unet-default 40 bash -c "$RUN node $B/cli.bundle.mjs bench $SIZE --model unet --warmup 3 --iters 10 --autotune off --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step pytorch 50 bash -c "python3 $B/pytorch_models.py $TORCH --modes fp32,tf32 --warmup 3 --iters 10 >> $out/pytorch.jsonl 2>> $out/pytorch.err"
step unet-tuned 130 bash -c "MRISEG_AUTOTUNE_SECONDS=80 $RUN node $B/cli.bundle.mjs bench $SIZE --model unet --warmup 3 --iters 10 --autotune on --profile --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step attention-unet 60 bash -c "MRISEG_AUTOTUNE_SECONDS=20 $RUN node $B/cli.bundle.mjs bench $SIZE --model attention-unet --warmup 3 --iters 6 --autotune on --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step unet++ 70 bash -c "MRISEG_AUTOTUNE_SECONDS=20 $RUN node $B/cli.bundle.mjs bench $SIZE --model unet++ --warmup 3 --iters 6 --autotune on --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step pytorch-others 60 bash -c "python3 $B/pytorch_models.py $TORCH --models attention-unet,unet++ --modes fp32,tf32 --warmup 2 --iters 6 >> $out/pytorch.jsonl 2>> $out/pytorch.err"
step train-loop 60 bash -c "$RUN node $B/cli.bundle.mjs train $LOOP --epochs 2 --lr 1e-4 --autotune on --out $out/train-loop > $out/train-loop.log 2>&1"
step unet-eager 40 bash -c "$RUN node $B/cli.bundle.mjs bench $SIZE --model unet --warmup 3 --iters 5 --autotune off --replay off --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step bn 30 bash -c "$RUN node $B/bn-bench.mjs $BN > $out/bn.md 2> $out/bn.err"
step gemm 40 bash -c "$RUN node $B/gemm-bench.mjs $GEMM > $out/gemm.md 2> $out/gemm.err"
python3 - "$out" <<'PY' | tee "$out/summary.txt"
import json, sys, pathlib, datetime
out = pathlib.Path(sys.argv[1])
def text(name):
    p = out / name
    return p.read_text() if p.exists() else ""
def jsonl(name):
    rows = []
    for line in text(name).splitlines():
        try: rows.append(json.loads(line))
        except Exception: pass
    return rows
gpu = text("gpu.txt").strip()
print("GPU:", gpu)
try:
    d = json.loads(text("doctor.json")); print("adapter:", d["adapter"], "| features:", ", ".join(d["features"]))
except Exception as e:
    print("doctor failed:", e, text("doctor.err")[-500:])
for name in ["golden.md", "bn.md"]:
    t = text(name)
    print(t if t.strip() else f"{name}: none " + text(name.replace(".md", ".err"))[-600:])
t = text("gemm.md")
if "| tiling |" in t:
    head, table = t.split("| tiling |", 1)
    print("dense GEMM, best tilings:\n| tiling |" + "\n".join(table.splitlines()[:8]))
mriseg, torch = jsonl("mriseg.jsonl"), jsonl("pytorch.jsonl")
print("| framework | model | autotune | replay | train img/s sustained | synced step ms | GPU ms | host ms | infer img/s | peak train MiB in use / reserved |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
profile = None
for r in mriseg:
    at = r.get("autotune")
    tune = f"{at['gemms']} GEMMs {at['seconds']} s, {at['beforeMs']}→{at['afterMs']} ms" if at else "off"
    if at and at.get("reused"): tune += f", {at['reused']} reused"
    replay = (r.get('replayTrain') or '').split(' (')[0]
    print(f"| mriseg | {r['model']} f{r['features']} b{r['batchSize']} {r['imageSize']}² | {tune} | {replay} | {r.get('trainImgPerS')} | {r.get('trainStepSyncedMs')} | {r.get('trainGpuMs')} | {r.get('trainHostMs')} | {r.get('inferImgPerS')} | {r.get('peakTrainLiveMiB')} / {r.get('peakTrainMiB')} |")
    if r.get("profileTrain") and profile is None: profile = r
for r in torch:
    print(f"| {r['framework']} {r['mode']} | {r['model']} f{r['features']} b{r['batch']} {r['size']}² | | | {r.get('train_img_s_sustained')} | {r['train_step_ms']} | | | {r.get('forward_img_s_sustained')} | {r['peak_train_mib']} / {r.get('peak_train_reserved_mib')} |")
# The ratios of each model's best mriseg figures to PyTorch's strict FP32 and TF32 in this call.
ratios = {}
for model in ["unet", "attention-unet", "unet++"]:
    ours = [r for r in mriseg if r.get("model") == model]
    base = {r["mode"]: r for r in torch if r.get("model") == model}
    if not ours or not base: continue
    best = max(ours, key=lambda r: r.get("trainImgPerS") or 0)
    bestInfer = max(ours, key=lambda r: r.get("inferImgPerS") or 0)
    row = {"trainImgPerS": best.get("trainImgPerS"), "inferImgPerS": bestInfer.get("inferImgPerS"),
           "peakTrainLiveMiB": best.get("peakTrainLiveMiB"), "hostOverGpu": None}
    if best.get("trainGpuMs"): row["hostOverGpu"] = round(best["trainHostMs"] / best["trainGpuMs"], 3)
    for mode, b in base.items():
        if b.get("train_img_s_sustained") and best.get("trainImgPerS"):
            row[f"train_vs_{mode}"] = round(best["trainImgPerS"] / b["train_img_s_sustained"], 3)
        if b.get("forward_img_s_sustained") and bestInfer.get("inferImgPerS"):
            row[f"infer_vs_{mode}"] = round(bestInfer["inferImgPerS"] / b["forward_img_s_sustained"], 3)
        if b.get("peak_train_mib") and best.get("peakTrainLiveMiB"):
            row[f"memory_vs_{mode}"] = round(best["peakTrainLiveMiB"] / b["peak_train_mib"], 3)
    ratios[model] = row
print("\nratios to PyTorch in this call:", json.dumps(ratios, indent=1))
loop = []
for line in text("train-loop/metrics.jsonl").splitlines():
    try: loop.append(json.loads(line))
    except Exception: pass
print("\ntraining loop (phantoms):", [(e.get("epoch"), round(e.get("imgPerSec", 0), 1)) for e in loop],
      [l for l in text("train-loop.log").splitlines() if "training steps" in l or "autotune" in l.lower()][:3])
if profile:
    print(f"\nU-Net training step kernels ({profile['profileTrainMs']} ms summed, each in its own pass):")
    for row in profile["profileTrain"][:15]:
        print(f"  {row['name']:<32} {row['dispatches']:>4} {row['ms']:>9.3f} ms {row['percent']:>5.1f} %")
print("\nsteps:\n" + text("steps.txt"))
for name in ["bench.err", "pytorch.err", "golden.err"]:
    t = text(name)
    if "Error" in t: print(f"{name}:", t[-1200:])
card = gpu.split(",")[0].strip() if gpu else "unknown"
results = {
    "card": card, "gpu": gpu, "date": datetime.date.today().isoformat(), "commit": text("commit.txt").strip(),
    "mriseg": mriseg, "pytorch": torch, "ratios": ratios, "trainLoop": loop,
    "golden": json.loads(text("golden.json")) if text("golden.json").strip() else None,
    "steps": text("steps.txt").splitlines(),
}
(out / "results.json").write_text(json.dumps(results))
PY
cp "$out/results.json" "$out/summary.txt" "$dest/" 2>/dev/null
cp "$out/tilings.json" "$dest/tilings.json" 2>/dev/null
tar czf "$dest/raw.tgz" -C "$out" . 2>/dev/null
