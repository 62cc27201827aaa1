/**
 * Autotuner behaviour beyond timing: it must never pin a tiling whose result is wrong (a miscompiled kernel would
 * otherwise buy speed with wrong gradients), it keeps to a time budget, and it tunes the largest GEMMs first.
 * The GEMM generator is wrapped so that one marked tiling (BK 32) stores a shifted result, the way a faulty
 * driver compiler might.
 */
import { initDevice } from '@mriseg/tensor-wgsl';
import { beforeAll, expect, it, vi } from 'vitest';
import { gemmExtent } from '../src/functional/conv/geometry.js';
import { conv2d } from '../src/functional/conv2d.js';
import type { GemmTiling, GemmVariant } from '../src/functional/gemm.wgsl.js';
import * as F from '../src/functional/index.js';
import { up, values } from './helpers.js';
import { tuningCase } from './tuning-case.js';

vi.mock('../src/functional/gemm.wgsl.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/functional/gemm.wgsl.js')>();
  return {
    ...real,
    gemmWgsl: (v: GemmVariant) => {
      const code = real.gemmWgsl(v);
      return v.tiling.BK === 32 ? code.replaceAll('store(m, n, c', 'store(m, n, 0.001 + c') : code;
    },
  };
});

beforeAll(async () => {
  await initDevice();
});

it('a candidate whose result differs from the plainest tiling is rejected, never pinned', async () => {
  const c = tuningCase(12);
  const faulty = (t: GemmTiling): GemmTiling => ({ ...t, BK: 32 });
  const results = await F.autotuneConvolutions(c.step, {
    reps: 1,
    candidates: (_k, M, N) => [F.pickTiling(M, N), faulty(F.pickTiling(M, N))],
    refine: 0,
  });
  try {
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.timings.map((t) => F.tilingKey(t.tiling))).toEqual([
        F.tilingKey(F.defaultConvTiling(r.kernel, r.geometry)),
      ]);
      expect(r.rejected).toHaveLength(1);
      expect(F.tilingKey(r.rejected[0].tiling)).toMatch(/x32\//);
      expect(r.rejected[0].reason).toMatch(/result differs from .* by [\d.]+e[-+]\d+ \(relative\)/);
      expect(F.convTiling(r.kernel, r.geometry, false).BK).not.toBe(32);
    }
    // What the network computes afterwards is still exact.
    await c.expectExact();
  } finally {
    F.clearConvTilings();
  }
});

it('a faulty tiling already in use is caught too: results are checked against the plainest tiling', async () => {
  const c = tuningCase(14);
  const faulty = (t: GemmTiling): GemmTiling => ({ ...t, BK: 32 });
  const problems = F.recordConvProblems(c.step);
  for (const p of problems) {
    const { M, N } = gemmExtent(p.kernel, p.geometry);
    F.setConvTiling(p.kernel, p.geometry, faulty(F.pickTiling(M, N)));
  }
  try {
    const results = await F.tuneConvolutions(problems, { reps: 1, candidates: () => [], refine: 0 });
    for (const r of results) {
      const { M, N } = gemmExtent(r.kernel, r.geometry);
      expect(r.rejected.map((x) => F.tilingKey(x.tiling))).toEqual([F.tilingKey(faulty(F.pickTiling(M, N)))]);
      expect(r.best.tiling).toEqual(F.pickTiling(M, N));
      expect(r.before).toBe(r.timings[0]);
    }
    await c.expectExact();
  } finally {
    F.clearConvTilings();
  }
});

it('a time budget leaves the GEMMs it does not reach as they were, and names them', async () => {
  const c = tuningCase(16);
  const skipped: string[] = [];
  const results = await F.autotuneConvolutions(c.step, {
    budgetSeconds: 0,
    onSkipped: (p) => skipped.push(p.kernel),
  });
  expect(results).toEqual([]);
  expect(skipped).toEqual(['forward', 'input_grad', 'weight_grad']);
  expect(F.exportConvTilings()).toEqual({});
  // With time to spare nothing is cut short.
  const full = await F.autotuneConvolutions(c.step, {
    budgetSeconds: 600,
    candidates: (_k, M, N) => [F.pickTiling(M, N)],
    onSkipped: (p) => skipped.push(p.kernel),
  });
  try {
    expect(full.map((r) => r.cutShort)).toEqual([false, false, false]);
    expect(skipped).toHaveLength(3);
  } finally {
    F.clearConvTilings();
  }
});

it('tunes the largest GEMMs first, whatever order the step launched them in', async () => {
  const c = tuningCase(20);
  const big = up(values(2 * 3 * 17 * 17, 22), [2, 3, 17, 17], true);
  const gflops: number[] = [];
  const results = await F.autotuneConvolutions(
    () => {
      c.step();
      conv2d(big, c.w, null, { padding: 1 }).sum().backward();
    },
    { reps: 1, candidates: () => [], refine: 0, onResult: (r) => gflops.push(r.gflop) },
  );
  try {
    expect(results).toHaveLength(6);
    expect(gflops).toEqual([...gflops].sort((a, b) => b - a));
    expect(gflops[0]).toBeGreaterThan(gflops[5]);
    expect(results[0].geometry.H).toBe(17);
  } finally {
    F.clearConvTilings();
  }
});

it('times Winograd for a 3×3 stride-1 convolution and both its gradients, checked like any candidate', async () => {
  const c = tuningCase(24);
  const results = await F.autotuneConvolutions(c.step, {
    reps: 1,
    candidates: () => [],
    refine: 0,
    winograd: true,
  });
  try {
    const winograd = (r: F.ConvTuningResult) => r.timings.filter((t) => t.tiling.winograd).length;
    // (Few channels: the GPU's and the CPU's tiles for its GEMMs coincide, so one candidate per tile size.)
    expect(results.map((r) => [r.kernel, winograd(r)])).toEqual([
      ['forward', 2],
      ['input_grad', 2],
      ['weight_grad', 2],
    ]);
    for (const r of results)
      expect(r.timings.flatMap((t) => (t.tiling.winograd ? [t.tiling.winograd] : [])).sort()).toEqual([2, 4]);
    expect(results.every((r) => r.rejected.length === 0)).toBe(true);
    // Pin Winograd whatever the timings said: the layer still computes the same.
    for (const r of results) {
      const w = r.timings.find((t) => t.tiling.winograd)!;
      F.setConvTiling(r.kernel, r.geometry, w.tiling);
    }
    c.x.grad?.dispose();
    await c.expectExact();
  } finally {
    F.clearConvTilings();
  }
});
