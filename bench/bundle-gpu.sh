#!/bin/bash
# Bundles what bench/gpu-bench.sh runs into .gpu-bench/ (single files; only the native `webgpu` stays external).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu-bench && mkdir -p .gpu-bench
grep -qx "/.gpu-bench/" .git/info/exclude 2>/dev/null || echo "/.gpu-bench/" >> .git/info/exclude
pnpm --filter @mriseg/cli run bundle >/dev/null
cp apps/cli/dist/cli.bundle.mjs apps/cli/dist/cli.worker.mjs bench/pytorch_models.py .gpu-bench/
# The nn benches import the built package; bundle them from the sources instead.
for bench in conv-bench gemm-bench bn-bench; do
  sed -e "s#from '../dist/index.js'#from '@mriseg/nn'#" -e "s#from '../dist/node.js'#from '@mriseg/nn/node'#" \
    "packages/nn/bench/$bench.mjs" > "packages/nn/bench/.$bench.src.mjs"
  npx esbuild "packages/nn/bench/.$bench.src.mjs" --bundle --platform=node --format=esm --target=node20 \
    --conditions=source --external:webgpu --outfile=".gpu-bench/$bench.mjs" --log-level=warning
  rm "packages/nn/bench/.$bench.src.mjs"
done
# The model goldens, with their fixtures (the box gets the project tree only, not ../shared).
npx esbuild packages/models/bench/golden-on-device.ts --bundle --platform=node --format=esm --target=node20 \
  --conditions=source --external:webgpu --outfile=.gpu-bench/golden-on-device.mjs --log-level=warning
mkdir -p .gpu-bench/golden && cp ../shared/golden/models/*.safetensors .gpu-bench/golden/
# The box gets no .git: the commit measured travels as a file.
echo "$(git rev-parse HEAD)$(git status --porcelain --untracked-files=no | grep -q . && echo ' (modified)')" > .gpu-bench/commit.txt
du -sh .gpu-bench
