#!/usr/bin/env node
/**
 * What the convolution kernels' GEMM tiles reach on this device without an im2col gather: a dense S×S×S product
 * (`denseGemmRaw`) with every candidate tiling of an S×S GEMM and its vec4 / double-buffered variants. Each
 * tiling is first checked against float64 on a small product whose sizes no tile divides. Run on the built
 * packages:
 *   node bench/gemm-bench.mjs              # S = 4096 (a GPU)
 *   node bench/gemm-bench.mjs --small      # S = 256 (a CPU adapter)
 * Options: --size S --iters N (timed products after one untimed, which compiles the pipeline).
 */
import { initDevice, tensor } from '@mriseg/tensor-wgsl';
import {
  candidateTilings,
  denseGemmRaw,
  tilingKey,
  tilingProblem,
  tilingVariants,
  workgroupStorageBytes,
} from '../dist/index.js';
import { flag, option } from './args.mjs';

const small = flag('small');
const S = option('size', small ? 256 : 4096);
const iters = option('iters', small ? 2 : 10);

const rt = await initDevice();
const limit = rt.limits.maxComputeWorkgroupStorageSize;
console.log(
  `device: ${rt.report.description || rt.report.device} (${rt.report.vendor}, ${rt.report.architecture})${rt.robustness ? '' : ', robustness off (MRISEG_ROBUSTNESS=0)'}`,
);
console.log(`dense ${S}×${S}×${S} f32 (${((2 * S ** 3) / 1e9).toFixed(1)} GFLOP), ${iters} products timed\n`);

const tilings = new Map();
for (const t of candidateTilings(S, S))
  for (const v of [t, ...tilingVariants(t).filter((x) => x.vec4 !== t.vec4 || x.double !== t.double)])
    if (!tilingProblem(v, 'mn', 'k') && workgroupStorageBytes(v, 'mn', 'k') <= limit)
      tilings.set(tilingKey(v), v);

// A small product that no tile divides, against float64.
const [R, K, Q] = [70, 45, 133];
const xs = Float32Array.from({ length: R * K }, (_, i) => Math.sin(i * 0.37));
const ys = Float32Array.from({ length: K * Q }, (_, i) => Math.cos(i * 0.11));
const want = new Float64Array(R * Q);
for (let r = 0; r < R; r++)
  for (let k = 0; k < K; k++) for (let q = 0; q < Q; q++) want[r * Q + q] += xs[r * K + k] * ys[k * Q + q];
const xSmall = tensor(xs, [R, K]);
const ySmall = tensor(ys, [K, Q]);
const x = tensor(
  Float32Array.from({ length: S * S }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5),
  [S, S],
);
const y = tensor(
  Float32Array.from({ length: S * S }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5),
  [S, S],
);

const rows = [];
for (const [key, t] of tilings) {
  const got = denseGemmRaw(xSmall, ySmall, t);
  const g = await got.data();
  got.dispose();
  let err = 0;
  let scale = 0;
  for (let i = 0; i < g.length; i++) {
    err = Math.max(err, Math.abs(g[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  const ok = err <= 1e-5 * scale;
  denseGemmRaw(x, y, t).dispose();
  await rt.sync();
  const t0 = performance.now();
  const gpu = await rt.timeGpu(() => {
    for (let i = 0; i < iters; i++) denseGemmRaw(x, y, t).dispose();
  });
  const ms = (gpu ?? performance.now() - t0) / iters;
  rows.push({ key, ms, tflops: (2 * S ** 3) / (ms * 1e-3) / 1e12, ok, err: err / scale });
  console.log(
    `${key.padEnd(22)} ${ms.toFixed(3).padStart(10)} ms ${rows.at(-1).tflops.toPrecision(3).padStart(7)} TFLOP/s ${ok ? 'ok' : `WRONG (${(err / scale).toExponential(1)})`}`,
  );
}
rows.sort((a, b) => b.tflops - a.tflops);
console.log('\n| tiling | ms | TFLOP/s | matches float64 |\n| --- | ---: | ---: | --- |');
for (const r of rows)
  console.log(
    `| ${r.key} | ${r.ms.toFixed(3)} | ${r.tflops.toPrecision(3)} | ${r.ok ? 'yes' : `no (${r.err.toExponential(1)})`} |`,
  );
process.exit(0);
