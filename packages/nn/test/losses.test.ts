import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { entryToFloat32, initDevice, Rng, scope, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { readSafetensorsFile } from '@mriseg/tensor-wgsl/node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bceDiceLoss,
  bceWithLogits,
  createLoss,
  deepSupervision,
  diceLoss,
  focalLoss,
  focalTverskyLoss,
  LOSS_NAMES,
  tverskyLoss,
} from '../src/losses/index.js';
import { relL2 } from './helpers.js';

const GOLDEN = fileURLToPath(new URL('../../../../shared/golden/ops/', import.meta.url));

function golden(name: string) {
  const path = `${GOLDEN}${name}.safetensors`;
  if (!existsSync(path))
    throw new Error(`golden fixture missing: ${path} (the shared/ folder must sit beside the repo)`);
  const f = readSafetensorsFile(path);
  const get = (k: string) => {
    const e = f.tensors.get(k);
    if (!e) throw new Error(`${path}: no tensor ${k}`);
    return { data: entryToFloat32(e), shape: e.shape };
  };
  return { get, metadata: f.metadata };
}

/** Runs a loss on golden inputs and returns its value and the gradient of the logits. */
async function lossAndGrad(
  fn: (x: Tensor, t: Tensor) => Tensor,
  logits: Float32Array,
  target: Float32Array,
  shape: number[],
) {
  const x = tensor(logits, shape, { requiresGrad: true });
  const t = tensor(target, shape);
  const loss = scope(() => {
    const l = fn(x, t);
    l.backward();
    return l;
  });
  const value = await loss.item();
  const grad = await x.grad!.data();
  loss.dispose();
  x.dispose();
  t.dispose();
  return { value, grad };
}

beforeAll(async () => {
  await initDevice();
});

const cases: [string, (x: Tensor, t: Tensor) => Tensor][] = [
  ['loss_bce', (x, t) => bceWithLogits(x, t)],
  ['loss_bce_dice', (x, t) => bceDiceLoss(x, t)],
  ['loss_dice_batch', (x, t) => diceLoss(x, t, { smooth: 1 })],
  ['loss_dice_per_sample', (x, t) => diceLoss(x, t, { smooth: 1e-5, reduction: 'per-sample' })],
  ['loss_focal', (x, t) => focalLoss(x, t, { alpha: 0.25, gamma: 2 })],
  ['loss_tversky', (x, t) => tverskyLoss(x, t, { alpha: 0.3, beta: 0.7, smooth: 1 })],
];

describe('losses match the PyTorch goldens', () => {
  for (const [name, fn] of cases) {
    it(name, async () => {
      const g = golden(name);
      const logits = g.get('logits');
      const { value, grad } = await lossAndGrad(fn, logits.data, g.get('target').data, logits.shape);
      const want = g.get('loss').data[0];
      expect(Math.abs(value - want) / Math.max(Math.abs(want), 1e-12)).toBeLessThan(1e-4);
      expect(relL2(grad, g.get('grad.logits').data)).toBeLessThan(1e-3);
    });
  }
});

// ---- float64 references for the variants without goldens ----

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

function refBce(x: number[], t: number[], pw: number): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (1 - t[i]) * x[i] + (1 + (pw - 1) * t[i]) * softplus(-x[i]);
  return s / x.length;
}

function refDiceSquared(x: number[], t: number[], smooth: number): number {
  let inter = 0;
  let pp = 0;
  let tt = 0;
  for (let i = 0; i < x.length; i++) {
    const p = sig(x[i]);
    inter += p * t[i];
    pp += p * p;
    tt += t[i] * t[i];
  }
  return 1 - (2 * inter + smooth) / (pp + tt + smooth);
}

function refFocalTversky(x: number[], t: number[], a: number, b: number, s: number, gamma: number): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < x.length; i++) {
    const p = sig(x[i]);
    tp += p * t[i];
    fp += p * (1 - t[i]);
    fn += (1 - p) * t[i];
  }
  return (1 - (tp + s) / (tp + a * fp + b * fn + s)) ** gamma;
}

function fdGrad(f: (x: number[]) => number, x: number[]): number[] {
  const h = 1e-6;
  return x.map((_, i) => {
    const up = [...x];
    const dn = [...x];
    up[i] += h;
    dn[i] -= h;
    return (f(up) - f(dn)) / (2 * h);
  });
}

describe('loss variants against float64 finite differences', () => {
  const shape = [2, 1, 5, 3];
  const rng = new Rng(7);
  const x = Array.from({ length: 30 }, () => rng.normal() * 2);
  const t = Array.from({ length: 30 }, () => (rng.uniform() < 0.4 ? 1 : 0));
  const variants: [string, (x: Tensor, t: Tensor) => Tensor, (x: number[]) => number][] = [
    ['bce with pos_weight 3', (a, b) => bceWithLogits(a, b, { posWeight: 3 }), (v) => refBce(v, t, 3)],
    ['squared Dice', (a, b) => diceLoss(a, b, { squared: true, smooth: 1 }), (v) => refDiceSquared(v, t, 1)],
    [
      'focal Tversky',
      (a, b) => focalTverskyLoss(a, b, { alpha: 0.3, beta: 0.7, smooth: 1, gamma: 0.75 }),
      (v) => refFocalTversky(v, t, 0.3, 0.7, 1, 0.75),
    ],
  ];
  for (const [name, fn, ref] of variants) {
    it(name, async () => {
      const { value, grad } = await lossAndGrad(fn, Float32Array.from(x), Float32Array.from(t), shape);
      expect(Math.abs(value - ref(x))).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref(x))));
      expect(relL2(grad, fdGrad(ref, x))).toBeLessThan(1e-3);
    });
  }

  it('deep supervision averages the heads with their weights', async () => {
    const logits2 = x.map((v) => -v);
    const heads = [tensor(x, shape, { requiresGrad: true }), tensor(logits2, shape, { requiresGrad: true })];
    const target = tensor(t, shape);
    const ds = deepSupervision((a, b) => bceWithLogits(a, b), [1, 3]);
    const loss = scope(() => {
      const l = ds(heads, target);
      l.backward();
      return l;
    });
    const want = (refBce(x, t, 1) + 3 * refBce(logits2, t, 1)) / 4;
    expect(Math.abs((await loss.item()) - want)).toBeLessThan(1e-5);
    // The second head's gradient carries weight 3/4: (σ(x) − t)·3/4/N.
    const g1 = await heads[1].grad!.data();
    for (const [i, g] of g1.entries()) expect(g).toBeCloseTo(((sig(logits2[i]) - t[i]) * 0.75) / x.length, 6);
    expect(() => ds([], target)).toThrow(/no heads/);
    expect(() => deepSupervision((a, b) => bceWithLogits(a, b), [1])(heads, target)).toThrow(
      /1 weights for 2 heads/,
    );
  });

  it('every named loss is created and rejects unknown names and mismatched shapes', async () => {
    const a = tensor(x, shape);
    const b = tensor(t, shape);
    for (const name of LOSS_NAMES) {
      const v = await scope(() => createLoss(name)(a, b)).item();
      expect(Number.isFinite(v)).toBe(true);
    }
    expect(() => createLoss('hinge')).toThrow(/unknown loss "hinge"/);
    const c = tensor([1, 2, 3], [1, 1, 3]);
    expect(() => diceLoss(a, c)).toThrow(/diceLoss: logits \[2, 1, 5, 3\] and target \[1, 1, 3\]/);
  });

  it('BCE is finite for extreme logits', async () => {
    const big = tensor([200, -200, 88, -88], [1, 1, 2, 2]);
    const tt = tensor([0, 1, 1, 0], [1, 1, 2, 2]);
    const v = await scope(() => bceWithLogits(big, tt)).item();
    // x = 200, t = 0 and x = −200, t = 1 cost 200 each; the ±88 pixels are right and cost ~0.
    expect(v).toBeCloseTo(refBce([200, -200, 88, -88], [0, 1, 1, 0], 1), 4);
    expect(v).toBeCloseTo(100, 4);
  });
});
