import { describe, expect, it } from 'vitest';
import {
  nearestIndices,
  prefilterQuadratic,
  prefilterQuadraticColumns,
  quadraticTaps,
  SPLINE_PAD,
} from '../src/bspline.js';
import { resizeQuadratic } from '../src/resize.js';
import { percentiles } from '../src/select.js';

describe('quadratic B-spline', () => {
  it('prefilter + evaluation at the knots reproduces the samples', () => {
    const n = 40;
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 3) + (i % 5));
    const c = Float64Array.from(x);
    prefilterQuadratic(c, n);
    for (let i = 1; i < n - 1; i++)
      expect(c[i - 1] / 8 + (3 * c[i]) / 4 + c[i + 1] / 8).toBeCloseTo(x[i], 12);
    // Mirror boundary: c[-1] = c[1].
    expect(c[1] / 8 + (3 * c[0]) / 4 + c[1] / 8).toBeCloseTo(x[0], 12);
  });

  it('grid-mode taps: weights sum to 1, positions as scipy (k + 0.5)·zoom − 0.5 + pad', () => {
    const t = quadraticTaps(226, 256);
    for (let k = 0; k < 256; k++) {
      const s = t.weights[3 * k] + t.weights[3 * k + 1] + t.weights[3 * k + 2];
      expect(s).toBeCloseTo(1, 14);
    }
    expect(t.start[0]).toBe(SPLINE_PAD - 1);
    expect(Array.from(nearestIndices(4, 8))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(Array.from(nearestIndices(8, 4))).toEqual([1, 3, 5, 7]);
  });

  it('same-size resize is the identity; a constant interior stays constant', () => {
    const src = Float64Array.from({ length: 30 * 30 }, (_, i) => (i * 13) % 7);
    const same = resizeQuadratic(src, 30, 30, 30, 30);
    for (let i = 0; i < src.length; i++) expect(same[i]).toBeCloseTo(src[i], 10);
    const flat = resizeQuadratic(new Float64Array(100 * 100).fill(1), 100, 100, 128, 128);
    expect(flat[64 * 128 + 64]).toBeCloseTo(1, 9);
  });

  it('percentiles match NumPy linear interpolation', () => {
    const v = Float64Array.from([5, 1, 4, 0, 0, 0, 3, 2, 9, 7, 0]);
    const sorted = Array.from(v).sort((a, b) => a - b);
    const np = (q: number) => {
      const pos = (q / 100) * (v.length - 1);
      const lo = Math.floor(pos);
      return sorted[lo] + (sorted[Math.min(lo + 1, v.length - 1)] - sorted[lo]) * (pos - lo);
    };
    expect(percentiles(v, [10, 50, 99, 100, 0])).toEqual([np(10), np(50), np(99), np(100), np(0)]);
  });
});

describe('column prefilter', () => {
  it('equals the line prefilter on every column', () => {
    for (const rows of [2, 7, 30, 60]) {
      const w = 5;
      const a = Float64Array.from({ length: rows * w }, (_, i) => Math.cos(i * 0.7) * 3);
      const cols = a.slice();
      prefilterQuadraticColumns(cols, rows, w);
      for (let x = 0; x < w; x++) {
        const line = Float64Array.from({ length: rows }, (_, y) => a[y * w + x]);
        prefilterQuadratic(line, rows);
        for (let y = 0; y < rows; y++) expect(cols[y * w + x]).toBeCloseTo(line[y], 12);
      }
    }
  });
});

describe('percentiles on large arrays', () => {
  it('equal a full sort, with many ties and zeros', () => {
    const v = new Float64Array(200_001);
    let x = 1;
    for (let i = 0; i < v.length; i++) {
      x = (x * 48271) % 2147483647;
      v[i] = i % 2 ? 0 : Math.round((x / 2147483647) * 1000) / 1000;
    }
    const sorted = Float64Array.from(v).sort();
    for (const q of [0, 10, 37.5, 50, 99, 100]) {
      const pos = (q / 100) * (v.length - 1);
      const lo = Math.floor(pos);
      const want = sorted[lo] + (sorted[Math.min(lo + 1, v.length - 1)] - sorted[lo]) * (pos - lo);
      expect(percentiles(v, [q])[0]).toBe(want);
    }
  });
});
