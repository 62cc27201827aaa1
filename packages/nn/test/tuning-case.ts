/** A small convolution for autotuning tests: an image and weight that require grad, and a float64 check. */
import type { Tensor } from '@mriseg/tensor-wgsl';
import { expect } from 'vitest';
import { conv2d } from '../src/functional/conv2d.js';
import { relL2, up, values } from './helpers.js';
import { conv2dRef } from './reference.js';

export interface TuningCase {
  x: Tensor;
  w: Tensor;
  /** Forward and backward of conv2d(x, w, padding 1): one forward, input-gradient and weight-gradient GEMM. */
  step: () => void;
  /** conv2d(x, w) with whatever tilings are pinned now still matches float64. */
  expectExact: () => Promise<void>;
}

const X_SHAPE = [2, 3, 9, 9];
const W_SHAPE = [5, 3, 3, 3];

export function tuningCase(seed: number): TuningCase {
  const xv = values(2 * 3 * 9 * 9, seed);
  const wv = values(5 * 3 * 3 * 3, seed + 1);
  const x = up(xv, X_SHAPE, true);
  const w = up(wv, W_SHAPE, true);
  return {
    x,
    w,
    step: () => conv2d(x, w, null, { padding: 1 }).sum().backward(),
    expectExact: async () => {
      const y = conv2d(x, w, null, { padding: 1 });
      const ref = conv2dRef(xv, X_SHAPE, wv, W_SHAPE, null, { padding: [1, 1] }).out;
      expect(relL2(await y.data(), ref)).toBeLessThan(1e-6);
      y.dispose();
    },
  };
}
