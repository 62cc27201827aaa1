import { describe, expect, it } from 'vitest';
import { binaryVolume, referenceDsc, selectPostprocess, volume } from '../src/index.js';

/** A 4×8×8 case: a true 3×3×3 cube; the prediction holds the cube at `inside`, and a far speck at `speck`. */
function cubeCase(inside: number, speck: number) {
  const shape = [4, 8, 8];
  const prob = new Float32Array(4 * 64);
  const truth = new Uint8Array(4 * 64);
  for (let z = 0; z < 3; z++)
    for (let y = 1; y < 4; y++)
      for (let x = 1; x < 4; x++) {
        prob[z * 64 + y * 8 + x] = inside;
        truth[z * 64 + y * 8 + x] = 1;
      }
  prob[3 * 64 + 7 * 8 + 7] = speck;
  return { prob: volume(prob, shape), truth: binaryVolume(truth, shape) };
}

describe('selectPostprocess', () => {
  it('keeps the largest component when a false speck lowers the DSC, and nothing more', () => {
    const cases = [cubeCase(0.9, 0.9), cubeCase(0.8, 0.1)];
    const r = selectPostprocess(cases);
    expect(r.threshold).toBe(0.5);
    expect(r.steps).toEqual(['lcc3d']);
    // Without a step: 2·27/(28+27) and 1; with lcc3d both are 1.
    expect(r.baselineDsc).toBeCloseTo((54 / 55 + 1) / 2, 12);
    expect(r.meanDsc).toBe(1);
    // lcc3d at 0.5 is the reference metric.
    expect(r.meanDsc).toBe(
      (referenceDsc(cases[0].prob, cases[0].truth) + referenceDsc(cases[1].prob, cases[1].truth)) / 2,
    );
  });

  it('moves the threshold only when that raises the mean DSC, to the candidate nearest 0.5', () => {
    // The cube at 0.42 is lost at 0.5 and found at 0.40 and below; 0.40 is the nearest that finds it.
    const low = selectPostprocess([cubeCase(0.42, 0)]);
    expect(low.threshold).toBe(0.4);
    expect(low.baselineDsc).toBe(0);
    expect(low.meanDsc).toBe(1);
    expect(low.steps).toEqual([]);
    // Every threshold gives the same DSC: 0.5 stays.
    expect(selectPostprocess([cubeCase(0.99, 0)]).threshold).toBe(0.5);
  });

  it('tries each step family once and records every trial', () => {
    const r = selectPostprocess([cubeCase(0.9, 0.9)], {
      steps: ['remove-small:2', 'remove-small:5', 'lcc3d'],
    });
    expect(r.steps.length).toBe(1);
    expect(r.meanDsc).toBe(1);
    // 9 thresholds, then 3 candidates, then the one left of the other family.
    expect(r.trials.length).toBe(9 + 3 + 1);
    expect(() => selectPostprocess([])).toThrow(/no cases/);
    expect(() => selectPostprocess([cubeCase(0.9, 0)], { thresholds: [1] })).toThrow(/outside/);
    expect(() => selectPostprocess([cubeCase(0.9, 0)], { steps: ['nope'] })).toThrow(/unknown step/);
  });
});
