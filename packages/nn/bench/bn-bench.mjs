#!/usr/bin/env node
/**
 * BatchNorm2d → ReLU (training, affine, the fused kernels) at the shapes of the reference U-Net's 18 BatchNorm
 * layers: GPU time of the forward (batch statistics + normalisation) and of the backward (the two per-channel
 * sums + dx), and the bandwidth that implies for the bytes each must move (forward: x read twice, y written;
 * backward: x and dy read twice, dx written). Run on the built packages:
 *   node bench/bn-bench.mjs              # f 32, batch 16, 256² (a GPU)
 *   node bench/bn-bench.mjs --small      # f 8, batch 2, 64² (a CPU adapter)
 * Options: --f N --batch N --size N --iters N (timed repetitions after one untimed).
 * Each shape's output, input gradient and affine gradients are also compared with a float64 computation on the
 * host (relative L2 error, the largest of the four): a GPU runs the reductions with real parallelism, which the
 * CPU driver used by the tests does not. Where the pre-activation is within float32 rounding of 0, the ReLU's
 * mask is a coin toss between the two precisions (one such element of 33 million moves dx's relative L2 by
 * ~3e-4), so there the reference takes the mask the GPU's forward output shows; their count is printed.
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

/**
 * y = relu(BN(x)) and its gradients for dy, in float64, with the batch statistics (biased variance); the ReLU's
 * mask from `yGpu` where the pre-activation is within `TIE` (relative to |γ| + |β|) of 0. Counts those elements.
 */
const TIE = 1e-5;
function reference(x, dy, gamma, beta, N, C, HW, eps, yGpu) {
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  const count = N * HW;
  let ties = 0;
  for (let c = 0; c < C; c++) {
    const tie = TIE * (Math.abs(gamma[c]) + Math.abs(beta[c]));
    const on = (z, i) => {
      if (Math.abs(z) > tie) return z > 0;
      ties++;
      return yGpu[i] > 0;
    };
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) s += x[i];
    const mean = s / count;
    let v = 0;
    for (let n = 0; n < N; n++)
      for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) v += (x[i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / count + eps);
    let sg = 0;
    let sgx = 0;
    for (let n = 0; n < N; n++)
      for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) {
        const xhat = (x[i] - mean) * inv;
        const z = gamma[c] * xhat + beta[c];
        y[i] = Math.max(z, 0);
        const g = on(z, i) ? dy[i] : 0;
        sg += g;
        sgx += g * xhat;
      }
    dbeta[c] = sg;
    dgamma[c] = sgx;
    for (let n = 0; n < N; n++)
      for (let i = (n * C + c) * HW, e = i + HW; i < e; i++) {
        const xhat = (x[i] - mean) * inv;
        const z = gamma[c] * xhat + beta[c];
        const g = Math.abs(z) > tie ? (z > 0 ? dy[i] : 0) : yGpu[i] > 0 ? dy[i] : 0;
        dx[i] = gamma[c] * inv * (g - sg / count - (xhat * sgx) / count);
      }
  }
  return { y, dx, dgamma, dbeta, ties };
}

function relL2(got, want) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** The relative L2 errors of y, dx, dγ and dβ against float64, and the ReLU ties the reference took from y. */
async function check(x, dy, gamma, beta, rm, rv, opts, N, C, HW) {
  const y = batchNorm2d(x, rm, rv, gamma, beta, opts);
  y.backward(dy);
  const host = async (t) => Float64Array.from(await t.data());
  const yGpu = await y.data();
  const want = reference(
    await host(x),
    await host(dy),
    await host(gamma),
    await host(beta),
    N,
    C,
    HW,
    opts.eps,
    yGpu,
  );
  const errors = {
    y: relL2(yGpu, want.y),
    dx: relL2(await x.grad.data(), want.dx),
    dγ: relL2(await gamma.grad.data(), want.dgamma),
    dβ: relL2(await beta.grad.data(), want.dbeta),
  };
  y.dispose();
  for (const t of [x, gamma, beta]) {
    t.grad?.dispose();
    t.grad = null;
  }
  return { errors, worst: Math.max(...Object.values(errors)), ties: want.ties };
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
  const { errors, worst: error, ties } = await check(x, dy, gamma, beta, rm, rv, opts, N, C, hw * hw);
  const bytes = N * C * hw * hw * 4;
  rows.push({
    shape: `${N}×${C}×${hw}²`,
    count,
    fwd,
    bwd,
    fwdGBs: (3 * bytes) / fwd / 1e6,
    bwdGBs: (5 * bytes) / bwd / 1e6,
    error,
    errors,
    ties,
  });
  total = { fwd: total.fwd + count * fwd, bwd: total.bwd + count * bwd };
  for (const t of [x, dy, gamma, beta, rm, rv]) t.dispose();
}
// float32 sums over up to a million values a channel: a relative error far above 1e-5 is a wrong kernel.
const LIMIT = 1e-4;
console.log(
  '| N×C×H² | layers | forward ms | GB/s | backward ms | GB/s | vs float64 (rel. L2, worst of y, dx, dγ, dβ) | ReLU ties |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
const detail = (e) =>
  Object.entries(e)
    .map(([k, v]) => `${k} ${v.toExponential(1)}`)
    .join(', ');
for (const r of rows)
  console.log(
    `| ${r.shape} | ${r.count} | ${r.fwd.toFixed(3)} | ${r.fwdGBs.toFixed(1)} | ${r.bwd.toFixed(3)} | ${r.bwdGBs.toFixed(1)} | ${r.error.toExponential(1)} ${r.error <= LIMIT ? 'ok' : `WRONG (${detail(r.errors)})`} | ${r.ties} |`,
  );
console.log(`| **all 18 layers** | 18 | ${total.fwd.toFixed(3)} | | ${total.bwd.toFixed(3)} | | |`);
process.exitCode = rows.every((r) => r.error <= LIMIT) ? 0 : 1;
