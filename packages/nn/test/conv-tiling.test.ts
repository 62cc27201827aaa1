import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDevice, Kernel, runtime, Tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { convForwardRaw, convInputGradRaw, convWeightGradRaw } from '../src/functional/conv/direct.js';
import {
  convForwardSpec,
  convInputGradSpec,
  convWeightGradSpec,
} from '../src/functional/conv/direct.wgsl.js';
import { type ConvGeometry, LOAD_ORDERS } from '../src/functional/conv/geometry.js';
import { conv2d, conv2dGeometry } from '../src/functional/conv2d.js';
import { tilingProblem, workgroupStorageBytes } from '../src/functional/gemm.wgsl.js';
import * as F from '../src/functional/index.js';
import { loadConvTilings, saveConvTilings } from '../src/node.js';
import { relL2, up, values } from './helpers.js';
import { conv2dRef } from './reference.js';
import { tuningCase } from './tuning-case.js';

beforeAll(async () => {
  await initDevice();
});

/** Float64 input and weight gradients of conv2d for upstream dy (the adjoint of the forward loop). */
function convGradsRef(x: Float64Array, w: Float64Array, dy: Float64Array, g: ConvGeometry) {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  const dw = new Float64Array(g.K * g.C * g.R * g.S);
  for (let n = 0; n < g.N; n++)
    for (let k = 0; k < g.K; k++)
      for (let p = 0; p < g.P; p++)
        for (let q = 0; q < g.Q; q++) {
          const d = dy[((n * g.K + k) * g.P + p) * g.Q + q];
          for (let c = 0; c < g.C; c++)
            for (let r = 0; r < g.R; r++)
              for (let s = 0; s < g.S; s++) {
                const h = p * g.sh - g.ph + r * g.dh;
                const ww = q * g.sw - g.pw + s * g.dw;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                const xi = ((n * g.C + c) * g.H + h) * g.W + ww;
                const wi = ((k * g.C + c) * g.R + r) * g.S + s;
                dx[xi] += d * w[wi];
                dw[wi] += d * x[xi];
              }
        }
  return { dx, dw };
}

interface Case {
  geometry: ConvGeometry;
  x: Float64Array;
  w: Float64Array;
  dy: Float64Array;
  ref: { y: Float64Array; dx: Float64Array; dw: Float64Array };
}

function makeCase(xs: number[], ws: number[], stride: number, seed: number): Case {
  const x = values(
    xs.reduce((a, b) => a * b),
    seed,
  );
  const w = values(
    ws.reduce((a, b) => a * b),
    seed + 1,
  );
  const geometry = conv2dGeometry(Tensor.empty(xs, 'f32'), Tensor.empty(ws, 'f32'), {
    stride,
    padding: 1,
  });
  const dy = values(geometry.N * geometry.K * geometry.P * geometry.Q, seed + 2);
  const y = conv2dRef(x, xs, w, ws, null, { stride: [stride, stride], padding: [1, 1] }).out;
  return { geometry, x, w, dy, ref: { y, ...convGradsRef(x, w, dy, geometry) } };
}

async function runKernel(kernel: F.ConvKernel, c: Case): Promise<Float64Array> {
  const g = c.geometry;
  const x = up(c.x, [g.N, g.C, g.H, g.W]);
  const w = up(c.w, [g.K, g.C, g.R, g.S]);
  const dy = up(c.dy, [g.N, g.K, g.P, g.Q]);
  const out =
    kernel === 'forward'
      ? convForwardRaw(x, w, null, g)
      : kernel === 'input_grad'
        ? convInputGradRaw(dy, w, null, g)
        : convWeightGradRaw(dy, x, g);
  const v = Float64Array.from(await out.data());
  for (const t of [x, w, dy, out]) t.dispose();
  return v;
}

const refOf = (kernel: F.ConvKernel, c: Case) =>
  kernel === 'forward' ? c.ref.y : kernel === 'input_grad' ? c.ref.dx : c.ref.dw;

describe('GEMM tilings', () => {
  it('every candidate and default tiling generates WGSL that the device accepts', async () => {
    const g = conv2dGeometry(Tensor.empty([16, 64, 64, 64], 'f32'), Tensor.empty([128, 64, 3, 3], 'f32'), {
      padding: 1,
    });
    const tilings = new Map<string, F.GemmTiling>();
    for (const [M, N] of [
      [16384, 512],
      [32, 288],
      [65536, 32],
      [65536, 16],
      [64, 4608],
    ])
      for (const t of [...F.candidateTilings(M, N), F.pickGpuTiling(M, N), F.pickGpuTiling(M, N, 1)])
        for (const v of [t, ...F.tilingVariants(t)]) tilings.set(F.tilingKey(v), v);
    expect(tilings.size).toBeGreaterThanOrEqual(30);
    expect([...tilings.values()].filter((t) => t.vec4).length).toBeGreaterThanOrEqual(8);
    const device = runtime().device;
    let checked = 0;
    for (const t of tilings.values())
      for (const [kernel, make] of [
        ['forward', () => new Kernel('test', convForwardSpec('conv2d', g, t, true)).wgsl],
        ['input_grad', () => new Kernel('test', convInputGradSpec('conv2d_input_grad', g, t, false)).wgsl],
        ['weight_grad', () => new Kernel('test', convWeightGradSpec('conv2d_weight_grad', g, t)).wgsl],
      ] as const) {
        const [a, b] = LOAD_ORDERS[kernel];
        if (tilingProblem(t, a, b)) {
          expect(make).toThrow(/gemm: tiling/);
          continue;
        }
        const module = device.createShaderModule({ code: make() });
        const info = await module.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === 'error').map((m) => m.message);
        expect(errors, `${kernel} ${F.tilingKey(t)}`).toEqual([]);
        checked++;
      }
    expect(checked).toBeGreaterThan(80);
  });

  it('the CPU default (the fallback and the autotuner reference everywhere) fits WebGPU minimum limits', () => {
    const sizes = [1, 2, 3, 4, 5, 8, 9, 16, 17, 27, 32, 33, 64, 65, 288, 4096, 1 << 20];
    let checked = 0;
    for (const M of sizes)
      for (const N of sizes)
        for (const [a, b] of Object.values(LOAD_ORDERS)) {
          const t = F.pickTiling(M, N);
          expect(tilingProblem(t, a, b), `${F.tilingKey(t)} for ${M}×${N}`).toBeNull();
          expect(workgroupStorageBytes(t, a, b), `${F.tilingKey(t)} for ${M}×${N}`).toBeLessThanOrEqual(
            16384,
          );
          expect((t.BM * t.BN) / (t.TM * t.TN)).toBeLessThanOrEqual(256);
          checked++;
        }
    expect(checked).toBe(sizes.length ** 2 * 3);
  });

  it('rejects tilings that cannot be generated, naming the reason', () => {
    expect(tilingProblem({ BM: 64, BN: 64, BK: 8, TM: 3, TN: 4 }, 'mn', 'k')).toMatch(/integers/);
    expect(tilingProblem({ BM: 128, BN: 128, BK: 8, TM: 4, TN: 4 }, 'mn', 'k')).toMatch(/1024 threads/);
    expect(tilingProblem({ BM: 256, BN: 16, BK: 8, TM: 8, TN: 2, prefetch: true }, 'mn', 'k')).toMatch(
      /prefetch/,
    );
    expect(tilingProblem({ BM: 256, BN: 16, BK: 16, TM: 8, TN: 2, vec4: true }, 'mn', 'k')).toMatch(/vec4/);
    // vec4 rows of a k-fastest tile are padded to a whole number of vec4s: 128 + 4 floats, not 128 + 2.
    expect(workgroupStorageBytes({ BM: 128, BN: 128, BK: 16, TM: 8, TN: 8 }, 'k', 'k')).toBe(
      4 * 16 * 2 * 130,
    );
    expect(workgroupStorageBytes({ BM: 128, BN: 128, BK: 16, TM: 8, TN: 8, vec4: true }, 'k', 'k')).toBe(
      4 * 16 * 2 * 132,
    );
    // Double buffering: twice the workgroup memory.
    expect(workgroupStorageBytes({ BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, double: true }, 'mn', 'k')).toBe(
      2 * 4 * 8 * (128 + 132),
    );
    const g = conv2dGeometry(Tensor.empty([1, 2, 8, 8], 'f32'), Tensor.empty([4, 2, 3, 3], 'f32'));
    expect(() => F.setConvTiling('forward', g, { BM: 64, BN: 64, BK: 8, TM: 3, TN: 4 })).toThrow(
      /setConvTiling\(forward\)/,
    );
    // A tiling whose workgroup memory exceeds the device's limit is refused before any pipeline is made.
    const deep: F.GemmTiling = { BM: 128, BN: 128, BK: 128, TM: 8, TN: 8 };
    const limit = runtime().limits.maxComputeWorkgroupStorageSize;
    expect(workgroupStorageBytes(deep, 'mn', 'k')).toBe(4 * 128 * (128 + 129));
    expect(limit).toBeLessThan(4 * 128 * 257);
    expect(F.convTilingProblem('forward', deep)).toMatch(
      new RegExp(`131584 bytes .* exceed the device's ${limit}`),
    );
    expect(() => F.setConvTiling('forward', g, deep)).toThrow(/workgroup memory/);
  });

  it('picks register-blocked tiles on a GPU only when they leave enough workgroups', () => {
    expect(F.tilingKey(F.pickGpuTiling(16 * 64 * 64, 128))).toBe('128x128x8/8x8p');
    expect(F.tilingKey(F.pickGpuTiling(16 * 16 * 16, 512))).toBe('128x64x8/8x4p');
    expect(F.tilingKey(F.pickGpuTiling(16 * 8 * 8, 256))).toBe('64x64x8/4x4p');
    expect(F.tilingKey(F.pickGpuTiling(16 * 256 * 256, 32))).toBe('256x32x8/8x4p');
    expect(F.tilingKey(F.pickGpuTiling(32, 288, 1))).toBe('32x128x8/4x4p');
    expect(F.pickGpuTiling(1 << 20, 1)).toEqual(F.pickTiling(1 << 20, 1));
    // A weight gradient to one channel (the final 1×1 convolution): one row, one thread an output; a few rows: a
    // tile as short as they are, not a 32-row one.
    expect(F.tilingKey(F.pickGpuTiling(1, 32, 1))).toBe('1x256x8/1x1');
    expect(F.tilingKey(F.pickGpuTiling(3, 32, 1))).toBe('4x64x16/1x1');
    expect(F.tilingKey(F.pickGpuTiling(16 * 256 * 256, 1))).toBe('256x1x8/1x1');
  });

  // Tile sizes that do not divide M, N or the reduction: every bounds check is exercised.
  // Built on first use: geometries need the device (tensors), which is not there while tests are collected.
  const lazy = (build: () => Case) => {
    let c: Case | undefined;
    return () => {
      c ??= build();
      return c;
    };
  };
  const stride1 = lazy(() => makeCase([2, 5, 17, 23], [19, 5, 3, 3], 1, 11));
  const stride2 = lazy(() => makeCase([2, 6, 17, 15], [21, 6, 3, 3], 2, 21));
  // Output rows of 5 and 3 pixels, shorter than a k step: the weight gradient's walk along the reduction carries
  // several rows (and images) a step.
  const narrow = lazy(() => makeCase([3, 4, 7, 5], [6, 4, 3, 3], 1, 31));
  const narrower = lazy(() => makeCase([5, 3, 6, 5], [7, 3, 3, 3], 2, 41));
  // A 1×1 convolution to one channel: one-column forward GEMM, one-row weight gradient.
  const single = lazy(() => makeCase([2, 5, 17, 23], [1, 5, 1, 1], 1, 0));
  const cases: [F.ConvKernel, () => Case, F.GemmTiling][] = [
    ['forward', single, { BM: 256, BN: 1, BK: 16, TM: 1, TN: 1 }],
    ['weight_grad', single, { BM: 1, BN: 256, BK: 16, TM: 1, TN: 1 }],
    ['forward', stride1, { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, prefetch: true }],
    ['forward', stride1, { BM: 256, BN: 32, BK: 8, TM: 8, TN: 4, prefetch: true }],
    ['forward', stride2, { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 }],
    ['forward', stride1, { BM: 128, BN: 64, BK: 8, TM: 8, TN: 4, prefetch: true, vec4: true }],
    ['forward', stride2, { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, vec4: true }],
    ['input_grad', stride2, { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, prefetch: true, vec4: true }],
    ['input_grad', stride1, { BM: 32, BN: 128, BK: 16, TM: 4, TN: 4, prefetch: true, vec4: true }],
    ['weight_grad', stride1, { BM: 64, BN: 128, BK: 8, TM: 4, TN: 8, prefetch: true, vec4: true }],
    ['weight_grad', stride2, { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8, vec4: true }],
    ['forward', stride2, { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, prefetch: true, vec4: true, double: true }],
    ['input_grad', stride1, { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4, double: true }],
    ['forward', stride1, { BM: 64, BN: 128, BK: 8, TM: 8, TN: 8, prefetch: true, vec4: true }],
    ['weight_grad', stride2, { BM: 128, BN: 64, BK: 8, TM: 8, TN: 8, prefetch: true, double: true }],
    // Split-K extremes: one workgroup for the whole reduction, and as many splits as the reduction allows.
    ['weight_grad', stride1, { BM: 32, BN: 64, BK: 8, TM: 2, TN: 4, prefetch: true, splitTarget: 1 }],
    ['weight_grad', stride2, { BM: 32, BN: 64, BK: 8, TM: 2, TN: 4, splitTarget: 100000 }],
    ['weight_grad', stride1, { BM: 128, BN: 64, BK: 8, TM: 8, TN: 4, prefetch: true, double: true }],
    ['input_grad', stride2, { BM: 64, BN: 128, BK: 8, TM: 4, TN: 8, prefetch: true }],
    ['input_grad', stride1, { BM: 256, BN: 16, BK: 16, TM: 8, TN: 2, prefetch: true }],
    ['weight_grad', stride1, { BM: 32, BN: 128, BK: 8, TM: 4, TN: 4, prefetch: true }],
    ['weight_grad', stride2, { BM: 128, BN: 64, BK: 8, TM: 8, TN: 4, prefetch: true }],
    ['weight_grad', stride1, { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8, prefetch: true }],
    ['weight_grad', narrow, { BM: 32, BN: 64, BK: 8, TM: 2, TN: 4, prefetch: true, splitTarget: 3 }],
    ['weight_grad', narrow, { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, double: true }],
    ['weight_grad', narrower, { BM: 32, BN: 64, BK: 8, TM: 2, TN: 4, splitTarget: 5 }],
    ['weight_grad', narrower, { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, prefetch: true, vec4: true }],
  ];
  for (const [kernel, lazyCase, tiling] of cases) {
    it(`${kernel} with ${F.tilingKey(tiling)} matches float64 (M, N, K not multiples of the tile)`, async () => {
      const c = lazyCase();
      const g = c.geometry;
      F.setConvTiling(kernel, g, tiling);
      try {
        expect(F.convTiling(kernel, g, false)).toEqual(tiling);
        const got = await runKernel(kernel, c);
        expect(relL2(got, refOf(kernel, c))).toBeLessThan(1e-6);
      } finally {
        F.setConvTiling(kernel, g, null);
      }
      expect(F.convTiling(kernel, g, false)).toEqual(F.defaultConvTiling(kernel, g));
    });
  }

  it('records the distinct GEMMs a step launches', () => {
    const x = up(values(2 * 3 * 8 * 8, 3), [2, 3, 8, 8], true);
    const w = up(values(4 * 3 * 3 * 3, 4), [4, 3, 3, 3], true);
    const problems = F.recordConvProblems(() => {
      for (let i = 0; i < 2; i++) {
        const y = conv2d(x, w, null, { padding: 1 });
        y.backward(up(values(2 * 4 * 8 * 8, 5), [2, 4, 8, 8]));
      }
    });
    expect(problems.map((p) => p.kernel)).toEqual(['forward', 'input_grad', 'weight_grad']);
    expect(problems[0].geometry).toMatchObject({ N: 2, C: 3, H: 8, W: 8, K: 4, P: 8, Q: 8 });
    expect(() => F.recordConvProblems(() => F.recordConvProblems(() => {}))).toThrow(/already recording/);
    F.clearConvTilings();
  });

  it('autotuning times each candidate, pins the fastest and keeps results exact', async () => {
    const c = tuningCase(6);
    const other: F.GemmTiling = { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4, prefetch: true };
    const seen: string[] = [];
    const results = await F.autotuneConvolutions(c.step, {
      reps: 2,
      candidates: (_k, M, N) => [F.pickTiling(M, N), other],
      refine: 0,
      onResult: (r) => seen.push(r.kernel),
    });
    try {
      expect(seen).toEqual(['forward', 'input_grad', 'weight_grad']);
      for (const r of results) {
        expect(r.timings.map((t) => F.tilingKey(t.tiling)).sort()).toEqual(
          [F.tilingKey(F.defaultConvTiling(r.kernel, r.geometry)), F.tilingKey(other)].sort(),
        );
        for (const t of r.timings) expect(t.ms).toBeGreaterThan(0);
        expect(r.best.ms).toBe(Math.min(...r.timings.map((t) => t.ms)));
        expect(F.convTiling(r.kernel, r.geometry, false)).toEqual(r.best.tiling);
        expect(r.gflop).toBeCloseTo((2 * 2 * 5 * 3 * 9 * 9 * 9) / 1e9, 12);
      }
      c.x.grad?.dispose();
      await c.expectExact();
    } finally {
      F.clearConvTilings();
    }
  });

  it('refines the fastest first-round tilings with their variants, and climbs while a variant is faster', async () => {
    const c = tuningCase(10);
    const other: F.GemmTiling = { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4, prefetch: true };
    const deeper = (t: F.GemmTiling): F.GemmTiling => ({ ...t, BK: 2 * t.BK });
    const results = await F.autotuneConvolutions(c.step, {
      reps: 1,
      candidates: (_k, M, N) => [F.pickTiling(M, N), other],
      refine: 1,
      variants: (t) => [deeper(t), t],
    });
    try {
      expect(results).toHaveLength(3);
      for (const r of results) {
        // Two first-round tilings, then the one variant of the faster that was not timed already; each later
        // round refines a tiling that was the fastest so far.
        // (The weight gradient's split-K targets, tried last, are another test's subject.)
        const chain = r.timings.filter((t) => t.tiling.splitTarget === undefined);
        const [a, b, ...refined] = chain;
        const leader = a.ms <= b.ms ? a : b;
        expect(refined.length).toBeGreaterThanOrEqual(1);
        expect(refined.length).toBeLessThanOrEqual(4);
        expect(refined[0].tiling).toEqual(deeper(leader.tiling));
        for (let i = 3; i < chain.length; i++) {
          const prev = chain[i - 1];
          expect(chain[i].tiling).toEqual(deeper(prev.tiling));
          expect(prev.ms).toBe(Math.min(...chain.slice(0, i).map((t) => t.ms)));
        }
        expect(r.best.ms).toBe(Math.min(...r.timings.map((t) => t.ms)));
      }
    } finally {
      F.clearConvTilings();
    }
  });

  it('refinement also tries other split-K targets for the weight gradient', async () => {
    const c = tuningCase(18);
    const results = await F.autotuneConvolutions(c.step, {
      reps: 1,
      candidates: (_k, M, N) => [F.pickTiling(M, N)],
      refine: 1,
      variants: () => [],
    });
    try {
      const splits = (r: F.ConvTuningResult) => r.timings.map((t) => t.tiling.splitTarget ?? null);
      expect(results.map((r) => r.kernel)).toEqual(['forward', 'input_grad', 'weight_grad']);
      expect(splits(results[0])).toEqual([null]);
      expect(splits(results[1])).toEqual([null]);
      expect(splits(results[2])).toEqual([null, 128, 256, 1024, 2048]);
      const dw = results[2];
      expect(F.convTiling('weight_grad', dw.geometry, false)).toEqual(dw.best.tiling);
      c.x.grad?.dispose();
      await c.expectExact();
    } finally {
      F.clearConvTilings();
    }
  });

  it('variants of a tiling toggle vec4 reads, prefetching and double buffering, and change the k step', () => {
    const keys = (t: F.GemmTiling) => F.tilingVariants(t).map(F.tilingKey);
    expect(keys({ BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, prefetch: true })).toEqual([
      '128x128x8/8x8pv',
      '128x128x16/8x8p',
      '128x128x8/8x8',
      '128x128x8/8x8pd',
    ]);
    expect(keys({ BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, vec4: true, double: true })).toEqual([
      '64x64x16/4x4d',
      '64x64x8/4x4vd',
      '64x64x16/4x4pvd',
      '64x64x16/4x4v',
    ]);
  });

  it('tilings export as text, import on the same device, and skip what this device cannot run', async () => {
    F.clearConvTilings();
    const g = conv2dGeometry(Tensor.empty([2, 8, 16, 16], 'f32'), Tensor.empty([16, 8, 3, 3], 'f32'), {
      padding: 1,
    });
    const t: F.GemmTiling = { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4, prefetch: true };
    F.setConvTiling('weight_grad', g, t);
    const saved = F.exportConvTilings();
    expect(Object.values(saved)).toEqual(['64x64x8/4x4p']);
    expect(F.parseTilingKey('64x64x8/4x4p')).toEqual(t);
    expect(F.parseTilingKey('64x64x8/4x4')).toEqual({ BM: 64, BN: 64, BK: 8, TM: 4, TN: 4 });
    const v: F.GemmTiling = { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, prefetch: true, vec4: true };
    expect(F.tilingKey(v)).toBe('64x64x16/4x4pv');
    expect(F.parseTilingKey('64x64x16/4x4pv')).toEqual(v);
    expect(F.parseTilingKey('64x64x16/4x4v')).toEqual({ BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, vec4: true });
    expect(F.parseTilingKey('64x64x16/4x4vp')).toBeNull();
    expect(F.parseTilingKey('64x64x16/4x4pvd')).toEqual({ ...v, double: true });
    expect(F.tilingKey({ ...v, double: true })).toBe('64x64x16/4x4pvd');
    expect(F.parseTilingKey('128x64x8/8x4ps1024')).toEqual({
      BM: 128,
      BN: 64,
      BK: 8,
      TM: 8,
      TN: 4,
      prefetch: true,
      splitTarget: 1024,
    });
    expect(F.tilingKey({ ...v, double: true, splitTarget: 256 })).toBe('64x64x16/4x4pvds256');
    expect(F.parseTilingKey('64x64x16/4x4pvds256')).toEqual({ ...v, double: true, splitTarget: 256 });
    expect(F.convTilingProblem('forward', { ...v, splitTarget: 256 })).toMatch(/weight gradient only/);
    expect(F.convTilingProblem('weight_grad', { ...v, splitTarget: 0 })).toMatch(/positive integer/);
    expect(F.parseTilingKey('64x64/4x4')).toBeNull();
    F.clearConvTilings();
    expect(F.hasConvTiling('weight_grad', g)).toBe(false);
    const key = Object.keys(saved)[0];
    const n = F.importConvTilings({
      ...saved,
      'forward|1,2,3': '64x64x8/4x4',
      [key.replace('weight_grad', 'sideways')]: '64x64x8/4x4',
      [key.replace('weight_grad', 'forward')]: '128x128x128/8x8',
      [key.replace('weight_grad', 'input_grad')]: 'big',
    });
    expect(n).toBe(1);
    expect(F.convTiling('weight_grad', g, false)).toEqual(t);
    F.clearConvTilings();
  });

  it('the kernels fingerprint is a stable 64-bit hash', () => {
    const a = F.convKernelsFingerprint();
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(F.convKernelsFingerprint()).toBe(a);
  });

  it('a tilings file is reused on the same device only; autotuning then times only new GEMMs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mriseg-tilings-'));
    const file = join(dir, 'tilings.json');
    try {
      expect(loadConvTilings(file)).toEqual({ pinned: 0, skipped: 'no such file' });
      const x = up(values(1 * 2 * 6 * 6, 8), [1, 2, 6, 6], true);
      const w = up(values(3 * 2 * 3 * 3, 9), [3, 2, 3, 3], true);
      const step = () => conv2d(x, w, null, { padding: 1 }).sum().backward();
      const only = {
        candidates: (_k: F.ConvKernel, M: number, N: number) => [F.pickTiling(M, N)],
        refine: 0,
      };
      expect(await F.autotuneConvolutions(step, only)).toHaveLength(3);
      saveConvTilings(file);
      F.clearConvTilings();
      expect(loadConvTilings(file)).toEqual({ pinned: 3 });
      expect(await F.autotuneConvolutions(step, { ...only, skipPinned: true })).toHaveLength(0);
      const json = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, JSON.stringify({ ...json, device: 'another GPU' }));
      F.clearConvTilings();
      expect(loadConvTilings(file)).toEqual({ pinned: 0, skipped: `${file}: tuned on another GPU` });
      expect(json.kernels).toBe(F.convKernelsFingerprint());
      writeFileSync(file, JSON.stringify({ ...json, kernels: '0123456789abcdef' }));
      expect(loadConvTilings(file)).toEqual({
        pinned: 0,
        skipped: `${file}: tuned for another version of the convolution kernels`,
      });
      writeFileSync(file, JSON.stringify({ ...json, format: 'mriseg.conv-tilings/1' }));
      expect(loadConvTilings(file).skipped).toMatch(/not a mriseg\.conv-tilings\/2 file/);
      writeFileSync(file, '{ not json');
      expect(loadConvTilings(file).skipped).toMatch(/not JSON/);
    } finally {
      F.clearConvTilings();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('importConvTilingsByLayer', () => {
  it('pins the tiling a file chose for the same layer at another batch and image size', async () => {
    const at = (N: number, H: number): ConvGeometry => ({
      N,
      C: 8,
      H,
      W: H,
      K: 16,
      P: H,
      Q: H,
      R: 3,
      S: 3,
      sh: 1,
      sw: 1,
      ph: 1,
      pw: 1,
      dh: 1,
      dw: 1,
    });
    F.clearConvTilings();
    try {
      const tuned: F.GemmTiling = { BM: 32, BN: 16, BK: 8, TM: 2, TN: 2, winograd: 2 };
      const small: F.GemmTiling = { BM: 16, BN: 16, BK: 8, TM: 1, TN: 1 };
      F.setConvTiling('forward', at(16, 64), tuned);
      F.setConvTiling('forward', at(16, 8), small);
      const file = F.exportConvTilings();
      F.clearConvTilings();
      const problems = [
        { kernel: 'forward' as const, geometry: at(2, 32), bias: false },
        { kernel: 'input_grad' as const, geometry: at(2, 32), bias: false },
      ];
      expect(F.importConvTilingsByLayer(file, problems)).toBe(1);
      // The nearest height wins: 64 for a 32-pixel run, not 8.
      expect(F.tilingKey(F.convTiling('forward', at(2, 32), false))).toBe(F.tilingKey(tuned));
      expect(F.hasConvTiling('input_grad', at(2, 32))).toBe(false);
      // Another layer (other channels) is not matched.
      expect(
        F.importConvTilingsByLayer(file, [
          { kernel: 'forward', geometry: { ...at(2, 32), C: 4 }, bias: false },
        ]),
      ).toBe(0);
    } finally {
      F.clearConvTilings();
    }
  });
});
