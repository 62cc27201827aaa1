import { initDevice, ones, Rng, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { dropout } from '../src/functional/dropout.js';
import { upsample } from '../src/functional/upsample.js';
import { checkOp } from './check.js';
import { upsampleRef } from './reference.js';

beforeAll(async () => {
  await initDevice();
});

describe('upsample', () => {
  const cases: {
    label: string;
    x: number[];
    size?: [number, number];
    sf?: number;
    mode: 'nearest' | 'bilinear';
    align?: boolean;
  }[] = [
    { label: 'nearest ×2', x: [1, 2, 3, 4], sf: 2, mode: 'nearest' },
    { label: 'nearest to 5×7 (non-integer ratio)', x: [2, 1, 3, 4], size: [5, 7], mode: 'nearest' },
    { label: 'bilinear ×2', x: [1, 2, 3, 5], sf: 2, mode: 'bilinear' },
    { label: 'bilinear to 7×5, align corners', x: [1, 2, 3, 4], size: [7, 5], mode: 'bilinear', align: true },
    { label: 'bilinear ×1.5', x: [2, 1, 4, 3], sf: 1.5, mode: 'bilinear' },
    { label: 'bilinear down to 2×3', x: [1, 1, 5, 7], size: [2, 3], mode: 'bilinear' },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const Ho = c.size ? c.size[0] : Math.floor(c.x[2] * c.sf!);
      const Wo = c.size ? c.size[1] : Math.floor(c.x[3] * c.sf!);
      await checkOp(
        `upsample ${c.label}`,
        [{ name: 'x', shape: c.x }],
        ([x]) => upsample(x, { size: c.size, scaleFactor: c.sf, mode: c.mode, alignCorners: c.align }),
        ([x]) => upsampleRef(x, c.x, Ho, Wo, c.mode, c.align ?? false, c.sf),
      );
    });
  }
});

describe('dropout', () => {
  it('drops about p, scales the rest, and backward uses the same mask', async () => {
    const n = 20000;
    const x = tensor(
      Float32Array.from({ length: n }, (_, i) => 1 + (i % 7)),
      [n],
      { requiresGrad: true },
    );
    const y = dropout(x, 0.3, true, new Rng(5));
    y.backward(ones([n]));
    const yv = await y.data();
    const g = await x.grad!.data();
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const xi = 1 + (i % 7);
      if (yv[i] === 0) {
        dropped++;
        expect(g[i]).toBe(0);
      } else {
        expect(yv[i]).toBeCloseTo(xi / 0.7, 5);
        expect(g[i]).toBeCloseTo(1 / 0.7, 5);
      }
    }
    expect(Math.abs(dropped / n - 0.3)).toBeLessThan(0.015);
  });

  it('is reproducible for a seed, differs between seeds, and is the identity in eval', async () => {
    const x = tensor(
      Float32Array.from({ length: 512 }, () => 1),
      [512],
    );
    const a = await dropout(x, 0.5, true, new Rng(9)).data();
    const b = await dropout(x, 0.5, true, new Rng(9)).data();
    const c = await dropout(x, 0.5, true, new Rng(10)).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(dropout(x, 0.5, false, new Rng(1))).toBe(x);
    expect(Array.from(await dropout(x, 1, true, new Rng(1)).data()).every((v) => v === 0)).toBe(true);
  });
});
