/**
 * Composes one slice into RGBA pixels: the chosen channel(s) through the window, then the overlays' fills (truth,
 * prediction and their overlap, or the true/false-positive/false-negative map); `drawOutlines` adds the outlines
 * as lines at the canvas's resolution. Pure and allocation-free per call (the caller owns `out`).
 */
import { CHANNEL_INDEX, type ViewState, windowValue } from './state.js';

export type Rgb = readonly [number, number, number];

export const COLOURS = {
  truth: [0, 230, 64] as Rgb,
  prediction: [255, 32, 32] as Rgb,
  /** Truth and prediction both (the same as a true positive in the error colours). */
  overlap: [255, 214, 0] as Rgb,
  truePositive: [255, 214, 0] as Rgb,
  falsePositive: [255, 32, 32] as Rgb,
  falseNegative: [32, 128, 255] as Rgb,
};

export interface SliceData {
  width: number;
  height: number;
  /** This slice's (3, H, W) channel planes (pre-contrast, FLAIR, post-contrast). */
  image: Float32Array;
  /** (H, W) 0/1 masks of this slice; null when there is none. */
  truth: Uint8Array | null;
  prediction: Uint8Array | null;
}

/** Which overlays a panel may draw (side-by-side shows the truth on the left and the prediction on the right). */
export interface PanelLayers {
  truth: boolean;
  prediction: boolean;
}

/** A 256-entry lookup from window value to grey, rebuilt only when the window changes. */
function lut(window: number, level: number, min: number, max: number): (v: number) => number {
  const n = 1024;
  const table = new Uint8Array(n + 1);
  const span = max - min || 1;
  for (let i = 0; i <= n; i++) table[i] = windowValue(min + (span * i) / n, window, level);
  return (v) => {
    const t = ((v - min) / span) * n;
    return table[t <= 0 ? 0 : t >= n ? n : t | 0];
  };
}

function blend(out: Uint8ClampedArray, o: number, c: Rgb, a: number): void {
  out[o] = out[o] * (1 - a) + c[0] * a;
  out[o + 1] = out[o + 1] * (1 - a) + c[1] * a;
  out[o + 2] = out[o + 2] * (1 - a) + c[2] * a;
}

/** Value range of a slice's planes, for the lookup table. */
export function valueRange(image: Float32Array): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < image.length; i++) {
    const v = image[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? [min, max] : [0, 1];
}

/** Fills `out` (H·W·4 bytes) with the slice as the state shows it. */
export function renderSlice(out: Uint8ClampedArray, d: SliceData, s: ViewState, layers: PanelLayers): void {
  const { width: w, height: h, image } = d;
  const plane = w * h;
  if (out.length !== plane * 4)
    throw new Error(`renderSlice: output has ${out.length} bytes, ${plane * 4} needed`);
  if (image.length !== plane * 3)
    throw new Error(`renderSlice: slice has ${image.length} values, ${plane * 3} needed`);
  const [min, max] = valueRange(image);
  const grey = lut(s.window, s.level, min, max);
  if (s.channel === 'rgb') {
    for (let i = 0; i < plane; i++) {
      const o = i * 4;
      out[o] = grey(image[i]);
      out[o + 1] = grey(image[plane + i]);
      out[o + 2] = grey(image[2 * plane + i]);
      out[o + 3] = 255;
    }
  } else {
    const base = CHANNEL_INDEX[s.channel] * plane;
    for (let i = 0; i < plane; i++) {
      const o = i * 4;
      const g = grey(image[base + i]);
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
      out[o + 3] = 255;
    }
  }
  const fill = s.style !== 'outline';
  const truth = layers.truth && s.truth.visible ? d.truth : null;
  const pred = layers.prediction && s.prediction.visible ? d.prediction : null;
  if (s.mode === 'errors' && truth && pred) {
    const a = Math.max(s.truth.opacity, s.prediction.opacity);
    if (!fill) return;
    for (let i = 0; i < plane; i++) {
      const t = truth[i];
      const p = pred[i];
      if (t === 0 && p === 0) continue;
      blend(out, i * 4, t && p ? COLOURS.truePositive : p ? COLOURS.falsePositive : COLOURS.falseNegative, a);
    }
    return;
  }
  // Truth and prediction: each pixel gets one fill colour — truth only, prediction only, or both (agreement) —
  // never one blended over the other (which reads as a muddy mix). Outlines are drawn as lines by drawOutlines.
  if (!fill || !(truth || pred)) return;
  const aBoth = Math.max(truth ? s.truth.opacity : 0, pred ? s.prediction.opacity : 0);
  for (let i = 0; i < plane; i++) {
    const t = truth ? truth[i] : 0;
    const p = pred ? pred[i] : 0;
    if (t === 0 && p === 0) continue;
    if (t && p) blend(out, i * 4, COLOURS.overlap, aBoth);
    else if (t) blend(out, i * 4, COLOURS.truth, s.truth.opacity);
    else blend(out, i * 4, COLOURS.prediction, s.prediction.opacity);
  }
}

/**
 * The boundary of a mask as straight segments along pixel edges, in image pixels: x0, y0, x1, y1 for each, runs
 * of collinear edges merged. Drawn scaled, it is a thin line at any zoom instead of a band a pixel wide.
 */
export function maskContour(mask: Uint8Array, w: number, h: number): number[] {
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x] !== 0;
  const segs: number[] = [];
  for (let y = 0; y <= h; y++) {
    let start = -1;
    for (let x = 0; x <= w; x++) {
      const edge = x < w && on(x, y - 1) !== on(x, y);
      if (edge && start < 0) start = x;
      if (!edge && start >= 0) {
        segs.push(start, y, x, y);
        start = -1;
      }
    }
  }
  for (let x = 0; x <= w; x++) {
    let start = -1;
    for (let y = 0; y <= h; y++) {
      const edge = y < h && on(x - 1, y) !== on(x, y);
      if (edge && start < 0) start = y;
      if (!edge && start >= 0) {
        segs.push(x, start, x, y);
        start = -1;
      }
    }
  }
  return segs;
}

/** Where `renderSlice`'s pixels were drawn on the canvas: top-left corner and canvas pixels per image pixel. */
export interface Placement {
  x: number;
  y: number;
  scale: number;
}

function strokeContour(
  ctx: CanvasRenderingContext2D,
  mask: Uint8Array,
  d: SliceData,
  at: Placement,
  colour: Rgb,
  alpha: number,
  width: number,
): void {
  const segs = maskContour(mask, d.width, d.height);
  if (segs.length === 0) return;
  ctx.beginPath();
  for (let k = 0; k < segs.length; k += 4) {
    ctx.moveTo(at.x + segs[k] * at.scale, at.y + segs[k + 1] * at.scale);
    ctx.lineTo(at.x + segs[k + 2] * at.scale, at.y + segs[k + 3] * at.scale);
  }
  ctx.globalAlpha = alpha;
  ctx.strokeStyle = `rgb(${colour[0]} ${colour[1]} ${colour[2]})`;
  ctx.lineWidth = width;
  ctx.lineCap = 'square';
  ctx.stroke();
  ctx.globalAlpha = 1;
}

/**
 * The outlines of the slice's masks as thin lines over the drawn image. Truth and prediction: the truth's line
 * drawn wider underneath the prediction's, so where they coincide both colours show (red edged with green). Error
 * colours: the outline of each of the true-positive, false-positive and false-negative regions in its colour.
 */
export function drawOutlines(
  ctx: CanvasRenderingContext2D,
  d: SliceData,
  s: ViewState,
  layers: PanelLayers,
  at: Placement,
): void {
  if (s.style === 'fill') return;
  const truth = layers.truth && s.truth.visible ? d.truth : null;
  const pred = layers.prediction && s.prediction.visible ? d.prediction : null;
  const line = Math.max(1.5, Math.min(3, at.scale / 2));
  const alpha = (a: number) => Math.min(1, 0.35 + 1.3 * a);
  if (s.mode === 'errors' && truth && pred) {
    const a = alpha(Math.max(s.truth.opacity, s.prediction.opacity));
    const classes: [Rgb, (t: number, p: number) => boolean][] = [
      [COLOURS.truePositive, (t, p) => t !== 0 && p !== 0],
      [COLOURS.falsePositive, (t, p) => t === 0 && p !== 0],
      [COLOURS.falseNegative, (t, p) => t !== 0 && p === 0],
    ];
    for (const [colour, member] of classes) {
      const m = Uint8Array.from(truth, (t, i) => (member(t, pred[i]) ? 1 : 0));
      strokeContour(ctx, m, d, at, colour, a, line);
    }
    return;
  }
  if (truth) strokeContour(ctx, truth, d, at, COLOURS.truth, alpha(s.truth.opacity), pred ? line * 2 : line);
  if (pred) strokeContour(ctx, pred, d, at, COLOURS.prediction, alpha(s.prediction.opacity), line);
}

/** Where the image goes on a canvas: fitted, then zoomed and panned (pan relative to the centre). */
export function imageRect(
  canvasW: number,
  canvasH: number,
  imageW: number,
  imageH: number,
  s: Pick<ViewState, 'zoom' | 'panX' | 'panY'>,
): { x: number; y: number; w: number; h: number; scale: number } {
  const scale = Math.min(canvasW / imageW, canvasH / imageH) * s.zoom;
  const w = imageW * scale;
  const h = imageH * scale;
  return { x: canvasW / 2 + s.panX - w / 2, y: canvasH / 2 + s.panY - h / 2, w, h, scale };
}
