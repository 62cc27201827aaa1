import { initDevice, Tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import * as F from '../src/functional/index.js';
import { relL2, up, values } from './helpers.js';

beforeAll(async () => {
  await initDevice();
});

function matmulRef(x: Float64Array, y: Float64Array, R: number, K: number, Q: number): Float64Array {
  const out = new Float64Array(R * Q);
  for (let r = 0; r < R; r++)
    for (let k = 0; k < K; k++) {
      const a = x[r * K + k];
      for (let q = 0; q < Q; q++) out[r * Q + q] += a * y[k * Q + q];
    }
  return out;
}

describe('dense GEMM through the convolution tiles', () => {
  // Sizes that no tile divides: every bounds check of the generator runs.
  const [R, K, Q] = [70, 45, 133];
  const xv = values(R * K, 21);
  const yv = values(K * Q, 22);
  const tilings: F.GemmTiling[] = [
    F.pickTiling(Q, R),
    { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, prefetch: true },
    { BM: 64, BN: 128, BK: 8, TM: 8, TN: 8, prefetch: true, vec4: true, double: true },
    { BM: 128, BN: 64, BK: 16, TM: 8, TN: 4, vec4: true },
  ];
  for (const t of tilings)
    it(`${F.tilingKey(t)} matches float64`, async () => {
      const x = up(xv, [R, K]);
      const y = up(yv, [K, Q]);
      const out = F.denseGemmRaw(x, y, t);
      expect(out.shape).toEqual([R, Q]);
      expect(relL2(await out.data(), matmulRef(xv, yv, R, K, Q))).toBeLessThan(1e-6);
      for (const a of [x, y, out]) a.dispose();
    });

  it('names the op and the shapes or the tiling it cannot run', () => {
    const x = Tensor.empty([4, 5], 'f32');
    const y = Tensor.empty([6, 7], 'f32');
    const t = F.pickTiling(7, 4);
    expect(() => F.denseGemmRaw(x, y, t)).toThrow(/dense_gemm: .*\[R, K\] and \[K, Q\].*\[4, 5\].*\[6, 7\]/);
    expect(() => F.denseGemmRaw(x, Tensor.empty([5, 7], 'f32'), { ...t, TM: 3 })).toThrow(
      /dense_gemm: tiling/,
    );
    for (const a of [x, y]) a.dispose();
  });
});
