import { describe, expect, it } from 'vitest';
import {
  binaryVolume,
  type Case,
  evaluateCases,
  formatReport,
  hd95,
  METRIC_NAMES,
  parsePostprocess,
  referenceDsc,
  summarize,
  volume,
} from '../src/index.js';
import { goldenFloat, goldenScalar, goldenU8, loadGolden } from './golden.js';

function goldenCases(): { cases: Case[]; hd: number[]; dsc: number[] } {
  const cases: Case[] = [];
  const hd: number[] = [];
  const dsc: number[] = [];
  for (const i of [0, 1, 2, 3]) {
    const f = loadGolden(`metrics/volume${i}.safetensors`);
    const p = goldenFloat(f, 'prob');
    const t = goldenU8(f, 'true');
    cases.push({ id: `volume${i}`, prob: volume(p.data, p.shape), truth: binaryVolume(t.data, t.shape) });
    hd.push(goldenScalar(f, 'hd95_lcc'));
    dsc.push(goldenScalar(f, 'dsc_reference'));
  }
  return { cases, hd, dsc };
}

describe('evaluateCases', () => {
  it('per-patient rows agree with the goldens and the single-metric functions', () => {
    const { cases, hd, dsc } = goldenCases();
    const report = evaluateCases(cases);
    expect(report.rows.map((r) => r.id)).toEqual(['volume0', 'volume1', 'volume2', 'volume3']);
    report.rows.forEach((r, i) => {
      expect(r.referenceDsc).toBeCloseTo(dsc[i], 6);
      // Default post-processing is the reference's LCC, so the evaluated mask's Dice is the reference DSC.
      expect(r.dice).toBe(r.referenceDsc);
      expect(r.hd95).toBeCloseTo(hd[i], 5);
      expect(r.iou).toBeCloseTo(r.dice / (2 - r.dice), 12);
      expect(r.precision).toBeGreaterThan(0);
      expect(r.specificity).toBeGreaterThan(0.9);
      expect(r.surfaceDice).toBeGreaterThanOrEqual(0);
      expect(r.surfaceDice).toBeLessThanOrEqual(1);
      expect(r.assd).toBeGreaterThan(0);
    });
    const mean = goldenScalar(loadGolden('metrics/mean.safetensors'), 'mean_dsc_reference');
    expect(report.summary.referenceDsc.mean).toBeCloseTo(mean, 6);
    expect(report.summary.hd95).toEqual(summarize(report.rows.map((r) => r.hd95)));
    for (const m of METRIC_NAMES) expect(report.summary[m].count).toBe(4);
  });

  it('a custom post-processing changes the evaluated columns but not referenceDsc', () => {
    const { cases } = goldenCases();
    const none = evaluateCases(cases, { postprocess: parsePostprocess([]) });
    none.rows.forEach((r, i) => {
      expect(r.referenceDsc).toBe(referenceDsc(cases[i].prob, cases[i].truth));
      expect(r.dice).toBeCloseTo(r.dscNoLcc, 12);
    });
  });

  it('spacing reaches the distance metrics', () => {
    const { cases } = goldenCases();
    const c = cases[0];
    const r = evaluateCases([c], { spacing: [3, 1, 1] }).rows[0];
    const mask = parsePostprocess('lcc3d')({
      data: Uint8Array.from(c.prob.data, (v) => (v > 0.5 ? 1 : 0)),
      shape: c.prob.shape,
    });
    expect(r.hd95).toBeCloseTo(hd95(mask, c.truth, { spacing: [3, 1, 1] }), 12);
  });

  it('formatReport prints a row per patient and the summary rows', () => {
    const { cases } = goldenCases();
    const text = formatReport(evaluateCases(cases.slice(0, 2)));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^patient\s+referenceDsc\s+dscNoLcc/);
    expect(lines[1]).toMatch(/^volume0\s+0\.8316/);
    expect(lines.slice(3).map((l) => l.split(/\s+/)[0])).toEqual(['mean', 'median', 'q1', 'q3', 'iqr']);
  });

  it('names the case on a shape mismatch', () => {
    const bad: Case = {
      id: 'p7',
      prob: { data: new Float32Array(4), shape: [1, 2, 2] },
      truth: { data: new Uint8Array(6), shape: [1, 2, 3] },
    };
    expect(() => evaluateCases([bad])).toThrow(
      'evaluateCases (case p7): shape mismatch, probabilities [1,2,2] vs truth [1,2,3]',
    );
  });
});
