import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  binarize,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryOpening,
  binaryVolume,
  countComponents,
  cross,
  dice,
  fillHoles,
  hd95,
  iou,
  meanReferenceDsc,
  parsePostprocess,
  referenceDsc,
  referencePrediction,
  removeSmallObjects,
  square,
  volume,
} from '../src/index.js';
import { GOLDEN_DIR, goldenFloat, goldenScalar, goldenU8, loadGolden } from './golden.js';

function loadVolume(i: number) {
  const f = loadGolden(`metrics/volume${i}.safetensors`);
  const p = goldenFloat(f, 'prob');
  const t = goldenU8(f, 'true');
  const l = goldenU8(f, 'pred_lcc');
  return {
    prob: volume(p.data, p.shape),
    truth: binaryVolume(t.data, t.shape),
    predLcc: binaryVolume(l.data, l.shape),
    dscReference: goldenScalar(f, 'dsc_reference'),
    dscNoLcc: goldenScalar(f, 'dsc_no_lcc'),
    iouNoLcc: goldenScalar(f, 'iou_no_lcc'),
    hd95Lcc: goldenScalar(f, 'hd95_lcc'),
  };
}

/** Goldens are float64 results stored as float32: compare at float32 precision. */
function expectF32(actual: number, expected: number) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * 2e-7 + 1e-9);
}

describe('golden fixtures', () => {
  it('the golden folder exists (tests fail, never skip, without it)', () => {
    expect(existsSync(GOLDEN_DIR), `missing ${GOLDEN_DIR}`).toBe(true);
  });

  for (const i of [0, 1, 2, 3]) {
    describe(`volume${i}`, () => {
      it('has ties at exactly 0.5 (which must round to 0)', () => {
        const v = loadVolume(i);
        expect(v.prob.data.some((x) => x === 0.5)).toBe(true);
      });

      it('reference prediction (round half to even + largest 6-connected component) equals pred_lcc exactly', () => {
        const v = loadVolume(i);
        const mine = referencePrediction(v.prob);
        expect(mine.shape).toEqual(v.predLcc.shape);
        expect(Buffer.from(mine.data).equals(Buffer.from(v.predLcc.data))).toBe(true);
      });

      it('reference DSC, no-LCC DSC and no-LCC IoU', () => {
        const v = loadVolume(i);
        expectF32(referenceDsc(v.prob, v.truth), v.dscReference);
        expectF32(referenceDsc(v.prob, v.truth, { lcc: false }), v.dscNoLcc);
        expectF32(dice(binarize(v.prob), v.truth), v.dscNoLcc);
        expectF32(iou(binarize(v.prob), v.truth), v.iouNoLcc);
      });

      it('HD95 of the LCC prediction', () => {
        const v = loadVolume(i);
        expectF32(hd95(referencePrediction(v.prob), v.truth), v.hd95Lcc);
        expectF32(hd95(v.predLcc, v.truth), v.hd95Lcc);
      });

      it('the lcc3d post-processing step reproduces pred_lcc', () => {
        const v = loadVolume(i);
        const out = parsePostprocess(['lcc3d'])(binarize(v.prob));
        expect(Buffer.from(out.data).equals(Buffer.from(v.predLcc.data))).toBe(true);
      });
    });
  }

  it('mean reference DSC over the four volumes', () => {
    const cases = [0, 1, 2, 3].map(loadVolume);
    const expected = goldenScalar(loadGolden('metrics/mean.safetensors'), 'mean_dsc_reference');
    expectF32(meanReferenceDsc(cases), expected);
  });

  describe('morphology2d (SciPy defaults)', () => {
    const f = () => loadGolden('metrics/morphology2d.safetensors');
    const mask = () => {
      const m = goldenU8(f(), 'mask');
      return binaryVolume(m.data, m.shape);
    };
    const cases: [string, () => Uint8Array][] = [
      ['fill_holes', () => fillHoles(mask()).data],
      ['open_cross', () => binaryOpening(mask(), cross()).data],
      ['open_square', () => binaryOpening(mask(), square()).data],
      ['close_cross', () => binaryClosing(mask(), cross()).data],
      ['close_square', () => binaryClosing(mask(), square()).data],
      ['dilate_cross', () => binaryDilation(mask(), cross()).data],
      ['erode_square', () => binaryErosion(mask(), square()).data],
      ['remove_small_20_conn1', () => removeSmallObjects(mask(), 20, 4).data],
      ['remove_small_20_conn2', () => removeSmallObjects(mask(), 20, 8).data],
    ];
    for (const [name, compute] of cases) {
      it(name, () => {
        const want = goldenU8(f(), name).data;
        const got = compute();
        let diff = 0;
        for (let i = 0; i < want.length; i++) if ((want[i] !== 0) !== (got[i] !== 0)) diff++;
        expect(diff).toBe(0);
      });
    }

    it('default element is the cross, as SciPy', () => {
      expect(binaryClosing(mask()).data).toEqual(binaryClosing(mask(), cross()).data);
    });

    it('component counts with 4- and 8-connectivity', () => {
      const g = f();
      const n4 = goldenFloat(g, 'n_components_4').data[0];
      const n8 = goldenFloat(g, 'n_components_8').data[0];
      expect(countComponents(mask(), 4)).toBe(n4);
      expect(countComponents(mask(), 8)).toBe(n8);
    });

    it('pipeline steps match the goldens too', () => {
      const g = f();
      expect(parsePostprocess('close:square')(mask()).data).toEqual(goldenU8(g, 'close_square').data);
      expect(parsePostprocess('remove-small:20:8')(mask()).data).toEqual(
        goldenU8(g, 'remove_small_20_conn2').data,
      );
      expect(parsePostprocess('fill-holes2d')(mask()).data).toEqual(goldenU8(g, 'fill_holes').data);
    });
  });
});
