#!/bin/bash
# mriseg's GPU benchmarks on a bare NVIDIA box (no Node, no node_modules; see ../shared/gpu/README.md).
# Here, first:  pnpm --filter @mriseg/cli run bundle && bash bench/bundle-gpu.sh && ../shared/gpu/stage.sh .gpu
# On the box, from the project root (carry .gpu and .gpu-bench):  bash bench/gpu-bench.sh
# Writes raw results to $OUT (or ./bench-out) and prints a summary table last: per-layer conv TFLOP/s, mriseg's
# train-step and inference img/s for three models, and PyTorch's on the same card for comparison.
set -uo pipefail
out=${OUT:-bench-out}
mkdir -p "$out"
B=.gpu-bench
run() { bash .gpu/run.sh "$@"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
run node $B/cli.bundle.mjs doctor --json > "$out/doctor.json" 2> "$out/doctor.err"
timeout 150 bash .gpu/run.sh node $B/conv-bench.mjs --iters 5 > "$out/conv.md" 2> "$out/conv.err"
for m in unet attention-unet unet++; do
  timeout 100 bash .gpu/run.sh node $B/cli.bundle.mjs bench --model "$m" --warmup 2 --iters 5 --json >> "$out/mriseg.jsonl" 2>> "$out/bench.err"
done
timeout 100 python3 $B/pytorch_unet.py --warmup 3 --iters 10 > "$out/pytorch.jsonl" 2> "$out/pytorch.err"
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("GPU:", (out / "gpu.txt").read_text().strip())
try:
    d = json.loads((out / "doctor.json").read_text()); print("adapter:", d["adapter"], "| features:", ", ".join(d["features"]))
except Exception as e:
    print("doctor failed:", e, (out / "doctor.err").read_text()[-500:])
conv = (out / "conv.md").read_text()
print(conv if conv.strip() else "conv bench failed: " + (out / "conv.err").read_text()[-800:])
print("| framework | model | train img/s | step ms | infer img/s | peak train MiB |")
print("| --- | --- | --- | --- | --- | --- |")
for line in (out / "mriseg.jsonl").read_text().splitlines() if (out / "mriseg.jsonl").exists() else []:
    r = json.loads(line)
    print(f"| mriseg (WGSL, f32) | {r['model']} f{r['features']} b{r['batchSize']} {r['imageSize']}² | {r.get('trainImgPerS')} | {r.get('trainStepMs')} | {r.get('inferImgPerS')} | {r.get('peakTrainMiB')} |")
for line in (out / "pytorch.jsonl").read_text().splitlines() if (out / "pytorch.jsonl").exists() else []:
    r = json.loads(line)
    print(f"| {r['framework']} {r['mode']} | unet f{r['features']} b{r['batch']} {r['size']}² | {r['train_img_s']} | {r['train_step_ms']} | {r['forward_img_s']} | {r['peak_train_mib']} |")
err = (out / "bench.err").read_text() if (out / "bench.err").exists() else ""
if "Error" in err: print("bench errors:", err[-1500:])
perr = (out / "pytorch.err").read_text() if (out / "pytorch.err").exists() else ""
if "Error" in perr: print("pytorch errors:", perr[-800:])
PY
