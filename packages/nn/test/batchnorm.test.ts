import { initDevice, runtime, type Tensor, tensor, zeros } from '@mriseg/tensor-wgsl';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { batchNorm2d } from '../src/functional/batchnorm.js';
import { bnChunking } from '../src/functional/batchnorm.wgsl.js';
import { BatchNorm2d } from '../src/layers/batchnorm.js';
import { checkOp } from './check.js';
import { expectClose, FWD_TOL, GRAD_TOL, golden, relL2, values } from './helpers.js';
import { batchNormRef } from './reference.js';

beforeAll(async () => {
  await initDevice();
});

describe('batch_norm2d goldens', () => {
  it('training: batch statistics, gradients, running statistics', async () => {
    const g = golden('ops/batch_norm2d_train');
    const r = golden('ops/batch_norm2d_train_running');
    const eps = Number(g.meta.eps);
    const momentum = Number(g.meta.momentum);
    const x = g.t('x', true);
    const w = g.t('weight', true);
    const b = g.t('bias', true);
    const rm = r.t('running_mean_before');
    const rv = r.t('running_var_before');
    const nbt = zeros([], 'i32');
    const y = batchNorm2d(x, rm, rv, w, b, { training: true, momentum, eps, numBatchesTracked: nbt });
    await expectClose('bn train out', y, g.get('out'), FWD_TOL);
    await expectClose('bn running_mean', rm, r.get('running_mean_after'), FWD_TOL);
    await expectClose('bn running_var', rv, r.get('running_var_after'), FWD_TOL);
    expect(await nbt.item()).toBe(1);
    y.backward(g.t('dout'));
    await expectClose('bn train grad.x', x.grad!, g.get('grad.x'), GRAD_TOL);
    await expectClose('bn train grad.weight', w.grad!, g.get('grad.weight'), GRAD_TOL);
    await expectClose('bn train grad.bias', b.grad!, g.get('grad.bias'), GRAD_TOL);
  });

  it('eval: running statistics', async () => {
    const g = golden('ops/batch_norm2d_eval');
    const x = g.t('x', true);
    const w = g.t('weight', true);
    const b = g.t('bias', true);
    const rm = g.t('running_mean');
    const rv = g.t('running_var');
    const before = await rm.data();
    const y = batchNorm2d(x, rm, rv, w, b, { training: false, eps: Number(g.meta.eps) });
    await expectClose('bn eval out', y, g.get('out'), FWD_TOL);
    y.backward(g.t('dout'));
    await expectClose('bn eval grad.x', x.grad!, g.get('grad.x'), GRAD_TOL);
    await expectClose('bn eval grad.weight', w.grad!, g.get('grad.weight'), GRAD_TOL);
    await expectClose('bn eval grad.bias', b.grad!, g.get('grad.bias'), GRAD_TOL);
    expect(Array.from(await rm.data())).toEqual(Array.from(before));
  });
});

describe('batch_norm2d against a float64 reference', () => {
  it('training, batch 1, odd 5×3, finite differences', async () => {
    const xs = [1, 3, 5, 3];
    await checkOp(
      'batch_norm2d train',
      [
        { name: 'x', shape: xs },
        { name: 'weight', shape: [3] },
        { name: 'bias', shape: [3] },
      ],
      ([x, w, b]) => batchNorm2d(x, null, null, w, b, { training: true }),
      ([x, w, b]) => batchNormRef(x, xs, w, b, 1e-5),
      { h: 1e-5 },
    );
  });

  it('eval without affine parameters, finite differences', async () => {
    const xs = [2, 2, 3, 4];
    const mean = [0.3, -0.2];
    const variance = [0.5, 1.7];
    await checkOp(
      'batch_norm2d eval',
      [{ name: 'x', shape: xs }],
      ([x]) => batchNorm2d(x, tensor(mean, [2]), tensor(variance, [2]), null, null, { training: false }),
      ([x]) => batchNormRef(x, xs, [1, 1], [0, 0], 1e-5, { mean, var: variance }),
    );
  });

  it('many chunks: statistics over 2×2×80×70 pixels combine exactly', async () => {
    const xs = [2, 2, 80, 70];
    const n = xs.reduce((a, b) => a * b, 1);
    const v = Float32Array.from(values(n, 3), (t) => 3 + 2 * t);
    const x = tensor(v, xs);
    const y = batchNorm2d(x, null, null, tensor([1.5, 0.5], [2]), tensor([0.1, -0.1], [2]), {
      training: true,
    });
    const ref = batchNormRef(Float64Array.from(v), xs, [1.5, 0.5], [0.1, -0.1], 1e-5);
    expect(relL2(await y.data(), ref)).toBeLessThanOrEqual(FWD_TOL);
  });

  // The per-channel sums walk chunks of whole small planes or pieces of large ones, and the elementwise kernels
  // cover each plane in pieces: shapes whose chunks and pieces end mid-way, and steps that wrap into the next
  // image (plane sizes below, equal to and above the 256-thread stride).
  const chunkCases: [string, number[]][] = [
    ['two pieces of each 65×65 plane, the last shorter', [2, 2, 65, 65]],
    ['blocks of 455 planes of 3×3, the last partial', [1000, 1, 3, 3]],
    ['planes of 300 pixels: each step wraps into the next image', [30, 2, 15, 20]],
    ['planes of exactly 256 pixels', [20, 3, 16, 16]],
  ];
  for (const [what, xs] of chunkCases)
    it(`chunks: ${what}`, async () => {
      const { chunks, pieces, imagesPerChunk } = bnChunking(xs[0], xs[2] * xs[3], 4096);
      expect(chunks).toBeGreaterThan(1);
      expect(pieces > 1 || imagesPerChunk > 1).toBe(true);
      const C = xs[1];
      const gamma = Array.from({ length: C }, (_, c) => 1.2 - 0.3 * c);
      const beta = Array.from({ length: C }, (_, c) => 0.1 * c - 0.05);
      await checkOp(
        `batch_norm2d ${xs.join('×')}`,
        [
          {
            name: 'x',
            shape: xs,
            data: Float32Array.from(
              values(
                xs.reduce((a, b) => a * b),
                4,
              ),
              (t) => 3 * t + 1,
            ),
          },
        ],
        ([x]) => batchNorm2d(x, null, null, tensor(gamma, [C]), tensor(beta, [C]), { training: true }),
        ([x]) => batchNormRef(x, xs, gamma, beta, 1e-5),
        { samples: 24, h: 1e-4 },
      );
    });

  it('chunks grow rather than outnumber a dispatch dimension', () => {
    for (const [N, HW] of [
      [70_000, 2_049],
      [9_000, 65_536],
      [1 << 20, 1],
      [3, 1 << 28],
    ]) {
      const c = bnChunking(N, HW, 4096, 65_535);
      expect(c.chunks).toBeLessThanOrEqual(65_535);
      // Every value in exactly one chunk: images × pieces cover N × HW.
      expect(c.pieces * c.pieceLength).toBeGreaterThanOrEqual(HW);
      expect((c.pieces - 1) * c.pieceLength).toBeLessThan(HW);
      expect(c.chunks).toBe(Math.ceil(N / c.imagesPerChunk) * c.pieces);
    }
    expect(bnChunking(70_000, 2_049, 4096).chunks).toBe(70_000);
  });

  it('more planes than a dispatch dimension holds: the grid folds into z', async () => {
    // Planes of 256 pixels take the plane grid (one workgroup a plane); smaller ones the flat grid.
    const C = runtime().limits.maxComputeWorkgroupsPerDimension + 100;
    const xs = [1, C, 16, 16];
    const v = Float32Array.from(values(256 * C, 6));
    const mean = Float32Array.from(values(C, 7), (t) => 0.1 * t);
    const variance = Float32Array.from(values(C, 8), (t) => 1 + 0.5 * t);
    const y = batchNorm2d(tensor(v, xs), tensor(mean, [C]), tensor(variance, [C]), null, null, {
      training: false,
    });
    const ref = batchNormRef(
      Float64Array.from(v),
      xs,
      new Float64Array(C).fill(1),
      new Float64Array(C),
      1e-5,
      {
        mean,
        var: variance,
      },
    );
    expect(relL2(await y.data(), ref)).toBeLessThanOrEqual(FWD_TOL);
  });

  it('cumulative running average when momentum is null', async () => {
    const xs = [2, 1, 2, 2];
    const rm = zeros([1]);
    const rv = tensor([1], [1]);
    const nbt = zeros([], 'i32');
    const batches = [
      [1, 2, 3, 4, 5, 6, 7, 8],
      [0, 0, 2, 2, -1, 1, 3, 5],
    ];
    for (const b of batches)
      batchNorm2d(tensor(b, xs), rm, rv, null, null, {
        training: true,
        momentum: null,
        numBatchesTracked: nbt,
      });
    const stats = batches.map((b) => {
      const m = b.reduce((a, c) => a + c, 0) / b.length;
      return [m, b.reduce((a, c) => a + (c - m) ** 2, 0) / (b.length - 1)];
    });
    expect(await rm.item()).toBeCloseTo((stats[0][0] + stats[1][0]) / 2, 5);
    expect(await rv.item()).toBeCloseTo((stats[0][1] + stats[1][1]) / 2, 5);
    expect(await nbt.item()).toBe(2);
  });

  it('errors name the op and shapes', () => {
    const x = zeros([2, 3, 2, 2]);
    expect(() => batchNorm2d(x, null, null, zeros([4]), zeros([4]), { training: true })).toThrow(
      /batch_norm2d: weight f32\[4\] must be f32 \[3\]/,
    );
    expect(() => batchNorm2d(zeros([1, 3, 1, 1]), null, null, null, null, { training: true })).toThrow(
      /more than 1 value per channel/,
    );
  });
});

describe('batch_norm2d work a training step', () => {
  afterEach(() => vi.restoreAllMocks());

  /** Kernel names and buffer copies of `body`, in order. */
  function recorded(body: () => void): { kernels: string[]; copies: number } {
    const rt = runtime();
    const kernels: string[] = [];
    const dispatchKernel = rt.dispatchKernel.bind(rt);
    vi.spyOn(rt, 'dispatchKernel').mockImplementation((k, bindings, uniforms, workgroups) => {
      kernels.push(k.name);
      dispatchKernel(k, bindings, uniforms, workgroups);
    });
    const copy = vi.spyOn(rt, 'copyBuffer');
    const before = rt.counters.dispatches;
    body();
    expect(rt.counters.dispatches - before).toBe(kernels.length);
    const copies = copy.mock.calls.length;
    vi.restoreAllMocks();
    return { kernels, copies };
  }

  // 2×2×40×60 is two chunks of 4096 pixels a channel; 2×2×4×5 is one, whose partial sums are the gradients.
  for (const [xs, chunkSums] of [
    [[2, 2, 40, 60], ['batch_norm2d_backward_sums']],
    [[2, 2, 4, 5], []],
  ] as const)
    for (const momentum of [0.1, null])
      it(`no counter kernel, no copies: ${xs.join('×')}, momentum ${momentum}`, async () => {
        const bn = new BatchNorm2d(2, { momentum });
        const n = xs.reduce((a, b) => a * b, 1);
        const x = tensor(Float32Array.from(values(n, 41)), [...xs], { requiresGrad: true });
        let y: Tensor | null = null;
        const forward = recorded(() => {
          y = bn.forward(x);
        });
        expect(forward).toEqual({
          kernels: ['batch_norm2d_stats', 'batch_norm2d_stats_finalize', 'batch_norm2d'],
          copies: 0,
        });
        const backward = recorded(() => y!.backward(tensor(Float32Array.from(values(n, 42)), [...xs])));
        expect(backward).toEqual({
          kernels: ['batch_norm2d_backward_reduce', ...chunkSums, 'batch_norm2d_backward'],
          copies: 0,
        });
        expect(await bn.numBatchesTracked!.item()).toBe(1);
        expect((bn.weight as Tensor).grad!.shape).toEqual([2]);
        expect((bn.bias as Tensor).grad!.shape).toEqual([2]);
      });
});
