import { describe, expect, it } from 'vitest';
import {
  type BinaryVolume,
  confusion,
  dice,
  iou,
  overlapFromConfusion,
  perSliceDsc,
  precision,
  recall,
  specificity,
  volumeSimilarity,
} from '../src/index.js';

const m = (v: number[]): BinaryVolume => ({ data: Uint8Array.from(v), shape: [1, v.length] });

describe('overlap metrics', () => {
  const pred = m([1, 1, 0, 0, 1]);
  const truth = m([1, 0, 1, 0, 0]);

  it('counts and ratios on a hand-worked example', () => {
    expect(confusion(pred, truth)).toEqual({ tp: 1, fp: 2, fn: 1, tn: 1 });
    expect(dice(pred, truth)).toBeCloseTo(2 / 5, 15);
    expect(iou(pred, truth)).toBeCloseTo(1 / 4, 15);
    expect(precision(pred, truth)).toBeCloseTo(1 / 3, 15);
    expect(recall(pred, truth)).toBeCloseTo(1 / 2, 15);
    expect(specificity(pred, truth)).toBeCloseTo(1 / 3, 15);
    expect(volumeSimilarity(pred, truth)).toBeCloseTo(1 - 1 / 5, 15);
  });

  it('dice and iou are related by D = 2J / (1 + J) on random masks', () => {
    let seed = 1;
    const rand = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let t = 0; t < 20; t++) {
      const a = m(Array.from({ length: 50 }, () => (rand() < 0.4 ? 1 : 0)));
      const b = m(Array.from({ length: 50 }, () => (rand() < 0.4 ? 1 : 0)));
      const j = iou(a, b);
      expect(dice(a, b)).toBeCloseTo((2 * j) / (1 + j), 12);
    }
  });

  it('undefined ratios: 1 when prediction and truth agree everywhere, else 0, or the given value', () => {
    const empty = m([0, 0, 0]);
    const full = m([1, 1, 1]);
    const some = m([0, 1, 0]);
    for (const f of [dice, iou, precision, recall, volumeSimilarity]) expect(f(empty, empty)).toBe(1);
    expect(specificity(full, full)).toBe(1);
    expect(recall(some, empty)).toBe(0);
    expect(precision(empty, some)).toBe(0);
    expect(dice(empty, some)).toBe(0);
    expect(dice(some, empty)).toBe(0);
    expect(specificity(m([1, 0, 1]), full)).toBe(0);
    expect(dice(empty, empty, { undefinedValue: Number.NaN })).toBeNaN();
    const all = overlapFromConfusion({ tp: 0, fp: 0, fn: 0, tn: 4 });
    expect(all).toEqual({ dice: 1, iou: 1, precision: 1, recall: 1, specificity: 1, volumeSimilarity: 1 });
  });

  it('non-zero values other than 1 count as foreground', () => {
    expect(dice(m([255, 0, 3]), m([1, 0, 1]))).toBe(1);
  });

  it('shape mismatch names both shapes', () => {
    expect(() => dice(m([1, 0]), m([1, 0, 0]))).toThrow(
      'confusion: shape mismatch, prediction [1,2] vs truth [1,3]',
    );
  });
});

describe('perSliceDsc', () => {
  // Slice 0 empty in both, slice 1 perfect, slice 2 Dice 2/3, slice 3 prediction only.
  const pred: BinaryVolume = { data: Uint8Array.from([0, 0, 1, 1, 1, 0, 0, 1]), shape: [4, 1, 2] };
  const truth: BinaryVolume = { data: Uint8Array.from([0, 0, 1, 1, 1, 1, 0, 0]), shape: [4, 1, 2] };

  it("'one' scores empty slices 1", () => {
    const r = perSliceDsc(pred, truth, 'one');
    expect(r.perSlice).toEqual([1, 1, 2 / 3, 0]);
    expect(r.counted).toBe(4);
    expect(r.mean).toBeCloseTo((1 + 1 + 2 / 3) / 4, 15);
  });

  it("'zero' scores them 0", () => {
    const r = perSliceDsc(pred, truth, 'zero');
    expect(r.perSlice).toEqual([0, 1, 2 / 3, 0]);
    expect(r.mean).toBeCloseTo((1 + 2 / 3) / 4, 15);
  });

  it("'skip' leaves them out of the mean", () => {
    const r = perSliceDsc(pred, truth, 'skip');
    expect(r.perSlice).toEqual([null, 1, 2 / 3, 0]);
    expect(r.counted).toBe(3);
    expect(r.mean).toBeCloseTo((1 + 2 / 3) / 3, 15);
    const none = perSliceDsc(
      { data: new Uint8Array(4), shape: [2, 1, 2] },
      { data: new Uint8Array(4), shape: [2, 1, 2] },
      'skip',
    );
    expect(none.mean).toBeNaN();
    expect(none.counted).toBe(0);
  });

  it('rejects an unknown policy', () => {
    // @ts-expect-error: checking the run-time guard for JavaScript callers
    expect(() => perSliceDsc(pred, truth, 'ignore')).toThrow(/perSliceDsc: empty-slice policy/);
  });
});
