#!/usr/bin/env node
/**
 * BatchNorm2d → ReLU (training, affine, the fused kernels) at the shapes of the reference U-Net's 18 BatchNorm
 * layers: GPU time of the forward (batch statistics + normalisation) and of the backward (the two per-channel
 * sums + dx), and the bandwidth that implies for the bytes each must move (forward: x read twice, y written;
 * backward: x and dy read twice, dx written). Run on the built packages:
 *   node bench/bn-bench.mjs              # f 32, batch 16, 256² (a GPU)
 *   node bench/bn-bench.mjs --small      # f 8, batch 2, 64² (a CPU adapter)
 * Options: --f N --batch N --size N --iters N (timed repetitions after one untimed).
 */
import { initDevice, noGrad, Rng, rand, scope } from '@mriseg/tensor-wgsl';
import { batchNorm2d } from '../dist/index.js';
import { flag, option } from './args.mjs';

const small = flag('small');
const f = option('f', small ? 8 : 32);
const N = option('batch', small ? 2 : 16);
const size = option('size', small ? 64 : 256);
const iters = option('iters', small ? 3 : 10);

const rt = await initDevice();
console.log(
  `device: ${rt.report.description || rt.report.device} (${rt.report.vendor}, ${rt.report.architecture})${rt.robustness ? '' : ', robustness off'}`,
);
console.log(`BatchNorm2d + ReLU, training, batch ${N}; ms per call, mean of ${iters}\n`);

// Per level: the BN layers of encoder, decoder (two each) or bottleneck (two) at f·2^l channels.
const shapes = [];
for (let l = 0; l <= 4; l++) {
  const count = l === 4 ? 2 : 4;
  shapes.push({ C: f * 2 ** l, hw: size >> l, count });
}

const rng = new Rng(1);
const rows = [];
let total = { fwd: 0, bwd: 0 };
for (const { C, hw, count } of shapes) {
  const x = rand([N, C, hw, hw], rng, -2, 2).requiresGrad_();
  const dy = rand([N, C, hw, hw], rng, -1, 1);
  const gamma = rand([C], rng, 0.5, 1.5).requiresGrad_();
  const beta = rand([C], rng, -0.5, 0.5).requiresGrad_();
  const rm = rand([C], rng, -0.1, 0.1);
  const rv = rand([C], rng, 0.9, 1.1);
  const opts = { training: true, momentum: 0.1, eps: 1e-5, activation: 'relu' };
  const forward = () => scope(() => void batchNorm2d(x, rm, rv, gamma, beta, opts));
  // The backward alone: its forward is recorded before the timed passes, which the queue runs first.
  const backward = async () => {
    const y = batchNorm2d(x, rm, rv, gamma, beta, opts);
    const ms = await rt.timeGpu(() => scope(() => y.backward(dy)));
    y.dispose();
    for (const t of [x, gamma, beta]) {
      t.grad?.dispose();
      t.grad = null;
    }
    return ms ?? Number.NaN;
  };
  forward();
  await backward();
  let fwd = 0;
  let bwd = 0;
  for (let i = 0; i < iters; i++) {
    fwd += (await rt.timeGpu(() => noGrad(forward))) ?? Number.NaN;
    bwd += await backward();
  }
  fwd /= iters;
  bwd /= iters;
  const bytes = N * C * hw * hw * 4;
  rows.push({
    shape: `${N}×${C}×${hw}²`,
    count,
    fwd,
    bwd,
    fwdGBs: (3 * bytes) / fwd / 1e6,
    bwdGBs: (5 * bytes) / bwd / 1e6,
  });
  total = { fwd: total.fwd + count * fwd, bwd: total.bwd + count * bwd };
  for (const t of [x, dy, gamma, beta, rm, rv]) t.dispose();
}
console.log('| N×C×H² | layers | forward ms | GB/s | backward ms | GB/s |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(
    `| ${r.shape} | ${r.count} | ${r.fwd.toFixed(3)} | ${r.fwdGBs.toFixed(1)} | ${r.bwd.toFixed(3)} | ${r.bwdGBs.toFixed(1)} |`,
  );
console.log(`| **all 18 layers** | 18 | ${total.fwd.toFixed(3)} | | ${total.bwd.toFixed(3)} | |`);
