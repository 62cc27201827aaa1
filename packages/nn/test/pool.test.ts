import { initDevice, memory, noGrad, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNorm2d } from '../src/functional/batchnorm.js';
import { avgPool2d, maxPool2d } from '../src/functional/pool.js';
import { checkOp } from './check.js';
import { expectClose, FWD_TOL, GRAD_TOL, golden } from './helpers.js';
import { poolRef } from './reference.js';

beforeAll(async () => {
  await initDevice();
});

describe('max_pool2d', () => {
  it('matches the golden (k2 s2)', async () => {
    const g = golden('ops/max_pool2d_k2_s2');
    expect(g.meta.kernel).toBe('2');
    const x = g.t('x', true);
    const y = maxPool2d(x, 2, { stride: 2 });
    await expectClose('max_pool2d out', y, g.get('out'), FWD_TOL);
    y.backward(g.t('dout'));
    await expectClose('max_pool2d grad.x', x.grad!, g.get('grad.x'), GRAD_TOL);
  });

  const cases: {
    label: string;
    x: number[];
    k: [number, number];
    s: [number, number];
    p?: [number, number];
    ceil?: boolean;
  }[] = [
    { label: 'odd 7×5, batch 1, k2 s2 (floor)', x: [1, 2, 7, 5], k: [2, 2], s: [2, 2] },
    { label: 'overlapping k3 s2 p1', x: [2, 2, 7, 6], k: [3, 3], s: [2, 2], p: [1, 1] },
    { label: 'ceil mode, k3×2 s2', x: [1, 3, 8, 7], k: [3, 2], s: [2, 2], ceil: true },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      await checkOp(
        `max_pool2d ${c.label}`,
        [{ name: 'x', shape: c.x }],
        ([x]) => maxPool2d(x, c.k, { stride: c.s, padding: c.p, ceilMode: c.ceil }),
        ([x]) => poolRef('max', x, c.x, { kernel: c.k, stride: c.s, padding: c.p, ceilMode: c.ceil }).out,
        { h: 1e-6 },
      );
    });
  }

  it('routes a tie to the first maximum, as PyTorch does', async () => {
    const x = tensor([1, 1, 1, 1], [1, 1, 2, 2], { requiresGrad: true });
    const y = maxPool2d(x, 2);
    y.backward(tensor([5], [1, 1, 1, 1]));
    expect(Array.from(await x.grad!.data())).toEqual([5, 0, 0, 0]);
  });
});

describe('avg_pool2d', () => {
  const cases: {
    label: string;
    x: number[];
    k: [number, number];
    s: [number, number];
    p?: [number, number];
    ceil?: boolean;
    include?: boolean;
  }[] = [
    { label: 'k2 s2, odd 5×7', x: [2, 2, 5, 7], k: [2, 2], s: [2, 2] },
    { label: 'k3 s2 p1, count_include_pad', x: [1, 2, 6, 5], k: [3, 3], s: [2, 2], p: [1, 1] },
    {
      label: 'k3 s2 p1, padding excluded, ceil mode',
      x: [1, 2, 6, 5],
      k: [3, 3],
      s: [2, 2],
      p: [1, 1],
      ceil: true,
      include: false,
    },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const o = { stride: c.s, padding: c.p, ceilMode: c.ceil, countIncludePad: c.include };
      await checkOp(
        `avg_pool2d ${c.label}`,
        [{ name: 'x', shape: c.x }],
        ([x]) => avgPool2d(x, c.k, o),
        ([x]) => poolRef('avg', x, c.x, { kernel: c.k, ...o, stride: c.s }).out,
      );
    });
  }

  it('rejects padding over half the kernel', () => {
    const x = tensor(new Float32Array(16), [1, 1, 4, 4]);
    expect(() => avgPool2d(x, 2, { padding: 2 })).toThrow(
      /avg_pool2d: padding \(2, 2\) must be at most half/,
    );
  });
});

describe('saved tensors', () => {
  it('are not kept when no backward can run (noGrad)', () => {
    const x = tensor(
      new Float32Array(2 * 2 * 4 * 4).map((_, i) => Math.sin(i)),
      [2, 2, 4, 4],
      { requiresGrad: true },
    );
    const before = memory().liveBuffers;
    noGrad(() => {
      maxPool2d(x, 2).dispose();
      batchNorm2d(x, null, null, null, null, { training: true }).dispose();
    });
    expect(memory().liveBuffers).toBe(before);
  });
});
