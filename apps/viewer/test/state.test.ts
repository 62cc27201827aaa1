import { describe, expect, it } from 'vitest';
import {
  autoWindow,
  initialState,
  keyAction,
  MAX_ZOOM,
  MIN_WINDOW,
  MIN_ZOOM,
  panBy,
  resetView,
  setChannel,
  setOverlay,
  setPostprocess,
  setSlice,
  setThreshold,
  setWindowLevel,
  stepSlice,
  toggleOverlay,
  wheelSteps,
  windowValue,
  withVolume,
  worstSlice,
  zoomAt,
} from '../src/state.js';

describe('view state', () => {
  it('starts on FLAIR, mid-volume, both overlays on, threshold 0.5 and the reference LCC', () => {
    const s = initialState(21);
    expect(s.channel).toBe('flair');
    expect(s.slice).toBe(10);
    expect(s.truth.visible && s.prediction.visible).toBe(true);
    expect(s.threshold).toBe(0.5);
    expect(s.postprocess).toEqual(['lcc3d']);
    expect(initialState().slice).toBe(0);
  });

  it('clamps and rounds slices, and keeps the same object when nothing changes', () => {
    const s = initialState(10);
    expect(setSlice(s, -3).slice).toBe(0);
    expect(setSlice(s, 99).slice).toBe(9);
    expect(setSlice(s, 2.6).slice).toBe(3);
    expect(stepSlice(setSlice(s, 9), 1).slice).toBe(9);
    const at5 = setSlice(s, 5);
    expect(setSlice(at5, 5)).toBe(at5);
    expect(withVolume(at5, 4).slice).toBe(2);
    expect(setSlice(initialState(0), 3).slice).toBe(0);
  });

  it('maps keys to slice, zoom and overlay changes, and ignores others', () => {
    const s = initialState(30);
    expect(keyAction(s, 'ArrowUp')!.slice).toBe(16);
    expect(keyAction(s, 'ArrowDown')!.slice).toBe(14);
    expect(keyAction(s, 'PageUp')!.slice).toBe(25);
    expect(keyAction(s, 'Home')!.slice).toBe(0);
    expect(keyAction(s, 'End')!.slice).toBe(29);
    expect(keyAction(s, '+')!.zoom).toBeCloseTo(1.25);
    expect(keyAction(s, 'g')!.truth.visible).toBe(false);
    expect(keyAction(s, 'p')!.prediction.visible).toBe(false);
    expect(keyAction(s, 'x')).toBeNull();
    expect(wheelSteps(120)).toBe(1);
    expect(wheelSteps(-3)).toBe(-1);
    expect(wheelSteps(0)).toBe(0);
  });

  it('zooms about the cursor: the image point under it stays put', () => {
    let s = panBy(initialState(5), 10, -4);
    const cx = 100;
    const cy = 50;
    // Image coordinate (relative to its centre, in fit units) under the cursor before and after.
    const under = (v: typeof s) => [(cx - v.panX) / v.zoom, (cy - v.panY) / v.zoom];
    const before = under(s);
    s = zoomAt(s, 2, cx, cy);
    expect(s.zoom).toBe(2);
    expect(under(s)[0]).toBeCloseTo(before[0]);
    expect(under(s)[1]).toBeCloseTo(before[1]);
    expect(zoomAt(s, 1000).zoom).toBe(MAX_ZOOM);
    expect(zoomAt(s, 1e-6).zoom).toBe(MIN_ZOOM);
    const r = resetView(s);
    expect([r.zoom, r.panX, r.panY]).toEqual([1, 0, 0]);
  });

  it('windows values to grey levels and keeps the window positive', () => {
    expect(windowValue(-10, 4, 0)).toBe(0);
    expect(windowValue(10, 4, 0)).toBe(255);
    expect(windowValue(0, 4, 0)).toBe(128);
    expect(windowValue(1, 4, 0)).toBe(191);
    expect(setWindowLevel(initialState(), -5, 1).window).toBe(MIN_WINDOW);
    const [w, l] = autoWindow(Float32Array.from({ length: 1001 }, (_, i) => i / 100 - 1));
    expect(l - w / 2).toBeCloseTo(-1);
    expect(l + w / 2).toBeCloseTo(8.95, 1);
  });

  it('clamps opacity and threshold, toggles overlays, cleans post-processing steps, checks channels', () => {
    const s = initialState(3);
    expect(setOverlay(s, 'truth', { opacity: 3 }).truth.opacity).toBe(1);
    expect(setOverlay(s, 'prediction', { opacity: -1 }).prediction.opacity).toBe(0);
    expect(toggleOverlay(toggleOverlay(s, 'truth'), 'truth').truth.visible).toBe(true);
    expect(setThreshold(s, 1.5).threshold).toBe(1);
    expect(setPostprocess(s, [' lcc3d ', '', 'fill-holes2d']).postprocess).toEqual(['lcc3d', 'fill-holes2d']);
    expect(setChannel(s, 'rgb').channel).toBe('rgb');
    expect(() => setChannel(s, 'T2' as never)).toThrow(/unknown channel/);
  });

  it('finds the worst slice among slices with tumour in truth or prediction', () => {
    expect(worstSlice([null, 0.9, 0.2, 0.2, 1], [0, 10, 5, 40, 0], [0, 12, 3, 30, 0])).toBe(3);
    // A slice that is all false positive (truth empty) scores 0 and is the worst.
    expect(worstSlice([null, 0.8, 0], [0, 10, 0], [0, 9, 7])).toBe(2);
    expect(worstSlice([null, null], [0, 0], [0, 0])).toBeNull();
  });
});
