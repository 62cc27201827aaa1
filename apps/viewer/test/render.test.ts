import { describe, expect, it } from 'vitest';
import { analyse, volumeReferenceDsc } from '../src/analysis.js';
import { COLOURS, imageRect, maskContour, renderSlice, type SliceData } from '../src/render.js';
import { initialState, setChannel, setMode, setOverlay, setStyle, setWindowLevel } from '../src/state.js';

/** A 6×6 slice: channel c holds c + x/10; truth a 2×2 square at (1..2, 1..2), prediction at (2..3, 1..2). */
function slice(): SliceData {
  const w = 6;
  const h = 6;
  const image = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let i = 0; i < w * h; i++) image[c * w * h + i] = c + (i % w) / 10;
  const truth = new Uint8Array(w * h);
  const prediction = new Uint8Array(w * h);
  for (const y of [1, 2]) {
    for (const x of [1, 2]) truth[y * w + x] = 1;
    for (const x of [2, 3]) prediction[y * w + x] = 1;
  }
  return { width: w, height: h, image, truth, prediction };
}

const px = (out: Uint8ClampedArray, x: number, y: number) => [
  ...out.subarray((y * 6 + x) * 4, (y * 6 + x) * 4 + 4),
];
const both = { truth: true, prediction: true };

describe('slice rendering', () => {
  it('shows the chosen channel through the window, grey or RGB', () => {
    const d = slice();
    const out = new Uint8ClampedArray(6 * 6 * 4);
    // FLAIR (channel 1) spans 1.0..1.5: window 0.5 at level 1.25 maps it to black..white.
    const s = setOverlay(
      setOverlay(setWindowLevel(initialState(1), 0.5, 1.25), 'truth', { visible: false }),
      'prediction',
      {
        visible: false,
      },
    );
    renderSlice(out, d, s, both);
    expect(px(out, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(px(out, 5, 0)).toEqual([255, 255, 255, 255]);
    renderSlice(out, d, setChannel(s, 'pre'), both);
    expect(px(out, 5, 5)).toEqual([0, 0, 0, 255]);
    renderSlice(out, d, setWindowLevel(setChannel(s, 'rgb'), 4, 1), both);
    const [r, g, b] = px(out, 0, 0);
    expect(r).toBeLessThan(g);
    expect(g).toBeLessThan(b);
  });

  it('draws truth green and prediction red, as fill or outline, with their opacity', () => {
    const d = slice();
    const out = new Uint8ClampedArray(6 * 6 * 4);
    const s = setStyle(setWindowLevel(initialState(1), 100, -50), 'fill'); // everything white underneath
    renderSlice(
      out,
      d,
      setOverlay(setOverlay(s, 'prediction', { visible: false }), 'truth', { opacity: 1 }),
      both,
    );
    expect(px(out, 1, 1).slice(0, 3)).toEqual([...COLOURS.truth]);
    expect(px(out, 4, 4)).toEqual([255, 255, 255, 255]);
    renderSlice(
      out,
      d,
      setOverlay(setOverlay(s, 'truth', { visible: false }), 'prediction', { opacity: 0.5 }),
      both,
    );
    expect(px(out, 3, 1).slice(0, 3)).toEqual([255, 144, 144]);
    expect(px(out, 1, 1)).toEqual([255, 255, 255, 255]);
    // The panel's layers win over the state: a truth-only panel draws no prediction.
    renderSlice(out, d, setOverlay(s, 'prediction', { opacity: 1 }), { truth: false, prediction: false });
    expect(px(out, 3, 1)).toEqual([255, 255, 255, 255]);
    // Outline only: no fill (the outline is drawn as lines by drawOutlines).
    renderSlice(out, d, setOverlay(setStyle(s, 'outline'), 'truth', { opacity: 1 }), both);
    for (const [x, y] of [
      [1, 1],
      [2, 2],
      [3, 1],
    ])
      expect(px(out, x, y)).toEqual([255, 255, 255, 255]);
  });

  it('fills where truth and prediction overlap with one clear colour, not one blended over the other', () => {
    const d = slice();
    const out = new Uint8ClampedArray(6 * 6 * 4);
    const s = setOverlay(
      setOverlay(setStyle(setWindowLevel(initialState(1), 100, -50), 'fill'), 'truth', { opacity: 0.5 }),
      'prediction',
      { opacity: 0.5 },
    );
    renderSlice(out, d, s, both);
    // White underneath at half opacity: truth only, prediction only, both — three pure hues at the same strength.
    const off = (x: number, y: number, c: readonly number[]) =>
      Math.max(
        ...px(out, x, y)
          .slice(0, 3)
          .map((v, k) => Math.abs(v - (255 + c[k]) / 2)),
      );
    expect(off(1, 1, COLOURS.truth)).toBeLessThanOrEqual(0.5);
    expect(off(3, 1, COLOURS.prediction)).toBeLessThanOrEqual(0.5);
    expect(off(2, 1, COLOURS.overlap)).toBeLessThanOrEqual(0.5);
  });

  it("traces a mask's boundary as merged segments along pixel edges", () => {
    const d = slice();
    // The 2×2 truth square at x 1..2, y 1..2: four sides of length 2.
    const segs = maskContour(d.truth!, 6, 6);
    const sides: number[][] = [];
    for (let k = 0; k < segs.length; k += 4) sides.push(segs.slice(k, k + 4));
    expect(sides).toEqual([
      [1, 1, 3, 1],
      [1, 3, 3, 3],
      [1, 1, 1, 3],
      [3, 1, 3, 3],
    ]);
    // A mask touching the border closes along it; an L shape has six sides; empty has none.
    const m = new Uint8Array(9);
    m.set([1, 0, 0, 1, 0, 0, 1, 1, 1]);
    const l = maskContour(m, 3, 3);
    let length = 0;
    for (let k = 0; k < l.length; k += 4) length += Math.abs(l[k + 2] - l[k]) + Math.abs(l[k + 3] - l[k + 1]);
    expect(length).toBe(12);
    expect(l.length / 4).toBe(6);
    expect(maskContour(new Uint8Array(9), 3, 3)).toEqual([]);
  });

  it('colours true positives, false positives and false negatives in error mode', () => {
    const d = slice();
    const out = new Uint8ClampedArray(6 * 6 * 4);
    let s = setMode(setStyle(setWindowLevel(initialState(1), 100, -50), 'fill'), 'errors');
    s = setOverlay(setOverlay(s, 'truth', { opacity: 1 }), 'prediction', { opacity: 1 });
    renderSlice(out, d, s, both);
    expect(px(out, 2, 1).slice(0, 3)).toEqual([...COLOURS.truePositive]);
    expect(px(out, 3, 1).slice(0, 3)).toEqual([...COLOURS.falsePositive]);
    expect(px(out, 1, 1).slice(0, 3)).toEqual([...COLOURS.falseNegative]);
    expect(() => renderSlice(new Uint8ClampedArray(4), d, s, both)).toThrow(/bytes/);
  });

  it('fits, zooms and pans the image rectangle', () => {
    expect(imageRect(560, 560, 64, 64, { zoom: 1, panX: 0, panY: 0 })).toEqual({
      x: 0,
      y: 0,
      w: 560,
      h: 560,
      scale: 8.75,
    });
    const r = imageRect(400, 200, 100, 50, { zoom: 2, panX: 10, panY: -5 });
    expect(r).toEqual({ x: -190, y: -105, w: 800, h: 400, scale: 8 });
  });
});

describe('analysis', () => {
  it('thresholds, post-processes and scores the prediction', () => {
    // Two slices of 4×4: truth a 2×2 block on slice 0; prediction probabilities cover it plus a far blob.
    const shape = [2, 4, 4] as const;
    const truth = new Uint8Array(32);
    const prob = new Float32Array(32);
    for (const i of [5, 6, 9, 10]) {
      truth[i] = 1;
      prob[i] = 0.9;
    }
    prob[16 + 15] = 0.7; // isolated voxel on slice 1
    prob[16 + 0] = 0.4;
    const a = analyse(prob, truth, shape, 0.5, []);
    expect(a.predictionArea).toEqual([4, 1]);
    expect(a.truthArea).toEqual([4, 0]);
    expect(a.dsc).toBeCloseTo(8 / 9);
    expect(a.perSlice).toEqual([1, 0]);
    const lcc = analyse(prob, truth, shape, 0.5, ['lcc3d']);
    expect(lcc.predictionArea).toEqual([4, 0]);
    expect(lcc.dsc).toBe(1);
    expect(lcc.perSlice).toEqual([1, null]);
    // A lower threshold adds the 0.4 voxel.
    expect(analyse(prob, truth, shape, 0.3, []).predictionArea).toEqual([4, 2]);
    expect(volumeReferenceDsc(prob, truth, shape)).toBe(1);
    const none = analyse(prob, null, shape, 0.5, []);
    expect(none.dsc).toBeNull();
    expect(volumeReferenceDsc(prob, null, shape)).toBeNull();
    expect(() => analyse(prob, truth, shape, 0.5, ['blur'])).toThrow(/unknown step "blur"/);
  });
});
