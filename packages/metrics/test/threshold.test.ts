import { describe, expect, it } from 'vitest';
import { type Case, defaultThresholdGrid, meanReferenceDsc, searchThreshold } from '../src/index.js';

/** Truth voxels get probability `inside`, the rest `outside`. */
function makeCase(truth: number[], inside: number, outside: number): Case {
  return {
    prob: { data: Float32Array.from(truth, (t) => (t ? inside : outside)), shape: [1, 2, 4] },
    truth: { data: Uint8Array.from(truth), shape: [1, 2, 4] },
  };
}

describe('searchThreshold', () => {
  it('default grid is 0.05 … 0.95', () => {
    const g = defaultThresholdGrid();
    expect(g.length).toBe(19);
    expect(g[0]).toBe(0.05);
    expect(g[9]).toBe(0.5);
    expect(g[18]).toBe(0.95);
  });

  it('finds the band of perfect thresholds and prefers the one nearest 0.5', () => {
    // float32 0.28 and 0.08 sit just below / above those decimals, clear of every grid point.
    const cases = [
      makeCase([1, 1, 0, 0, 0, 0, 0, 0], 0.28, 0.08),
      makeCase([0, 0, 1, 1, 0, 0, 1, 0], 0.28, 0.08),
    ];
    const r = searchThreshold(cases);
    // prob > t is exactly the truth for 0.1 ≤ t ≤ 0.25; 0.05 takes everything; ≥ 0.3 takes nothing.
    expect(r.threshold).toBe(0.25);
    expect(r.meanDsc).toBe(1);
    const at = (t: number) => r.curve.find((p) => p.threshold === t)!.meanDsc;
    expect(at(0.05)).toBeCloseTo((4 / 10 + 6 / 11) / 2, 12);
    expect(at(0.1)).toBe(1);
    expect(at(0.3)).toBe(0);
    expect(at(0.5)).toBe(0);
    for (const p of r.curve) {
      expect(p.meanDsc).toBeCloseTo(meanReferenceDsc(cases, { threshold: p.threshold }), 15);
    }
  });

  it('ties at equal distance from 0.5 go to the lower threshold; a custom grid keeps its order', () => {
    const cases = [makeCase([1, 1, 1, 1, 0, 0, 0, 0], 0.9, 0.0)];
    const r = searchThreshold(cases, { thresholds: [0.7, 0.3] });
    expect(r.curve.map((p) => p.threshold)).toEqual([0.7, 0.3]);
    expect(r.threshold).toBe(0.3);
  });

  it('uses the largest component unless lcc is false', () => {
    // Two separate truth blobs in one slice row: LCC drops one of them.
    const c: Case = {
      prob: { data: Float32Array.from([0.9, 0.9, 0, 0.9]), shape: [1, 1, 4] },
      truth: { data: Uint8Array.from([1, 1, 0, 1]), shape: [1, 1, 4] },
    };
    expect(searchThreshold([c], { thresholds: [0.5] }).meanDsc).toBeCloseTo(0.8, 15);
    expect(searchThreshold([c], { thresholds: [0.5], lcc: false }).meanDsc).toBe(1);
  });

  it('rejects empty input and thresholds outside [0, 1)', () => {
    expect(() => searchThreshold([])).toThrow('searchThreshold: no cases given');
    const c = makeCase([1, 0, 0, 0, 0, 0, 0, 0], 0.9, 0);
    expect(() => searchThreshold([c], { thresholds: [] })).toThrow(/grid is empty/);
    expect(() => searchThreshold([c], { thresholds: [1.2] })).toThrow(/threshold 1.2 is outside/);
  });
});
