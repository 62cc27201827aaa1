import { describe, expect, it } from 'vitest';
import {
  type BinaryVolume,
  binarize,
  meanReferenceDsc,
  referenceDsc,
  referencePrediction,
  type Volume,
} from '../src/index.js';

function vol(values: number[], shape: [number, number, number]): Volume {
  return { data: Float32Array.from(values), shape };
}

function mask(values: number[], shape: [number, number, number]): BinaryVolume {
  return { data: Uint8Array.from(values), shape };
}

const S: [number, number, number] = [2, 2, 3];
const zeros = () => new Array(12).fill(0);

describe('referenceDsc', () => {
  it('perfect prediction → 1; all ones against all ones → 1', () => {
    const t = zeros();
    t[4] = 1;
    t[5] = 1;
    expect(
      referenceDsc(
        vol(
          t.map((v) => v * 0.9),
          S,
        ),
        mask(t, S),
      ),
    ).toBe(1);
    expect(referenceDsc(vol(new Array(12).fill(1), S), mask(new Array(12).fill(1), S))).toBe(1);
  });

  it('empty ground truth with a non-empty prediction → 0', () => {
    const p = zeros();
    p[0] = 0.8;
    expect(referenceDsc(vol(p, S), mask(zeros(), S))).toBe(0);
  });

  it('all-zero probabilities (the reference skips rounding and LCC) → 0 against a non-empty truth', () => {
    const t = zeros();
    t[3] = 1;
    expect(referenceDsc(vol(zeros(), S), mask(t, S))).toBe(0);
  });

  it('probabilities present but nothing above 0.5 (the reference crashes here) → 0', () => {
    const t = zeros();
    t[3] = 1;
    expect(referenceDsc(vol(new Array(12).fill(0.5), S), mask(t, S))).toBe(0);
    expect(referenceDsc(vol(new Array(12).fill(0.3), S), mask(t, S))).toBe(0);
  });

  it('prediction and truth both empty → bothEmpty (default 1)', () => {
    expect(referenceDsc(vol(zeros(), S), mask(zeros(), S))).toBe(1);
    expect(referenceDsc(vol(new Array(12).fill(0.2), S), mask(zeros(), S), { bothEmpty: 0 })).toBe(0);
    expect(referenceDsc(vol(zeros(), S), mask(zeros(), S), { bothEmpty: Number.NaN })).toBeNaN();
  });

  it('single voxel: hit → 1, miss → 0, one of two → 2/3', () => {
    const t = zeros();
    t[7] = 1;
    const hit = zeros();
    hit[7] = 0.7;
    const miss = zeros();
    miss[8] = 0.7;
    expect(referenceDsc(vol(hit, S), mask(t, S))).toBe(1);
    expect(referenceDsc(vol(miss, S), mask(t, S))).toBe(0);
    const t2 = [...t];
    t2[6] = 1;
    expect(referenceDsc(vol(hit, S), mask(t2, S))).toBeCloseTo(2 / 3, 15);
  });

  it('exactly 0.5 rounds to 0 (half to even); the next float32 above rounds to 1', () => {
    const above = Math.fround(0.5 + 2 ** -24);
    expect(above).toBeGreaterThan(0.5);
    const p = vol([0.5, above, 0.49999997, 1.5, 0, 0, 0, 0, 0, 0, 0, 0], S);
    expect(Array.from(binarize(p).data.slice(0, 4))).toEqual([0, 1, 0, 1]);
    const f64: Volume = { data: Float64Array.from([0.5, 0.5000000000000001]), shape: [1, 2] };
    expect(Array.from(binarize(f64).data)).toEqual([0, 1]);
    const t = zeros();
    t[0] = 1;
    t[1] = 1;
    // Only voxel 1 counts as predicted: 2·1 / (1 + 2).
    expect(referenceDsc(vol([0.5, 0.9, ...new Array(10).fill(0)], S), mask(t, S))).toBeCloseTo(2 / 3, 15);
  });

  it('keeps only the largest 6-connected component, and the first in raster order on a tie', () => {
    // Slice 0: voxels 0,1 (a pair); slice 1: voxels 6+4, 6+5 — not face-adjacent to the first pair.
    const p = zeros();
    p[0] = 0.9;
    p[1] = 0.9;
    p[10] = 0.9;
    p[11] = 0.9;
    const pred = referencePrediction(vol(p, S));
    expect(Array.from(pred.data)).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const t = zeros();
    t[10] = 1;
    t[11] = 1;
    // Truth is the second (tied) component: the reference keeps the first, so the DSC is 0.
    expect(referenceDsc(vol(p, S), mask(t, S))).toBe(0);
    // A third voxel makes the second one larger.
    p[9] = 0.9;
    expect(referenceDsc(vol(p, S), mask(t, S))).toBeCloseTo(0.8, 15);
    // Without LCC everything rounded counts: 2·2 / (5 + 2).
    expect(referenceDsc(vol(p, S), mask(t, S), { lcc: false })).toBeCloseTo(4 / 7, 15);
  });

  it('6-connectivity links slices face to face only', () => {
    // A = voxels 0 (z0,y0,x0) and 6 (z1,y0,x0): face neighbours. B = voxels 4 (z0,y1,x1) and 10 (z1,y1,x1): face
    // neighbours too, but only edge/corner-adjacent to A. Two components of 2: the first in raster order (A) wins.
    const p = zeros();
    for (const i of [0, 6, 4, 10]) p[i] = 0.9;
    expect(Array.from(referencePrediction(vol(p, S)).data)).toEqual([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  });

  it('works on a single 2-D image (4-connected components)', () => {
    const p: Volume = { data: Float32Array.from([0.9, 0, 0.9, 0.9]), shape: [2, 2] };
    const t: BinaryVolume = { data: Uint8Array.from([0, 0, 1, 1]), shape: [2, 2] };
    // All three predicted voxels are 4-connected through voxel 2.
    expect(referenceDsc(p, t)).toBeCloseTo(0.8, 15);
  });

  it('threshold option', () => {
    const t = zeros();
    t[0] = 1;
    const p = zeros();
    p[0] = 0.4;
    expect(referenceDsc(vol(p, S), mask(t, S))).toBe(0);
    expect(referenceDsc(vol(p, S), mask(t, S), { threshold: 0.3 })).toBe(1);
  });

  it('shape mismatch names both shapes', () => {
    expect(() => referenceDsc(vol(zeros(), S), mask(zeros(), [2, 3, 2]))).toThrow(
      'referenceDsc: shape mismatch, probabilities [2,2,3] vs truth [2,3,2]',
    );
    expect(() => referenceDsc({ data: new Float32Array(5), shape: S }, mask(zeros(), S))).toThrow(
      /referenceDsc: probabilities has 5 values but shape \[2,2,3\] needs 12/,
    );
  });

  it('meanReferenceDsc averages patients', () => {
    const t = zeros();
    t[0] = 1;
    const hit = zeros();
    hit[0] = 1;
    const cases = [
      { prob: vol(hit, S), truth: mask(t, S) },
      { prob: vol(zeros(), S), truth: mask(t, S) },
    ];
    expect(meanReferenceDsc(cases)).toBe(0.5);
    expect(meanReferenceDsc([])).toBeNaN();
  });
});
