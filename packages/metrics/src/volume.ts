import { firstNonZero, lastNonZero, wordView } from './scan.js';

/**
 * Volumes: flat typed arrays in C (row-major) order with a shape. A 3-D shape is [depth, height, width]
 * (slices × rows × columns, depth being the slice axis); a 2-D shape [height, width] is a single image.
 * Internally every function views a 2-D image as a one-slice volume, so one code path serves both.
 */

export type Shape2D = readonly [height: number, width: number];
export type Shape3D = readonly [depth: number, height: number, width: number];
export type Shape = Shape2D | Shape3D;

/** A binary mask: 0 is background, any other value foreground. Masks this package returns hold only 0 and 1. */
export interface BinaryVolume {
  readonly data: Uint8Array;
  readonly shape: Shape;
}

/** Real values such as sigmoid probabilities. */
export interface Volume {
  readonly data: Float32Array | Float64Array;
  readonly shape: Shape;
}

/** Voxel spacing per axis, in the order of the shape (e.g. [sliceThickness, rowSpacing, columnSpacing]). */
export type Spacing = readonly number[];

/** The three extents of a volume; a 2-D image has depth 1. */
export interface Dims {
  readonly depth: number;
  readonly height: number;
  readonly width: number;
  /** Whether the shape had three axes. */
  readonly is3d: boolean;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function checkShape(fn: string, shape: readonly number[]): void {
  if (shape.length !== 2 && shape.length !== 3) {
    throw new Error(`${fn}: shape ${formatShape(shape)} must have 2 axes [H,W] or 3 axes [D,H,W]`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new Error(`${fn}: shape ${formatShape(shape)} has a bad extent ${d}`);
  }
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Validates a volume's shape and data length and returns its extents. `fn` and `what` name it in errors. */
export function dimsOf(
  fn: string,
  what: string,
  v: { data: ArrayLike<number>; shape: readonly number[] },
): Dims {
  checkShape(`${fn} (${what})`, v.shape);
  const n = numel(v.shape);
  if (v.data.length !== n) {
    throw new Error(
      `${fn}: ${what} has ${v.data.length} values but shape ${formatShape(v.shape)} needs ${n}`,
    );
  }
  const is3d = v.shape.length === 3;
  return {
    depth: is3d ? v.shape[0] : 1,
    height: is3d ? v.shape[1] : v.shape[0],
    width: is3d ? v.shape[2] : v.shape[1],
    is3d,
  };
}

/** Throws unless both volumes have the same shape; the message names both shapes. */
export function assertSameShape(
  fn: string,
  a: { shape: readonly number[] },
  aName: string,
  b: { shape: readonly number[] },
  bName: string,
): void {
  const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  if (!same) {
    throw new Error(
      `${fn}: shape mismatch, ${aName} ${formatShape(a.shape)} vs ${bName} ${formatShape(b.shape)}`,
    );
  }
}

function toShape(fn: string, shape: readonly number[]): Shape {
  checkShape(fn, shape);
  return shape.length === 3 ? [shape[0], shape[1], shape[2]] : [shape[0], shape[1]];
}

/** Wraps data and a shape (e.g. from a safetensors entry) as a mask, checking that they agree. */
export function binaryVolume(data: Uint8Array, shape: readonly number[]): BinaryVolume {
  const v = { data, shape: toShape('binaryVolume', shape) };
  dimsOf('binaryVolume', 'data', v);
  return v;
}

/** Wraps data and a shape as a real-valued volume, checking that they agree. */
export function volume(data: Float32Array | Float64Array, shape: readonly number[]): Volume {
  const v = { data, shape: toShape('volume', shape) };
  dimsOf('volume', 'data', v);
  return v;
}

/**
 * Foreground where the value is strictly above `threshold`. At the default 0.5 this equals NumPy's
 * `np.round(p) != 0` for probabilities in [0, 1]: round half to even sends exactly 0.5 to 0. NaN is background.
 */
export function binarize(v: Volume, threshold = 0.5): BinaryVolume {
  dimsOf('binarize', 'volume', v);
  const src = v.data;
  const data = src instanceof Float32Array ? above32(src, threshold) : above64(src, threshold);
  return { data, shape: v.shape };
}

/** Whether typed arrays are little-endian here (byte k of a Uint32 word is then bits 8k … 8k + 7). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// `+(a > t)` compiles without a branch (a noise-like prediction would mispredict half of them), and four results
// are stored as one word. The two element types get their own copy of the loop so that each stays monomorphic.
function above32(src: Float32Array, t: number): Uint8Array {
  const out = new Uint8Array(src.length);
  let i = 0;
  if (LITTLE_ENDIAN) {
    const o = new Uint32Array(out.buffer, 0, src.length >> 2);
    for (let k = 0; k < o.length; k++, i += 4) {
      o[k] = +(src[i] > t) | (+(src[i + 1] > t) << 8) | (+(src[i + 2] > t) << 16) | (+(src[i + 3] > t) << 24);
    }
  }
  for (; i < src.length; i++) out[i] = +(src[i] > t);
  return out;
}

function above64(src: Float64Array, t: number): Uint8Array {
  const out = new Uint8Array(src.length);
  let i = 0;
  if (LITTLE_ENDIAN) {
    const o = new Uint32Array(out.buffer, 0, src.length >> 2);
    for (let k = 0; k < o.length; k++, i += 4) {
      o[k] = +(src[i] > t) | (+(src[i + 1] > t) << 8) | (+(src[i + 2] > t) << 16) | (+(src[i + 3] > t) << 24);
    }
  }
  for (; i < src.length; i++) out[i] = +(src[i] > t);
  return out;
}

/** Number of foreground voxels. */
export function countForeground(mask: BinaryVolume): number {
  const d = mask.data;
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) n++;
  return n;
}

/** A mask of zeros with the given shape. */
export function emptyLike(mask: { shape: Shape }): BinaryVolume {
  return { data: new Uint8Array(numel(mask.shape)), shape: mask.shape };
}

/** An axis-aligned box, end exclusive, in [z, y, x] (z0 = 0, z1 = 1 for a 2-D image). */
export interface Box {
  z0: number;
  z1: number;
  y0: number;
  y1: number;
  x0: number;
  x1: number;
}

/** The tightest box around the foreground of all given masks (same shape), or null if all are empty. */
export function foregroundBox(dims: Dims, masks: readonly Uint8Array[]): Box | null {
  const { depth, height, width } = dims;
  const words = masks.map(wordView);
  let z0 = depth;
  let z1 = 0;
  let y0 = height;
  let y1 = 0;
  let x0 = width;
  let x1 = 0;
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      const row = (z * height + y) * width;
      let any = false;
      for (let k = 0; k < masks.length; k++) {
        const f = firstNonZero(masks[k], words[k], row, row + width);
        if (f < 0) continue;
        const l = lastNonZero(masks[k], words[k], f, row + width);
        any = true;
        if (f - row < x0) x0 = f - row;
        if (l - row + 1 > x1) x1 = l - row + 1;
      }
      if (!any) continue;
      if (z < z0) z0 = z;
      z1 = z + 1;
      if (y < y0) y0 = y;
      if (y + 1 > y1) y1 = y + 1;
    }
  }
  if (z1 === 0) return null;
  return { z0, z1, y0, y1, x0, x1 };
}

/** Copies the box out of a mask as a standalone C-order array. */
export function cropMask(src: Uint8Array, dims: Dims, box: Box): Uint8Array {
  const bw = box.x1 - box.x0;
  const bh = box.y1 - box.y0;
  const bd = box.z1 - box.z0;
  const out = new Uint8Array(bd * bh * bw);
  let at = 0;
  for (let z = box.z0; z < box.z1; z++) {
    for (let y = box.y0; y < box.y1; y++) {
      const row = (z * dims.height + y) * dims.width;
      out.set(src.subarray(row + box.x0, row + box.x1), at);
      at += bw;
    }
  }
  return out;
}
