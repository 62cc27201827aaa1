#!/bin/bash
# mriseg's GPU benchmarks on a bare NVIDIA box (no Node, no node_modules; see ../shared/gpu/README.md).
# Here, first:  bash bench/bundle-gpu.sh && ../shared/gpu/stage.sh .gpu
# On the box, from the project root (carry .gpu and .gpu-bench):  bash bench/gpu-bench.sh [SECONDS]
# Runs the measurements most important first, each under a time limit, all within SECONDS (default 540, so that
# one device call of 10 minutes holds it), writes raw results to $OUT (or ./bench-out) and prints a summary last:
#   0. the three model goldens on the card (PyTorch's logits, loss, gradients, Adam step, eval logits), with the
#      GPU's default tilings and with every kind of convolution kernel pinned, then with robustness off: are the
#      numbers below those of a correct run
#   1. U-Net f32 b16 256² train + inference with the default tilings (--autotune off): a figure within a minute
#   2. PyTorch on the same card: strict FP32, TF32, FP32 + cudnn.benchmark
#   3. the same U-Net bench autotuned (two rounds, every candidate checked against the default's result), with a
#      per-kernel GPU profile
#   3b. the same autotuned U-Net with Dawn's shader robustness off (MRISEG_ROBUSTNESS=0: no index clamps)
#   4. the GEMM tiles' ceiling: a dense 4096³ product with every candidate tiling (no im2col gather)
#   5. per-layer conv TFLOP/s with autotuned tilings (and the tiling each kernel chose)
#   5b. BatchNorm2d → ReLU forward and backward at the U-Net's 18 shapes, with the bandwidth reached
#   6. Attention U-Net and UNet++ (autotuned), and in PyTorch (strict FP32, TF32)
#   7. per-layer conv TFLOP/s with the default tilings
#   8. the dense GEMM ceiling with robustness off
# For a dry run of the plumbing here (PyTorch for the CPU in a venv on PATH):  RUN= SIZE="--features 4 --batch-size 2
#   --image-size 32" CONV=--small GEMM=--small TORCH="--device cpu --batch 2 --size 32 --features 4" BN=--small OUT=/tmp/gb \
#   bash bench/gpu-bench.sh 400
set -uo pipefail
out=${OUT:-bench-out}
RUN=${RUN-bash .gpu/run.sh}
SIZE=${SIZE:-}
CONV=${CONV:-}
GEMM=${GEMM:-}
TORCH=${TORCH:-}
BN=${BN:-}
budget=${1:-540}
mkdir -p "$out"
B=.gpu-bench
# The first autotuned run times the candidate tilings; the later ones reuse them and tune only new GEMMs. Each
# autotuned step caps its tuning time (MRISEG_AUTOTUNE_SECONDS) well inside its limit, so that it ends with its
# measurement and saves what it tuned.
export MRISEG_TUNING_CACHE=${MRISEG_TUNING_CACHE:-$out/tilings.json}
start=$(date +%s)
# step NAME LIMIT CMD… : runs CMD under min(LIMIT, what is left of the budget); skipped when under 20 s are left.
step() {
  local name=$1 limit=$2; shift 2
  local left=$((budget - ($(date +%s) - start)))
  ((left < limit)) && limit=$left
  if ((limit < 20)); then echo "$name: skipped (budget spent)" >> "$out/steps.txt"; return; fi
  local t0=$(date +%s)
  timeout "$limit" "$@"
  echo "$name: rc $? in $(( $(date +%s) - t0 )) s (limit $limit s)" >> "$out/steps.txt"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
step doctor 30 bash -c "$RUN node $B/cli.bundle.mjs doctor --json > $out/doctor.json 2> $out/doctor.err"
step golden 90 bash -c "$RUN node $B/golden-on-device.mjs --golden $B/golden > $out/golden.md 2> $out/golden.err; MRISEG_ROBUSTNESS=0 $RUN node $B/golden-on-device.mjs --golden $B/golden >> $out/golden.md 2>> $out/golden.err"
step unet-default 90 bash -c "$RUN node $B/cli.bundle.mjs bench $SIZE --model unet --warmup 2 --iters 10 --autotune off --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step pytorch 120 bash -c "python3 $B/pytorch_models.py $TORCH --warmup 3 --iters 10 >> $out/pytorch.jsonl 2>> $out/pytorch.err"
step unet-tuned 240 bash -c "MRISEG_AUTOTUNE_SECONDS=150 $RUN node $B/cli.bundle.mjs bench $SIZE --model unet --warmup 2 --iters 10 --autotune on --profile --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step unet-unguarded 90 bash -c "MRISEG_ROBUSTNESS=0 MRISEG_AUTOTUNE_SECONDS=40 $RUN node $B/cli.bundle.mjs bench $SIZE --model unet --warmup 2 --iters 10 --autotune on --json >> $out/mriseg.jsonl 2>> $out/bench.err"
step gemm 60 bash -c "$RUN node $B/gemm-bench.mjs $GEMM > $out/gemm.md 2> $out/gemm.err"
step conv-tuned 150 bash -c "MRISEG_AUTOTUNE_SECONDS=90 $RUN node $B/conv-bench.mjs $CONV --iters 5 --autotune > $out/conv-tuned.md 2> $out/conv-tuned.err"
step bn 40 bash -c "$RUN node $B/bn-bench.mjs $BN > $out/bn.md 2> $out/bn.err"
for m in attention-unet unet++; do
  step "$m" 120 bash -c "MRISEG_AUTOTUNE_SECONDS=50 $RUN node $B/cli.bundle.mjs bench $SIZE --model $m --warmup 1 --iters 5 --autotune on --json >> $out/mriseg.jsonl 2>> $out/bench.err"
done
step pytorch-others 120 bash -c "python3 $B/pytorch_models.py $TORCH --models attention-unet,unet++ --modes fp32,tf32 --warmup 3 --iters 10 >> $out/pytorch.jsonl 2>> $out/pytorch.err"
step conv-default 90 bash -c "$RUN node $B/conv-bench.mjs $CONV --iters 5 > $out/conv-default.md 2> $out/conv-default.err"
step gemm-unguarded 60 bash -c "MRISEG_ROBUSTNESS=0 $RUN node $B/gemm-bench.mjs $GEMM > $out/gemm-unguarded.md 2> $out/gemm-unguarded.err"
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def text(name):
    p = out / name
    return p.read_text() if p.exists() else ""
print("GPU:", text("gpu.txt").strip())
try:
    d = json.loads(text("doctor.json")); print("adapter:", d["adapter"], "| features:", ", ".join(d["features"]))
except Exception as e:
    print("doctor failed:", e, text("doctor.err")[-500:])
for name, what in [("gemm.md", ""), ("gemm-unguarded.md", ", robustness off")]:
    t = text(name)
    if "| tiling |" in t:
        head, table = t.split("| tiling |", 1)
        print(f"dense GEMM{what}, best tilings:\n| tiling |" + "\n".join(table.splitlines()[:12]))
    else:
        print(f"{name}: none " + text(name.replace(".md", ".err"))[-600:])
for name in ["golden.md", "conv-tuned.md", "conv-default.md", "bn.md"]:
    t = text(name)
    print(t if t.strip() else f"{name}: none " + text(name.replace(".md", ".err"))[-600:])
print("| framework | model | autotune | train img/s sustained | synced step ms | GPU ms | host ms | infer img/s | peak train MiB |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
profile = None
tuned = []
for line in text("mriseg.jsonl").splitlines():
    r = json.loads(line)
    at = r.get("autotune")
    tune = f"{at['gemms']} GEMMs {at['seconds']} s, {at['beforeMs']}→{at['afterMs']} ms" if at else "off"
    if at and at.get("reused"): tune += f", {at['reused']} reused"
    if r.get("robustness") is False: tune += ", robustness off"
    print(f"| mriseg | {r['model']} f{r['features']} b{r['batchSize']} {r['imageSize']}² | {tune} | {r.get('trainImgPerS')} | {r.get('trainStepSyncedMs')} | {r.get('trainGpuMs')} | {r.get('trainHostMs')} | {r.get('inferImgPerS')} | {r.get('peakTrainMiB')} |")
    if r.get("profileTrain") and profile is None: profile = r
    if at: tuned.append(r)
for line in text("pytorch.jsonl").splitlines():
    r = json.loads(line)
    print(f"| {r['framework']} {r['mode']} | {r['model']} f{r['features']} b{r['batch']} {r['size']}² | | {r.get('train_img_s_sustained')} | {r['train_step_ms']} | | | {r.get('forward_img_s_sustained')} | {r['peak_train_mib']} |")
if profile:
    print(f"\nU-Net training step kernels ({profile['profileTrainMs']} ms summed, each in its own pass):")
    for row in profile["profileTrain"][:15]:
        print(f"  {row['name']:<32} {row['dispatches']:>4} {row['ms']:>9.3f} ms {row['percent']:>5.1f} %")
for r in tuned:
    at = r["autotune"]
    if not at.get("chosen"): continue
    chosen = ", ".join(f"{k} ×{n}" for k, n in sorted(at.get("chosen", {}).items(), key=lambda kv: -kv[1]))
    print(f"\n{r['model']}: tilings chosen: {chosen}; {at.get('rejected', 0)} candidates rejected")
    for x in at.get("rejectedFirst", [])[:5]: print(f"  rejected {x['kernel']} {x['tiling']}: {x['reason'][:160]}")
print("\nsteps:\n" + text("steps.txt"))
for name in ["bench.err", "pytorch.err"]:
    t = text(name)
    if "Error" in t: print(f"{name}:", t[-1200:])
PY
