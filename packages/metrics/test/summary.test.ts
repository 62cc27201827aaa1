import { describe, expect, it } from 'vitest';
import { percentile, percentileSorted, summarize } from '../src/index.js';
import { percentileInPlace } from '../src/summary.js';
import { rng } from './util.js';

describe('percentile (NumPy linear)', () => {
  it('matches values printed by numpy.percentile', () => {
    // np.percentile([1, 2, 3, 10], 95) = 8.949999999999998; ([0, 1], 95) = 0.95; ([3, 1, 2], 50) = 2.0
    expect(percentile([1, 2, 3, 10], 95)).toBe(8.949999999999998);
    expect(percentile([0, 1], 95)).toBe(0.95);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([1, 2, 3, 10], 25)).toBe(1.75);
    expect(percentile([1, 2, 3, 10], 0)).toBe(1);
    expect(percentile([1, 2, 3, 10], 100)).toBe(10);
    expect(percentile([7], 95)).toBe(7);
    expect(percentileSorted([], 50)).toBeNaN();
  });

  it('selection (no sort) gives the same values as sorting, with duplicates and any q', () => {
    const rand = rng(23);
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(rand() * 60);
      const levels = 1 + Math.floor(rand() * 10);
      const values = Float64Array.from({ length: n }, () => Math.floor(rand() * levels) * 0.37);
      const sorted = Float64Array.from(values).sort();
      for (const q of [0, 5, 25, 50, 75, 95, 99, 100, rand() * 100]) {
        expect(percentileInPlace(Float64Array.from(values), q)).toBe(percentileSorted(sorted, q));
      }
    }
  });

  it('rejects bad input', () => {
    expect(() => percentile([1, 2], 101)).toThrow(/percentile: q must be within/);
    expect(() => percentile([1, Number.NaN], 50)).toThrow(/percentile: values contain NaN/);
  });
});

describe('summarize', () => {
  it('mean, population std, median, quartiles and IQR; NaN left out and counted', () => {
    const s = summarize([10, 2, Number.NaN, 3, 1]);
    expect(s.count).toBe(4);
    expect(s.missing).toBe(1);
    expect(s.mean).toBe(4);
    expect(s.std).toBeCloseTo(Math.sqrt(12.5), 15);
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
    expect(s.median).toBe(2.5);
    expect(s.q1).toBe(1.75);
    expect(s.q3).toBe(4.75);
    expect(s.iqr).toBe(3);
  });

  it('Infinity stays in (an HD95 with an empty mask) and the median is still finite', () => {
    const s = summarize([1, 2, Number.POSITIVE_INFINITY]);
    expect(s.mean).toBe(Number.POSITIVE_INFINITY);
    expect(s.median).toBe(2);
  });

  it('empty input gives NaN statistics', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(s.mean).toBeNaN();
    expect(s.median).toBeNaN();
  });
});
