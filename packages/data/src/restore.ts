import type { PreprocessInfo } from './preprocess.js';
import { resizeNearest } from './resize.js';

/** The frame a preprocessed volume came from: the raw patient's slice count and in-plane size. */
export interface OriginalFrame {
  depth: number;
  height: number;
  width: number;
}

/** What `restoreMask` needs of a preprocessed volume (a `Volume` has all of it). */
export interface PreprocessedGeometry {
  depth: number;
  height: number;
  width: number;
  info: Pick<PreprocessInfo, 'cropZYX' | 'padYX'>;
}

/**
 * Undoes the geometry of the reference preprocessing for a mask (depth, height, width) in the preprocessed space:
 * resizes each slice back to the padded square (nearest neighbour, grid mode, as the forward step), removes the
 * padding, puts the crop back in place in the original frame and adds the dropped first and last slices (and
 * anything outside the crop box) as background. Returns (frame.depth, frame.height, frame.width) 0/1 values.
 *
 * Where the preprocessed size is at least the padded crop size (an up-sampling), restoring the preprocessed
 * ground truth reproduces the original mask exactly inside the crop box; a down-sampling loses detail.
 */
export function restoreMask(
  mask: Uint8Array,
  geometry: PreprocessedGeometry,
  frame: OriginalFrame,
  options: { dropEnds?: boolean } = {},
): Uint8Array {
  const out = restoreVolume(mask, geometry, frame, options);
  for (let i = 0; i < out.length; i++) out[i] = out[i] ? 1 : 0;
  return out;
}

/**
 * restoreMask for any values (probabilities, say): the same nearest-neighbour placement, values copied as they
 * are, 0 outside the crop box and on the dropped slices.
 */
export function restoreVolume<T extends Uint8Array | Float32Array>(
  values: T,
  geometry: PreprocessedGeometry,
  frame: OriginalFrame,
  options: { dropEnds?: boolean } = {},
): T {
  const { depth: d, height: h, width: w, info } = geometry;
  if (values.length !== d * h * w) {
    throw new Error(`restoreMask: ${values.length} values for a ${d}×${h}×${w} volume`);
  }
  const [z0, z1, y0, y1, x0, x1] = info.cropZYX;
  const [pt, pb, pl, pr] = info.padYX;
  const a = y1 - y0;
  const b = x1 - x0;
  const ph = a + pt + pb;
  const pw = b + pl + pr;
  const zFirst = (options.dropEnds ?? true) ? 1 : 0;
  if (z1 - z0 !== d) throw new Error(`restoreMask: crop box has ${z1 - z0} slices, the mask ${d}`);
  if (zFirst + z1 > frame.depth || y1 > frame.height || x1 > frame.width) {
    throw new Error(
      `restoreMask: crop box [${info.cropZYX.join(', ')}] does not fit a ${frame.depth}×${frame.height}×${frame.width} frame`,
    );
  }
  const plane = frame.height * frame.width;
  const n = frame.depth * plane;
  const out = (values instanceof Float32Array ? new Float32Array(n) : new Uint8Array(n)) as T;
  for (let z = 0; z < d; z++) {
    const src = values.subarray(z * h * w, (z + 1) * h * w) as T;
    const padded = ph === h && pw === w ? src : resizeNearest(src, h, w, ph, pw);
    const dst = (zFirst + z0 + z) * plane;
    for (let y = 0; y < a; y++) {
      const from = (pt + y) * pw + pl;
      const to = dst + (y0 + y) * frame.width + x0;
      for (let x = 0; x < b; x++) out[to + x] = padded[from + x];
    }
  }
  return out;
}
