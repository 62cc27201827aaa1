#!/usr/bin/env node
/**
 * Convolution throughput for every conv / conv-transpose layer of the reference U-Net: forward, input-gradient
 * and weight-gradient TFLOP/s (2·N·K·C·R·S·P·Q flops each). Runs on the built packages:
 *   pnpm --filter @mriseg/tensor-wgsl build && pnpm --filter @mriseg/nn build
 *   node bench/conv-bench.mjs            # f 32, batch 16, 256² (a GPU)
 *   node bench/conv-bench.mjs --small    # f 4, batch 2, 32² (a CPU adapter)
 * Options: --f N --batch N --size N --iters N --warmup N. Times are wall-clock over `iters` dispatches between
 * two `runtime().sync()` calls, after `warmup` untimed runs (pipeline compilation).
 *   --autotune      time the candidate tilings of each layer's three GEMMs first and run with the fastest
 *                   (the table then names the tiling each kernel ran with, and the tuning time is printed);
 *                   with MRISEG_TUNING_CACHE=FILE, tilings tuned before on this device are reused
 */
import { full, initDevice, runtime } from '@mriseg/tensor-wgsl';
import {
  conv2dGeometry,
  convForwardRaw,
  convInputGradRaw,
  convTiling,
  convTranspose2dGeometry,
  convWeightGradRaw,
  recordConvProblems,
  tilingKey,
  tuneConvolutions,
} from '../dist/index.js';
import { loadConvTilings, saveConvTilings } from '../dist/node.js';
import { flag, option } from './args.mjs';

const small = flag('small');
const f = option('f', small ? 4 : 32);
const batch = option('batch', small ? 2 : 16);
const size = option('size', small ? 32 : 256);
const iters = option('iters', small ? 3 : 20);
const warmup = option('warmup', 1);
const autotune = flag('autotune');
// Tilings tuned before on this device (by `train`, `bench` or this script) are reused; new ones written back.
const cache = autotune ? process.env.MRISEG_TUNING_CACHE : undefined;

/** The reference U-Net's convolutions: [name, kind, Cin, Cout, kernel, input size]. */
function layers() {
  const out = [];
  const ch = [f, 2 * f, 4 * f, 8 * f];
  let cin = 3;
  ch.forEach((c, i) => {
    const s = size >> i;
    out.push([`encoder${i + 1}.conv1`, 'conv', cin, c, 3, s], [`encoder${i + 1}.conv2`, 'conv', c, c, 3, s]);
    cin = c;
  });
  const sb = size >> 4;
  out.push(
    ['bottleneck.conv1', 'conv', 8 * f, 16 * f, 3, sb],
    ['bottleneck.conv2', 'conv', 16 * f, 16 * f, 3, sb],
  );
  for (let i = 3; i >= 0; i--) {
    const c = ch[i];
    const s = size >> i;
    out.push([`upconv${i + 1}`, 'convT', 2 * c, c, 2, s >> 1]);
    out.push(
      [`decoder${i + 1}.conv1`, 'conv', 2 * c, c, 3, s],
      [`decoder${i + 1}.conv2`, 'conv', c, c, 3, s],
    );
  }
  out.push(['conv (1×1)', 'conv', f, 1, 1, size]);
  return out;
}

async function time(fn) {
  for (let i = 0; i < warmup; i++) fn().dispose();
  await runtime().sync();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn().dispose();
  await runtime().sync();
  return (performance.now() - t0) / iters;
}

const rt = await initDevice();
console.log(
  `device: ${rt.report.description || rt.report.device} (${rt.report.vendor}, ${rt.report.architecture})${rt.robustness ? '' : ', robustness off (MRISEG_ROBUSTNESS=0)'}`,
);
console.log(
  `U-Net f ${f}, batch ${batch}, ${size}², ${iters} iterations after ${warmup} warm-up, ${autotune ? 'autotuned' : 'default'} tilings\n`,
);
console.log(
  '| layer | op | N×Cin×H×W → Cout | GFLOP | fwd ms | fwd TFLOP/s | dx ms | dx TFLOP/s | dw ms | dw TFLOP/s | tilings fwd / dx / dw |',
);
console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
let tuneMs = 0;
// MRISEG_AUTOTUNE_SECONDS caps the tuning of all layers together, as it does for the CLI.
const budget = process.env.MRISEG_AUTOTUNE_SECONDS ? Number(process.env.MRISEG_AUTOTUNE_SECONDS) : undefined;
let untuned = 0;
const rejected = [];
if (cache) console.log(`tilings reused from ${cache}: ${loadConvTilings(cache).pinned}\n`);
const tfl = (flop, ms) => (flop / (ms * 1e-3) / 1e12).toPrecision(3);
let totals = [0, 0, 0, 0];
for (const [name, kind, cin, cout, k, s] of layers()) {
  const x = full([batch, cin, s, s], 0.01);
  const held = [x];
  let g;
  let fwd;
  let dx;
  let dw;
  if (kind === 'conv') {
    const w = full([cout, cin, k, k], 0.01);
    const b = name.startsWith('conv') ? full([cout], 0.1) : null;
    g = conv2dGeometry(x, w, { padding: (k - 1) / 2 });
    const dy = full([batch, cout, g.P, g.Q], 0.01);
    held.push(w, dy, ...(b ? [b] : []));
    fwd = () => convForwardRaw(x, w, b, g);
    dx = () => convInputGradRaw(dy, w, null, g);
    dw = () => convWeightGradRaw(dy, x, g);
  } else {
    const w = full([cin, cout, k, k], 0.01);
    const b = full([cout], 0.1);
    g = convTranspose2dGeometry(x, w, { stride: 2 });
    const dy = full([batch, cout, g.H, g.W], 0.01);
    held.push(w, b, dy);
    fwd = () => convInputGradRaw(x, w, b, g);
    dx = () => convForwardRaw(dy, w, null, g);
    dw = () => convWeightGradRaw(x, dy, g);
  }
  // In forward-conv geometry the flops are the same for all three: 2·N·K·C·R·S·P·Q.
  const flop = 2 * g.N * g.K * g.C * g.R * g.S * g.P * g.Q;
  const problems = recordConvProblems(() => {
    for (const t of [fwd(), dx(), dw()]) t.dispose();
  });
  if (autotune) {
    const t0 = performance.now();
    const results = await tuneConvolutions(problems, {
      skipPinned: cache !== undefined,
      budgetSeconds: budget === undefined ? undefined : Math.max(0, budget - tuneMs / 1000),
      onSkipped: () => untuned++,
    });
    for (const r of results)
      for (const x of r.rejected) rejected.push(`${name} ${r.kernel} ${tilingKey(x.tiling)}: ${x.reason}`);
    tuneMs += performance.now() - t0;
  }
  const tilings = problems.map((p) => tilingKey(convTiling(p.kernel, p.geometry, p.bias))).join(' / ');
  const t = [await time(fwd), await time(dx), await time(dw)];
  for (const t of held) t.dispose();
  totals = [totals[0] + flop, totals[1] + t[0], totals[2] + t[1], totals[3] + t[2]];
  console.log(
    `| ${name} | ${kind} | ${batch}×${cin}×${s}×${s} → ${cout} | ${(flop / 1e9).toPrecision(3)} | ${t[0].toFixed(3)} | ${tfl(flop, t[0])} | ${t[1].toFixed(3)} | ${tfl(flop, t[1])} | ${t[2].toFixed(3)} | ${tfl(flop, t[2])} | ${tilings} |`,
  );
}
const [flop, a, b, c] = totals;
console.log(
  `| **all** | | | ${(flop / 1e9).toPrecision(3)} | ${a.toFixed(3)} | ${tfl(flop, a)} | ${b.toFixed(3)} | ${tfl(flop, b)} | ${c.toFixed(3)} | ${tfl(flop, c)} | |`,
);
if (autotune) {
  console.log(
    `\nautotuning took ${(tuneMs / 1000).toFixed(1)} s; ${rejected.length} candidate tilings rejected` +
      (untuned ? `; MRISEG_AUTOTUNE_SECONDS ran out: ${untuned} GEMMs kept their tilings` : ''),
  );
  for (const line of rejected.slice(0, 20)) console.log(`  rejected: ${line}`);
}
if (cache) saveConvTilings(cache);
