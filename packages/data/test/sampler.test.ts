import { Rng } from '@mriseg/tensor-wgsl';
import { describe, expect, it } from 'vitest';
import { ReferenceSampler, referenceSliceWeights, sliceAreas, UniformSampler } from '../src/sampler.js';

/** Small fake volumes with chosen tumour areas per slice (only masks matter to samplers). */
function vol(areas: number[]) {
  const plane = 100;
  const mask = new Uint8Array(areas.length * plane);
  areas.forEach((a, z) => {
    mask.fill(1, z * plane, z * plane + a);
  });
  return { depth: areas.length, height: 10, width: 10, mask };
}

describe('samplers', () => {
  const vols = [vol([0, 0, 10, 40, 50, 0]), vol([0, 5, 0, 0]), vol([20, 0, 0, 0, 0, 0, 0, 80])];

  it('weights follow the reference formula', () => {
    const areas = sliceAreas(vols[0]);
    expect(Array.from(areas)).toEqual([0, 0, 10, 40, 50, 0]);
    const w = referenceSliceWeights(areas);
    const sum = 100;
    areas.forEach((a, i) => {
      expect(w[i]).toBeCloseTo((a + (0.1 * sum) / 6) / (1.1 * sum), 12);
    });
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Array.from(referenceSliceWeights([0, 0]))).toEqual([0.5, 0.5]);
  });

  it('reference sampler frequencies match the formula (patient uniform × slice weight)', () => {
    const s = new ReferenceSampler(vols);
    expect(s.epochLength).toBe(18);
    const counts = vols.map((v) => new Float64Array(v.depth));
    const rng = new Rng(7);
    const epochs = 12000;
    for (let e = 0; e < epochs; e++) for (const r of s.epoch(rng)) counts[r.volume][r.slice]++;
    const total = epochs * 18;
    let chi2 = 0;
    let cells = 0;
    vols.forEach((v, i) => {
      const w = referenceSliceWeights(sliceAreas(v));
      w.forEach((p, z) => {
        const expected = (total * p) / vols.length;
        chi2 += (counts[i][z] - expected) ** 2 / expected;
        cells++;
      });
    });
    // 17 degrees of freedom: the 99.9 % quantile of χ² is about 40.8.
    expect(chi2).toBeLessThan(40.8);
    expect(cells).toBe(18);
  });

  it('is deterministic for a seed; uniform visits every slice once an epoch', () => {
    const s = new ReferenceSampler(vols);
    expect(s.epoch(new Rng(3))).toEqual(s.epoch(new Rng(3)));
    const u = new UniformSampler(vols);
    const e = u.epoch(new Rng(1));
    expect(e).toHaveLength(18);
    expect(new Set(e.map((r) => `${r.volume}/${r.slice}`)).size).toBe(18);
    expect(u.epoch(new Rng(1))).toEqual(e);
  });
});
