/**
 * Composes one slice into RGBA pixels: the chosen channel(s) through the window, then the overlays (fill and/or
 * outline) or the false-positive / false-negative map. Pure and allocation-free per call (the caller owns `out`).
 */
import { CHANNEL_INDEX, type ViewState, windowValue } from './state.js';

export type Rgb = readonly [number, number, number];

export const COLOURS = {
  truth: [0, 230, 64] as Rgb,
  prediction: [255, 32, 32] as Rgb,
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

function isEdge(mask: Uint8Array, i: number, x: number, y: number, w: number, h: number): boolean {
  return (
    x === 0 ||
    mask[i - 1] === 0 ||
    x === w - 1 ||
    mask[i + 1] === 0 ||
    y === 0 ||
    mask[i - w] === 0 ||
    y === h - 1 ||
    mask[i + w] === 0
  );
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
  const outline = s.style !== 'fill';
  const truth = layers.truth && s.truth.visible ? d.truth : null;
  const pred = layers.prediction && s.prediction.visible ? d.prediction : null;
  if (s.mode === 'errors' && truth && pred) {
    const a = Math.max(s.truth.opacity, s.prediction.opacity);
    const aEdge = Math.min(1, 2 * a);
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        const t = truth[i];
        const p = pred[i];
        if (t === 0 && p === 0) continue;
        const c = t && p ? COLOURS.truePositive : p ? COLOURS.falsePositive : COLOURS.falseNegative;
        if (fill) blend(out, i * 4, c, a);
        // Outline of the union, so the error regions read as one shape.
        if (outline) {
          const edge =
            x === 0 ||
            (truth[i - 1] | pred[i - 1]) === 0 ||
            x === w - 1 ||
            (truth[i + 1] | pred[i + 1]) === 0 ||
            y === 0 ||
            (truth[i - w] | pred[i - w]) === 0 ||
            y === h - 1 ||
            (truth[i + w] | pred[i + w]) === 0;
          if (edge) blend(out, i * 4, c, aEdge);
        }
      }
    }
    return;
  }
  const draw = (mask: Uint8Array, c: Rgb, a: number): void => {
    const aEdge = Math.min(1, 2 * a);
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        if (mask[i] === 0) continue;
        if (fill) blend(out, i * 4, c, a);
        if (outline && isEdge(mask, i, x, y, w, h)) blend(out, i * 4, c, aEdge);
      }
    }
  };
  if (truth) draw(truth, COLOURS.truth, s.truth.opacity);
  if (pred) draw(pred, COLOURS.prediction, s.prediction.opacity);
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
