import { describe, expect, it } from 'vitest';
import { countSquaredDistances, maxSquaredDistance, squaredDistanceToFeatures } from '../src/distance.js';
import { binarize, confusion, type Shape, surface } from '../src/index.js';
import {
  cropPadded,
  nearbyRadius2,
  nearbySearch,
  type PaddedDims,
  paddedStride,
  rowNearestTable,
  surfacePadded,
  wholeSquares,
} from '../src/nearby.js';
import { percentileFromOrder, percentileInPlace } from '../src/summary.js';
import { hausdorffFromDistances, surfaceDistances, surfacePercentile } from '../src/surface.js';
import { type Box, cropMask, type Dims } from '../src/volume.js';
import { dims3, randomMask, rng } from './util.js';

/** A dense block as a padded one (rows of `stride` bytes, spare bytes zero). */
function pad(dense: Uint8Array, d: PaddedDims): Uint8Array {
  const out = new Uint8Array(d.depth * d.height * d.stride);
  for (let r = 0; r < d.depth * d.height; r++) {
    for (let x = 0; x < d.width; x++) out[r * d.stride + x] = dense[r * d.width + x] !== 0 ? 1 : 0;
  }
  return out;
}

/** A padded block back as a dense one. */
function unpad(padded: Uint8Array, d: PaddedDims): Uint8Array {
  const out = new Uint8Array(d.depth * d.height * d.width);
  for (let r = 0; r < d.depth * d.height; r++) {
    for (let x = 0; x < d.width; x++) out[r * d.width + x] = padded[r * d.stride + x];
  }
  return out;
}

function paddedDims(shape: Shape): PaddedDims {
  const [depth, height, width] = dims3(shape);
  return { depth, height, width, stride: paddedStride(width) };
}

function denseDims(shape: Shape): Dims {
  const [depth, height, width] = dims3(shape);
  return { depth, height, width, is3d: shape.length === 3 };
}

/** Sparse or dense, spread or confined to a random sub-box (so the two masks' extents differ). */
function randomBlock(shape: Shape, t: number, rand: () => number): Uint8Array {
  const density = [0.005, 0.03, 0.2, 0.6][t % 4];
  const m = randomMask(shape, density, rand).data;
  if (t % 3 !== 0) return m;
  const [d, h, w] = dims3(shape);
  const lo = [d, h, w].map((n) => Math.floor(rand() * n));
  const hi = [d, h, w].map((n, k) => lo[k] + 1 + Math.floor(rand() * (n - lo[k])));
  for (let i = 0; i < m.length; i++) {
    const c = [Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
    if (c.some((v, k) => v < lo[k] || v >= hi[k])) m[i] = 0;
  }
  return m;
}

const SHAPES: Shape[] = [
  [9, 13],
  [1, 6, 7],
  [2, 5, 9],
  [5, 8, 11],
  [16, 7, 9],
  [7, 20, 23],
  [1, 1, 12],
];
const WHOLE: [string, number[]][] = [
  ['unit', [1, 1, 1]],
  ['whole-number', [2, 1, 3]],
];

describe('padded blocks', () => {
  it('paddedStride is a multiple of 4 with a spare byte', () => {
    for (let w = 1; w < 40; w++) {
      const s = paddedStride(w);
      expect(s % 4).toBe(0);
      expect(s).toBeGreaterThan(w);
      expect(s).toBeLessThanOrEqual(w + 4);
    }
  });

  it('cropPadded is cropMask with padded rows and 0/1 values', () => {
    const rand = rng(11);
    for (let t = 0; t < 30; t++) {
      const shape: Shape = [
        1 + Math.floor(rand() * 5),
        1 + Math.floor(rand() * 9),
        1 + Math.floor(rand() * 13),
      ];
      const [d, h, w] = shape;
      const src = new Uint8Array(d * h * w).map(() => (rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 255)));
      const z0 = Math.floor(rand() * d);
      const y0 = Math.floor(rand() * h);
      const x0 = Math.floor(rand() * w);
      const box: Box = {
        z0,
        z1: z0 + 1 + Math.floor(rand() * (d - z0)),
        y0,
        y1: y0 + 1 + Math.floor(rand() * (h - y0)),
        x0,
        x1: x0 + 1 + Math.floor(rand() * (w - x0)),
      };
      const dims: Dims = { depth: d, height: h, width: w, is3d: true };
      const bd: PaddedDims = {
        depth: box.z1 - box.z0,
        height: box.y1 - box.y0,
        width: box.x1 - box.x0,
        stride: paddedStride(box.x1 - box.x0),
      };
      const got = cropPadded(src, dims, box, bd.stride);
      expect(got).toEqual(pad(cropMask(src, dims, box), bd));
    }
  });

  it('cropPadded copies whole words when rows and box are word-aligned, with the same result', () => {
    const rand = rng(14);
    for (let t = 0; t < 30; t++) {
      const [d, h, w] = [
        1 + Math.floor(rand() * 4),
        1 + Math.floor(rand() * 7),
        4 * (1 + Math.floor(rand() * 5)),
      ];
      const src = new Uint8Array(d * h * w).map(() => (rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 255)));
      const x0 = 4 * Math.floor((rand() * w) / 4);
      const x1 = x0 + 4 * (1 + Math.floor((rand() * (w - x0)) / 4));
      const box: Box = { z0: 0, z1: d, y0: Math.floor(rand() * h), y1: h, x0, x1: Math.min(x1, w) };
      const dims: Dims = { depth: d, height: h, width: w, is3d: true };
      const bd: PaddedDims = {
        depth: d,
        height: box.y1 - box.y0,
        width: box.x1 - box.x0,
        stride: paddedStride(box.x1 - box.x0),
      };
      expect(cropPadded(src, dims, box, bd.stride)).toEqual(pad(cropMask(src, dims, box), bd));
    }
  });

  it('surfacePadded is surface() (mask XOR erosion by the cross), in images and volumes', () => {
    const rand = rng(12);
    for (const shape of SHAPES) {
      const pd = paddedDims(shape);
      for (let t = 0; t < 12; t++) {
        const m = randomMask(shape, [0.3, 0.7, 0.95][t % 3], rand);
        const got = surfacePadded(pad(m.data, pd), pd.depth, pd.height, pd.stride, shape.length === 3);
        expect(unpad(got, pd)).toEqual(surface(m).data);
        // Spare bytes stay background.
        expect(got.filter((v) => v > 1).length).toBe(0);
        expect(got.reduce((a, v) => a + v, 0)).toBe(surface(m).data.reduce((a, v) => a + v, 0));
      }
    }
  });
});

describe('rowNearestTable', () => {
  it('holds the column distance to the nearest feature of the row, capped, over a window of rows', () => {
    const rand = rng(13);
    for (const shape of SHAPES) {
      const pd = paddedDims(shape);
      for (let t = 0; t < 8; t++) {
        const f = pad(randomBlock(shape, t, rand), pd);
        const cap = 1 + Math.floor(rand() * 6);
        // Windows inside the block, and reaching beyond it on either side.
        const z0 = Math.floor(rand() * pd.depth) - (t % 2);
        const y0 = Math.floor(rand() * pd.height) - (t % 3);
        const w: [number, number, number, number] = [
          z0,
          z0 + 1 + Math.floor(rand() * (pd.depth + 2)),
          y0,
          y0 + 1 + Math.floor(rand() * (pd.height + 3)),
        ];
        const table = rowNearestTable(f, pd, cap, w);
        const hh = w[3] - w[2];
        expect(table.length).toBe((w[1] - w[0]) * hh * pd.stride);
        for (let z = w[0]; z < w[1]; z++) {
          for (let y = w[2]; y < w[3]; y++) {
            for (let x = 0; x < pd.stride; x++) {
              let want = cap;
              const inBlock = z >= 0 && z < pd.depth && y >= 0 && y < pd.height && x < pd.width;
              if (inBlock) {
                for (let u = 0; u < pd.width; u++) {
                  if (f[(z * pd.height + y) * pd.stride + u] !== 0) want = Math.min(want, Math.abs(u - x));
                }
              }
              expect(table[((z - w[0]) * hh + y - w[2]) * pd.stride + x]).toBe(want);
            }
          }
        }
      }
    }
  });
});

describe('nearbySearch (exact squared distances within a radius)', () => {
  it('wholeSquares accepts whole-number squared spacings only', () => {
    expect(wholeSquares([1, 1, 1])).toEqual([1, 1, 1]);
    expect(wholeSquares([2, 1, 3])).toEqual([4, 1, 9]);
    expect(wholeSquares([0.7, 1.3, 2.5])).toBeNull();
    // √2 squared is 2.0000000000000004 in floating point: not exact, so not whole.
    expect(wholeSquares([Math.SQRT2, 1, 1])).toBeNull();
  });

  for (const [name, spacing] of WHOLE) {
    for (const shape of SHAPES) {
      it(`equals the whole-grid transform at the queries within the radius: [${shape.join(',')}] ${name} spacing`, () => {
        const rand = rng(shape.reduce((a, b) => a * b, 1) + spacing[2]);
        const sp = shape.length === 3 ? spacing : [1, spacing[1], spacing[2]];
        const squares = wholeSquares(sp)!;
        const pd = paddedDims(shape);
        const dense = denseDims(shape);
        for (let t = 0; t < 24; t++) {
          const f = randomBlock(shape, t, rand);
          const q = randomBlock(shape, t + 1 + Math.floor(rand() * 3), rand);
          const full = squaredDistanceToFeatures(f, dense, sp);
          const rows = [1, 5, 30, 200][t % 4];
          const r2 = nearbyRadius2(squares, rows);
          const got = nearbySearch(pad(f, pd), pad(q, pd), pd, squares, r2)!;
          const want: number[] = [];
          for (let i = 0; i < q.length; i++) {
            if (q[i] !== 0) want.push(full[i] <= r2 ? full[i] : Number.POSITIVE_INFINITY);
          }
          expect(got).toEqual(Float64Array.from(want));
          // Giving up: only when more than maxFar are beyond the radius.
          const far = want.filter((v) => v === Number.POSITIVE_INFINITY).length;
          expect(nearbySearch(pad(f, pd), pad(q, pd), pd, squares, r2, far)).toEqual(got);
          if (far > 0) expect(nearbySearch(pad(f, pd), pad(q, pd), pd, squares, r2, far - 1)).toBeNull();
        }
      });
    }
  }
});

describe('countSquaredDistances (the separable transform, counted)', () => {
  for (const [name, spacing] of WHOLE) {
    for (const shape of SHAPES) {
      it(`counts the whole-grid squared distances at the queries: [${shape.join(',')}] ${name} spacing`, () => {
        const rand = rng(shape.reduce((a, b) => a * b, 1) * 3 + spacing[0]);
        const sp = shape.length === 3 ? spacing : [1, spacing[1], spacing[2]];
        const squares = wholeSquares(sp)!;
        const dims = denseDims(shape);
        for (let t = 0; t < 24; t++) {
          const f = randomBlock(shape, t, rand);
          // Crowded lines take the envelope, sparse ones the outward search.
          const q = randomBlock(shape, t + 1 + Math.floor(rand() * 3), rand);
          const counts = new Int32Array(maxSquaredDistance(dims, squares) + 1);
          const any = countSquaredDistances(f, q, dims, squares, counts);
          const full = squaredDistanceToFeatures(f, dims, sp);
          const want = new Int32Array(counts.length);
          let nf = 0;
          for (let i = 0; i < f.length; i++) if (f[i] !== 0) nf++;
          expect(any).toBe(nf > 0);
          if (nf === 0) {
            expect(counts.every((c) => c === 0)).toBe(true);
            continue;
          }
          for (let i = 0; i < q.length; i++) if (q[i] !== 0) want[full[i]]++;
          expect(counts).toEqual(want);
        }
      });
    }
  }
});

describe('surface percentiles by the near search (bit-identical to the full distance sets)', () => {
  const spacings: [string, number[] | undefined][] = [
    ['unit', undefined],
    ['whole-number', [2, 1, 3]],
    ['fractional', [0.7, 1.3, 2.5]],
    ['√2 (not whole when squared)', [Math.SQRT2, 1, 1]],
    // Whole, but squared distances too many to count: the distances are listed instead.
    ['large whole-number', [1000, 1, 1]],
  ];
  for (const [name, spacing] of spacings) {
    for (const shape of [
      [12, 14],
      [10, 12],
      [6, 9, 10],
      [9, 24, 21],
      [1, 5, 8],
    ] as Shape[]) {
      it(`every q and search radius: [${shape.join(',')}] ${name} spacing`, () => {
        const rand = rng(shape.reduce((a, b) => a * b, 1) + (spacing?.[0] ?? 0) * 100);
        const sp = spacing === undefined ? undefined : shape.length === 3 ? spacing : spacing.slice(1);
        for (let t = 0; t < 16; t++) {
          const p = { data: randomBlock(shape, t, rand), shape };
          const g = { data: randomBlock(shape, t + 2, rand), shape };
          const sd = surfaceDistances(p, g, { spacing: sp });
          for (const q of [0, 37.5, 50, 95, 100]) {
            const want = hausdorffFromDistances(sd, q);
            for (const rows of [1, 6, 40, 200]) {
              expect(Object.is(surfacePercentile(p, g, q, { spacing: sp }, rows), want)).toBe(true);
            }
          }
        }
      });
    }
  }

  it('a dense, noise-like prediction far from a small truth (the search gives up, the transform counts)', () => {
    const rand = rng(99);
    const shape: Shape = [12, 40, 44];
    const p = randomMask(shape, 0.5, rand);
    const g = { data: new Uint8Array(p.data.length), shape };
    for (let z = 8; z < 11; z++)
      for (let y = 30; y < 36; y++) for (let x = 33; x < 40; x++) g.data[(z * 40 + y) * 44 + x] = 1;
    for (const spacing of [undefined, [2, 1, 1], [0.5, 1.5, 1]]) {
      const sd = surfaceDistances(p, g, { spacing });
      for (const q of [5, 95, 100]) {
        expect(Object.is(surfacePercentile(p, g, q, { spacing }), hausdorffFromDistances(sd, q))).toBe(true);
      }
    }
  });
});

describe('percentileFromOrder', () => {
  it('equals percentileInPlace bit for bit, reading at most two order statistics', () => {
    const rand = rng(23);
    for (let t = 0; t < 200; t++) {
      const n = 1 + Math.floor(rand() * 30);
      const v = Float64Array.from({ length: n }, () => Math.sqrt(Math.floor(rand() * 50)));
      const sorted = Float64Array.from(v).sort();
      const q = [0, 5, 50, 95, 100, rand() * 100][t % 6];
      const read: number[] = [];
      const got = percentileFromOrder(n, q, (k) => {
        read.push(k);
        return sorted[k];
      });
      expect(Object.is(got, percentileInPlace(Float64Array.from(v), q))).toBe(true);
      expect(read.length).toBeLessThanOrEqual(2);
    }
    expect(percentileFromOrder(0, 50, () => 0)).toBeNaN();
    expect(() => percentileFromOrder(3, 101, () => 0)).toThrow('percentile: q must be within [0, 100]');
  });
});

describe('word-at-a-time thresholding and counting', () => {
  it('binarize equals p > threshold for both element types and any length', () => {
    const rand = rng(21);
    for (let n = 0; n < 23; n++) {
      const v = Array.from({ length: n }, () => [0.5, Number.NaN, -1, 2][Math.floor(rand() * 8)] ?? rand());
      for (const data of [Float32Array.from(v), Float64Array.from(v)]) {
        for (const th of [0.5, 0, 0.3]) {
          const got = binarize({ data, shape: [1, n] }, th).data;
          expect(Array.from(got)).toEqual(Array.from(data, (x) => (x > th ? 1 : 0)));
        }
      }
    }
  });

  it('confusion counts any non-zero value as foreground, on unaligned views too', () => {
    const rand = rng(22);
    for (let t = 0; t < 60; t++) {
      const n = Math.floor(rand() * 40);
      const buf = new Uint8Array(n + 8).map(() => (rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 255)));
      const buf2 = new Uint8Array(n + 8).map(() => (rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 255)));
      const a = buf.subarray(t % 4, (t % 4) + n);
      const b = buf2.subarray((t >> 2) % 4, ((t >> 2) % 4) + n);
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (let i = 0; i < n; i++) {
        if (a[i] !== 0 && b[i] !== 0) tp++;
        else if (a[i] !== 0) fp++;
        else if (b[i] !== 0) fn++;
      }
      expect(confusion({ data: a, shape: [1, n] }, { data: b, shape: [1, n] })).toEqual({
        tp,
        fp,
        fn,
        tn: n - tp - fp - fn,
      });
    }
  });
});
