import { describe, expect, it } from 'vitest';
import { distancesAtQueries, squaredDistanceToFeatures } from '../src/distance.js';
import type { Shape } from '../src/index.js';
import type { Dims } from '../src/volume.js';
import { dims3, randomMask, rng } from './util.js';

/** The whole-grid transform read at the queries: what the restricted one must reproduce bit for bit. */
function reference(features: Uint8Array, queries: Uint8Array, dims: Dims, spacing: number[]): Float64Array {
  const d2 = squaredDistanceToFeatures(features, dims, spacing);
  const out: number[] = [];
  for (let i = 0; i < queries.length; i++) if (queries[i] !== 0) out.push(Math.sqrt(d2[i]));
  return Float64Array.from(out);
}

/** A random mask whose foreground is confined to a random sub-box, so the two sets' extents differ. */
function boxed(shape: Shape, density: number, rand: () => number): Uint8Array {
  const [d, h, w] = dims3(shape);
  const m = randomMask(shape, density, rand).data;
  const lo = [d, h, w].map((n) => Math.floor(rand() * n));
  const hi = [d, h, w].map((n, k) => lo[k] + 1 + Math.floor(rand() * (n - lo[k])));
  for (let i = 0; i < m.length; i++) {
    const c = [Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
    if (c.some((v, k) => v < lo[k] || v >= hi[k])) m[i] = 0;
  }
  return m;
}

describe('distancesAtQueries (the transform restricted to what the queries need)', () => {
  const spacings: [string, number[]][] = [
    ['unit', [1, 1, 1]],
    ['integer squares', [2, 1, 3]],
    ['non-integer', [0.7, 1.3, 2.5]],
  ];
  for (const [name, spacing] of spacings) {
    for (const shape of [
      [9, 13],
      [5, 8, 11],
      [16, 7, 9],
      [1, 1, 12],
    ] as Shape[]) {
      it(`equals the whole-grid transform at the queries, bit for bit: [${shape.join(',')}] ${name} spacing`, () => {
        const rand = rng(shape.reduce((a, b) => a * b, 1) + spacing[0] * 10);
        const [depth, height, width] = dims3(shape);
        const dims: Dims = { depth, height, width, is3d: shape.length === 3 };
        const sp = shape.length === 3 ? spacing : [1, spacing[1], spacing[2]];
        for (let t = 0; t < 40; t++) {
          // Sparse and dense queries and features, confined or spread: lines with few queries take the outward
          // search, crowded ones the envelope.
          const fd = [0, 0.01, 0.1, 0.5][t % 4];
          const qd = [0.02, 0.3, 0.8][t % 3];
          const features = t % 5 < 2 ? boxed(shape, fd, rand) : randomMask(shape, fd, rand).data;
          const queries = t % 7 < 3 ? boxed(shape, qd, rand) : randomMask(shape, qd, rand).data;
          expect(distancesAtQueries(features, queries, dims, sp)).toEqual(
            reference(features, queries, dims, sp),
          );
        }
      });
    }
  }

  it('no queries: empty; no features: Infinity at every query', () => {
    const dims: Dims = { depth: 2, height: 3, width: 4, is3d: true };
    const none = new Uint8Array(24);
    const some = new Uint8Array(24);
    some[5] = 1;
    some[17] = 1;
    expect(distancesAtQueries(some, none, dims, [1, 1, 1])).toEqual(new Float64Array(0));
    expect(distancesAtQueries(none, some, dims, [1, 1, 1])).toEqual(
      new Float64Array([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]),
    );
  });
});
