import { describe, expect, it } from 'vitest';
import {
  averageSurfaceDistance,
  type BinaryVolume,
  distanceTransform,
  hausdorff,
  hausdorffPercentile,
  hd95,
  type Shape,
  surface,
  surfaceDice,
  surfaceDistances,
} from '../src/index.js';
import { dims3, randomMask, rng } from './util.js';

type Pt = [number, number, number];

function points(mask: BinaryVolume): Pt[] {
  const [, h, w] = dims3(mask.shape);
  const out: Pt[] = [];
  mask.data.forEach((v, i) => {
    if (v !== 0) out.push([Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w]);
  });
  return out;
}

/** Surface by definition: foreground with a face neighbour that is background or outside the volume. */
function bruteSurface(mask: BinaryVolume): BinaryVolume {
  const [d, h, w] = dims3(mask.shape);
  const is3d = mask.shape.length === 3;
  const fg = (z: number, y: number, x: number) =>
    z >= 0 && z < d && y >= 0 && y < h && x >= 0 && x < w && mask.data[(z * h + y) * w + x] !== 0;
  const out = new Uint8Array(mask.data.length);
  for (const [z, y, x] of points(mask)) {
    const nb: Pt[] = [
      [z, y - 1, x],
      [z, y + 1, x],
      [z, y, x - 1],
      [z, y, x + 1],
    ];
    if (is3d) nb.push([z - 1, y, x], [z + 1, y, x]);
    if (nb.some(([a, b, c]) => !fg(a, b, c))) out[(z * h + y) * w + x] = 1;
  }
  return { data: out, shape: mask.shape };
}

function dist(a: Pt, b: Pt, s: Pt): number {
  return Math.hypot((a[0] - b[0]) * s[0], (a[1] - b[1]) * s[1], (a[2] - b[2]) * s[2]);
}

function bruteDirected(from: BinaryVolume, to: BinaryVolume, s: Pt): number[] {
  const tp = points(bruteSurface(to));
  return points(bruteSurface(from))
    .map((p) => Math.min(...tp.map((q) => dist(p, q, s))))
    .sort((a, b) => a - b);
}

/** NumPy "linear" percentile written out independently. */
function npPercentile(sorted: number[], q: number): number {
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** A random blob-ish mask in the middle of a larger volume, so the bounding-box crop is exercised. */
function inset(shape: Shape, density: number, rand: () => number): BinaryVolume {
  const m = randomMask(shape, density, rand);
  const [d, h, w] = dims3(shape);
  m.data.forEach((_, i) => {
    const z = Math.floor(i / (h * w));
    const y = Math.floor(i / w) % h;
    const x = i % w;
    const zin = shape.length === 2 || (z > 0 && z < d - 1);
    if (!(zin && y > 1 && y < h - 1 && x > 2 && x < w - 1)) m.data[i] = 0;
  });
  return m;
}

describe('distanceTransform', () => {
  it('matches brute-force Euclidean distances, with and without spacing', () => {
    const rand = rng(11);
    for (const [shape, spacing] of [
      [[7, 9], undefined],
      [
        [7, 9],
        [0.7, 2.5],
      ],
      [[4, 6, 5], undefined],
      [
        [4, 6, 5],
        [3, 1, 0.5],
      ],
      [
        [1, 1, 12],
        [1, 1, 2],
      ],
    ] as [Shape, number[] | undefined][]) {
      for (let t = 0; t < 15; t++) {
        const f = randomMask(shape, 0.02 + 0.2 * rand(), rand);
        const dt = distanceTransform(f, spacing);
        const [, h, w] = dims3(shape);
        const s: Pt =
          spacing === undefined
            ? [1, 1, 1]
            : shape.length === 3
              ? (spacing as Pt)
              : [1, spacing[0], spacing[1]];
        const feats = points(f);
        for (let i = 0; i < f.data.length; i++) {
          const p: Pt = [Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
          const want =
            feats.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...feats.map((q) => dist(p, q, s)));
          if (want === Number.POSITIVE_INFINITY) expect(dt[i]).toBe(want);
          else expect(dt[i]).toBeCloseTo(want, 10);
        }
      }
    }
  });

  it('rejects a spacing of the wrong length or sign', () => {
    const m: BinaryVolume = { data: new Uint8Array(8), shape: [2, 2, 2] };
    expect(() => distanceTransform(m, [1, 1])).toThrow(
      /distanceTransform: spacing \[1,1\] must be 3 positive/,
    );
    expect(() => distanceTransform(m, [1, 0, 1])).toThrow(/must be 3 positive/);
  });
});

describe('surface distances', () => {
  it('surface() is mask XOR erosion by the cross (outside = background)', () => {
    const rand = rng(5);
    for (const shape of [
      [6, 7],
      [4, 5, 6],
    ] as Shape[]) {
      for (let t = 0; t < 20; t++) {
        const m = randomMask(shape, 0.7, rand);
        expect(surface(m).data).toEqual(bruteSurface(m).data);
      }
    }
  });

  const configs: [Shape, number[] | undefined][] = [
    [[12, 14], undefined],
    [
      [12, 14],
      [1.5, 0.5],
    ],
    [[6, 9, 10], undefined],
    [
      [6, 9, 10],
      [2.5, 1, 1.2],
    ],
  ];
  for (const [shape, spacing] of configs) {
    it(`directed distances, HD, HD95, ASSD and surface Dice match brute force: [${shape.join(',')}] spacing ${spacing ?? 'unit'}`, () => {
      const rand = rng(shape.length * 13 + (spacing ? 1 : 0));
      const s: Pt =
        spacing === undefined
          ? [1, 1, 1]
          : shape.length === 3
            ? (spacing as Pt)
            : [1, spacing[0], spacing[1]];
      for (let t = 0; t < 12; t++) {
        // Even trials sit inside the volume (the bounding-box crop matters), odd ones touch its edges.
        const make = t % 2 === 0 ? inset : randomMask;
        const p = make(shape, 0.4 + 0.4 * rand(), rand);
        const g = make(shape, 0.4 + 0.4 * rand(), rand);
        if (points(p).length === 0 || points(g).length === 0) continue;
        const sd = surfaceDistances(p, g, { spacing });
        const a = bruteDirected(p, g, s);
        const b = bruteDirected(g, p, s);
        expect(sd.predToTruth.length).toBe(a.length);
        expect(sd.truthToPred.length).toBe(b.length);
        const mineA = Float64Array.from(sd.predToTruth).sort();
        const mineB = Float64Array.from(sd.truthToPred).sort();
        for (let i = 0; i < a.length; i++) expect(mineA[i]).toBeCloseTo(a[i], 10);
        for (let i = 0; i < b.length; i++) expect(mineB[i]).toBeCloseTo(b[i], 10);
        const pooled = [...a, ...b].sort((x, y) => x - y);
        expect(hd95(p, g, { spacing })).toBeCloseTo(npPercentile(pooled, 95), 10);
        expect(hausdorffPercentile(p, g, 50, { spacing })).toBeCloseTo(npPercentile(pooled, 50), 10);
        expect(hausdorff(p, g, { spacing })).toBeCloseTo(pooled[pooled.length - 1], 10);
        const mean = (x: number[]) => x.reduce((u, v) => u + v, 0) / x.length;
        expect(averageSurfaceDistance(p, g, { spacing })).toBeCloseTo((mean(a) + mean(b)) / 2, 10);
        const within = pooled.filter((d) => d <= 1.5).length;
        expect(surfaceDice(p, g, 1.5, { spacing })).toBeCloseTo(within / pooled.length, 12);
      }
    });
  }

  it('two single voxels three apart: every distance is 3', () => {
    const a = new Uint8Array(5 * 5 * 5);
    const b = new Uint8Array(5 * 5 * 5);
    a[(1 * 5 + 2) * 5 + 1] = 1;
    b[(1 * 5 + 2) * 5 + 4] = 1;
    const p: BinaryVolume = { data: a, shape: [5, 5, 5] };
    const g: BinaryVolume = { data: b, shape: [5, 5, 5] };
    expect(hd95(p, g)).toBe(3);
    expect(averageSurfaceDistance(p, g)).toBe(3);
    expect(hd95(p, g, { spacing: [1, 1, 0.5] })).toBe(1.5);
    expect(surfaceDice(p, g, 2.9)).toBe(0);
    expect(surfaceDice(p, g, 3)).toBe(1);
    expect(hd95(p, p)).toBe(0);
  });

  it('empty masks: both empty → 0 / surface Dice 1; one empty → Infinity / surface Dice 0', () => {
    const empty: BinaryVolume = { data: new Uint8Array(27), shape: [3, 3, 3] };
    const one = new Uint8Array(27);
    one[13] = 1;
    const single: BinaryVolume = { data: one, shape: [3, 3, 3] };
    expect(hd95(empty, empty)).toBe(0);
    expect(averageSurfaceDistance(empty, empty)).toBe(0);
    expect(surfaceDice(empty, empty, 1)).toBe(1);
    expect(hd95(single, empty)).toBe(Number.POSITIVE_INFINITY);
    expect(hd95(empty, single)).toBe(Number.POSITIVE_INFINITY);
    expect(hausdorff(empty, single)).toBe(Number.POSITIVE_INFINITY);
    expect(averageSurfaceDistance(single, empty)).toBe(Number.POSITIVE_INFINITY);
    expect(surfaceDice(single, empty, 5)).toBe(0);
  });

  it('names both shapes on a mismatch', () => {
    const a: BinaryVolume = { data: new Uint8Array(8), shape: [2, 2, 2] };
    const b: BinaryVolume = { data: new Uint8Array(12), shape: [2, 2, 3] };
    expect(() => hd95(a, b)).toThrow('surfaceDistances: shape mismatch, prediction [2,2,2] vs truth [2,2,3]');
  });
});
