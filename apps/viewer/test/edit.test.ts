import { describe, expect, it } from 'vitest';
import {
  canvasToImage,
  correctionDsc,
  editKey,
  fillPolygon,
  floodFill,
  MaskEditor,
  paintDisc,
  paintStroke,
  stepBrush,
} from '../src/edit.js';

const count = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
const at = (a: Uint8Array, w: number, x: number, y: number) => a[y * w + x];

describe('mask operations', () => {
  it('paints a disc of pixel centres within the radius, clipped to the plane', () => {
    const p = new Uint8Array(16 * 16);
    // Radius 0.5 at a pixel centre: that pixel only.
    expect(paintDisc(p, 16, 16, 3.5, 4.5, 0.5, 1)).toBe(1);
    expect(at(p, 16, 3, 4)).toBe(1);
    p.fill(0);
    // Radius 2 about a pixel centre: the 13 pixel centres within distance 2.
    const n = paintDisc(p, 16, 16, 8.5, 8.5, 2, 1);
    let expected = 0;
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++) if ((x - 8) ** 2 + (y - 8) ** 2 <= 4) expected++;
    expect(n).toBe(expected);
    expect(count(p)).toBe(13);
    // Painting again changes nothing; erasing removes them all.
    expect(paintDisc(p, 16, 16, 8.5, 8.5, 2, 1)).toBe(0);
    expect(paintDisc(p, 16, 16, 8.5, 8.5, 2, 0)).toBe(13);
    // At a corner the disc is clipped, never written outside.
    const q = new Uint8Array(4 * 4);
    expect(paintDisc(q, 4, 4, 0, 0, 3, 1)).toBeGreaterThan(0);
    expect(q.length).toBe(16);
  });

  it('leaves no gap along a fast stroke', () => {
    const p = new Uint8Array(32 * 32);
    paintStroke(p, 32, 32, [2.5, 16.5], [29.5, 16.5], 0.5, 1);
    for (let x = 2; x <= 29; x++) expect(at(p, 32, x, 16)).toBe(1);
    expect(count(p)).toBe(28);
    // Diagonal, radius 1: 8-connected at least (every row between has a pixel).
    const d = new Uint8Array(32 * 32);
    paintStroke(d, 32, 32, [1, 1], [30, 30], 1, 1);
    for (let y = 1; y < 30; y++) expect(d.subarray(y * 32, (y + 1) * 32).some((v) => v === 1)).toBe(true);
  });

  it('fills a polygon by pixel centres (a square exactly, a triangle by half)', () => {
    const p = new Uint8Array(16 * 16);
    expect(
      fillPolygon(
        p,
        16,
        16,
        [
          [2, 3],
          [7, 3],
          [7, 9],
          [2, 9],
        ],
        1,
      ),
    ).toBe(5 * 6);
    for (let y = 3; y < 9; y++) for (let x = 2; x < 7; x++) expect(at(p, 16, x, y)).toBe(1);
    const t = new Uint8Array(16 * 16);
    fillPolygon(
      t,
      16,
      16,
      [
        [0, 0],
        [16, 0],
        [0, 16],
      ],
      1,
    );
    // Centres with x + y < 15 (x, y the pixel indices): 120 of them.
    expect(count(t)).toBe(120);
    expect(
      fillPolygon(
        t,
        16,
        16,
        [
          [0, 0],
          [5, 5],
        ],
        0,
      ),
    ).toBe(0);
  });

  it('flood-fills the 4-connected region under the point only', () => {
    // A ring: filling inside fills the hole and not the outside; erasing on the ring removes the ring only.
    const w = 9;
    const p = new Uint8Array(w * w);
    for (let i = 2; i <= 6; i++) {
      p[2 * w + i] = 1;
      p[6 * w + i] = 1;
      p[i * w + 2] = 1;
      p[i * w + 6] = 1;
    }
    const ring = count(p);
    expect(floodFill(p, w, w, 4.2, 4.7, 1)).toBe(9);
    expect(count(p)).toBe(ring + 9);
    expect(at(p, w, 0, 0)).toBe(0);
    expect(floodFill(p, w, w, 4, 4, 1)).toBe(0);
    expect(floodFill(p, w, w, -1, 4, 1)).toBe(0);
    expect(floodFill(p, w, w, 2, 2, 0)).toBe(ring + 9);
    expect(count(p)).toBe(0);
  });

  it('maps canvas points to image pixels through the drawn rectangle', () => {
    // A 64² image drawn at (40, 40) with size 320 on a 400² canvas shown at 200² CSS pixels.
    const [x, y] = canvasToImage(
      100,
      20,
      { width: 200, height: 200 },
      { width: 400, height: 400 },
      { x: 40, y: 40, w: 320, h: 320 },
      { width: 64, height: 64 },
    );
    expect(x).toBeCloseTo(32);
    expect(y).toBeCloseTo(0);
  });
});

describe('MaskEditor', () => {
  it('records changes per slice, undoes and redoes pixels and the corrected flag together', () => {
    const e = new MaskEditor(3, 8, 8);
    expect(e.corrected()).toEqual([]);
    expect(e.canUndo).toBe(false);
    e.apply(1, (p) => paintDisc(p, 8, 8, 4, 4, 2, 1));
    const drawn = count(e.slice(1));
    expect(drawn).toBeGreaterThan(0);
    expect(e.corrected()).toEqual([1]);
    const pred = new Uint8Array(64);
    pred[0] = 1;
    e.acceptPrediction(2, pred);
    expect(e.corrected()).toEqual([1, 2]);
    expect(count(e.slice(2))).toBe(1);

    expect(e.undo()).toBe(2);
    expect(count(e.slice(2))).toBe(0);
    expect(e.corrected()).toEqual([1]);
    expect(e.undo()).toBe(1);
    expect(count(e.slice(1))).toBe(0);
    expect(e.corrected()).toEqual([]);
    expect(e.undo()).toBeNull();
    expect(e.redo()).toBe(1);
    expect(count(e.slice(1))).toBe(drawn);
    expect(e.corrected()).toEqual([1]);
    // A new change drops what could be redone.
    e.clear(1);
    expect(count(e.slice(1))).toBe(0);
    expect(e.canRedo).toBe(false);
    expect(e.redo()).toBeNull();
    expect(e.undo()).toBe(1);
    expect(count(e.slice(1))).toBe(drawn);
  });

  it('records nothing for a no-op on a corrected slice, but accepting an empty prediction marks the slice', () => {
    const e = new MaskEditor(2, 4, 4);
    expect(e.acceptPrediction(0, new Uint8Array(16))).toBe(true);
    expect(e.corrected()).toEqual([0]);
    expect(e.apply(0, () => {})).toBe(false);
    expect(e.undo()).toBe(0);
    expect(e.undo()).toBeNull();
    expect(() => e.slice(2)).toThrow(/slice 2 is outside 0..1/);
    expect(() => e.acceptPrediction(0, new Uint8Array(3))).toThrow(/3 pixels/);
  });

  it('keeps at most historyLimit entries', () => {
    const e = new MaskEditor(1, 2, 2, 3);
    for (let i = 0; i < 4; i++)
      e.apply(0, (p) => {
        p[i] = 1;
      });
    expect(e.undo()).toBe(0);
    expect(e.undo()).toBe(0);
    expect(e.undo()).toBe(0);
    expect(e.undo()).toBeNull();
    expect([...e.slice(0)]).toEqual([1, 0, 0, 0]);
  });

  it('scores a prediction against the corrections on corrected slices only', () => {
    const e = new MaskEditor(2, 2, 2);
    expect(correctionDsc(new Uint8Array(8), e)).toBeNull();
    e.apply(0, (p) => p.set([1, 1, 0, 0]));
    // Slice 1 is not corrected: its pixels do not count.
    expect(correctionDsc(Uint8Array.from([1, 0, 0, 0, 1, 1, 1, 1]), e)).toEqual({ dsc: 2 / 3, slices: 1 });
    e.clear(0);
    expect(correctionDsc(new Uint8Array(8), e)).toEqual({ dsc: 1, slices: 1 });
  });
});

describe('editor keys', () => {
  it('maps shortcuts and leaves the view keys alone', () => {
    expect(editKey('b', { ctrl: false, shift: false })).toEqual({ kind: 'tool', tool: 'brush' });
    expect(editKey('E', { ctrl: false, shift: true })).toEqual({ kind: 'tool', tool: 'eraser' });
    expect(editKey('z', { ctrl: true, shift: false })).toEqual({ kind: 'undo' });
    expect(editKey('Z', { ctrl: true, shift: true })).toEqual({ kind: 'redo' });
    expect(editKey('y', { ctrl: true, shift: false })).toEqual({ kind: 'redo' });
    expect(editKey(']', { ctrl: false, shift: false })).toEqual({ kind: 'size', delta: 1 });
    for (const k of ['g', 'p', '0', '+', '-', 'ArrowUp', 'Home'])
      expect(editKey(k, { ctrl: false, shift: false })).toBeNull();
  });

  it('steps the brush size in pixels, then by a quarter, within bounds', () => {
    expect(stepBrush(3, 1)).toBe(4);
    expect(stepBrush(8, 1)).toBe(10);
    expect(stepBrush(10, -1)).toBe(8);
    expect(stepBrush(1, -1)).toBe(1);
    expect(stepBrush(64, 1)).toBe(64);
  });
});
