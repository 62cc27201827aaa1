import { type BiasCorrectionOptions, estimateBiasField } from './bias-field.js';
import { DataError } from './errors.js';
import type { RawPatient } from './reader.js';
import { resizeNearest, resizeQuadratic } from './resize.js';
import { percentiles } from './select.js';
import { brainMask, combineChannels, resolveSkullStrip, type SkullStripOptions } from './skull-strip.js';

/** Steps of the reference pipeline; the defaults are the reference. */
export interface PreprocessOptions {
  /** Drop the first and the last slice. Default true. */
  dropEnds?: boolean;
  /** Zero voxels below this fraction of the volume's maximum; null skips it. Default 0.1. */
  threshold?: number | null;
  /** Crop z, y, x to the non-zero bounding box. Default true. */
  crop?: boolean;
  /** Zero-pad the shorter in-plane axis to a square. Default true. */
  pad?: boolean;
  /** Output side; null keeps the (padded) size. Default 256. */
  size?: number | null;
  /** p10/p99 clip-rescale, then per-channel z-score. Default true. */
  normalize?: boolean;
  /**
   * N4-style bias-field correction of each channel after resizing, before skull stripping and normalisation: true
   * for the defaults of `estimateBiasField`, or its options. Default false (not in the reference).
   */
  biasCorrect?: boolean | BiasCorrectionOptions;
  /**
   * Skull stripping after resizing (and bias correction), before normalisation: a brain mask (`brainMask`) from
   * all three channels combined (`combineChannels`; `channel` picks one instead) and every channel zeroed outside it. true for the defaults, or its options.
   * Default false (not in the reference).
   */
  skullStrip?: boolean | SkullStripOptions;
}

export const REFERENCE_PREPROCESS: Required<PreprocessOptions> = {
  dropEnds: true,
  threshold: 0.1,
  crop: true,
  pad: true,
  size: 256,
  normalize: true,
  biasCorrect: false,
  skullStrip: false,
};

export interface PreprocessInfo {
  /** [z0, z1, y0, y1, x0, x1], end exclusive, in the volume after dropping the end slices. */
  cropZYX: [number, number, number, number, number, number];
  /** [before y, after y, before x, after x]. */
  padYX: [number, number, number, number];
  p10: number;
  p99: number;
  channelMean: [number, number, number];
  channelStd: [number, number, number];
  /** With `biasCorrect`: iterations run at each fitting level, per channel. */
  biasCorrection?: number[][];
  /** With `skullStrip`: voxels inside the brain mask, and tumour (mask) voxels outside it. */
  skullStrip?: { brainVoxels: number; tumourOutside: number };
}

/** A preprocessed patient, ready for sampling. */
export interface Volume {
  id: string;
  /** Slice numbers (from the file names) of the kept slices. */
  sliceNumbers: number[];
  depth: number;
  height: number;
  width: number;
  /**
   * (depth, 3, height, width) float32, channel-planar: a slice is one contiguous (3, H, W) block. Volumes from
   * loadDataset live in SharedArrayBuffers (copy with `slice()` where an API refuses shared memory).
   */
  image: Float32Array;
  /** (depth, height, width), 0 or 1. */
  mask: Uint8Array;
  info: PreprocessInfo;
}

/**
 * A patient made from scanner volumes (scan-to-model.ts): as a RawPatient, but its image holds float samples on the
 * 8-bit scale (0–255) of the Kaggle slices, interleaved (depth, height, width, 3).
 */
export type ScanPatient = Omit<RawPatient, 'image'> & { image: Float32Array };

/** Largest output side `preprocess` makes: one 4096² slice is already 200 MB of float32. */
export const MAX_PREPROCESS_SIZE = 4096;
/** Most bytes one patient's preprocessing may hold (float64 work volume, float32 result, mask). */
const MAX_PREPROCESS_BYTES = 8 * 2 ** 30;

/** The reference settings with `options` applied; a size that is not a side in 1..4096 is a RangeError. */
export function resolvePreprocess(options: PreprocessOptions = {}): Required<PreprocessOptions> {
  const o = { ...REFERENCE_PREPROCESS, ...options };
  if (typeof o.skullStrip === 'object') resolveSkullStrip(o.skullStrip);
  if (o.size !== null && !(Number.isInteger(o.size) && o.size >= 1 && o.size <= MAX_PREPROCESS_SIZE)) {
    throw new RangeError(
      `preprocess: image size ${String(o.size)} is not a whole number of pixels from 1 to ${MAX_PREPROCESS_SIZE}`,
    );
  }
  return o;
}

/**
 * The reference preprocessing (brain-segmentation-pytorch: crop_sample, pad_sample, resize_sample,
 * normalize_volume), computed in float64 and stored as float32. The input is not modified. Images are 8-bit
 * samples (Kaggle slices) or floats on the same 0–255 scale (scanner volumes brought to the model's frame).
 */
export function preprocess(raw: RawPatient | ScanPatient, options: PreprocessOptions = {}): Volume {
  const o = resolvePreprocess(options);
  const { height: H, width: W } = raw;
  const zFirst = o.dropEnds ? 1 : 0;
  const D = raw.depth - (o.dropEnds ? 2 : 0);
  if (D <= 0) throw new DataError(raw.id, `${raw.depth} slices: none left after dropping the first and last`);
  const plane = H * W;
  const img = raw.image.subarray(zFirst * plane * 3, (zFirst + D) * plane * 3);
  const msk = raw.mask.subarray(zFirst * plane, (zFirst + D) * plane);

  let vmax = 0;
  for (let i = 0; i < img.length; i++) if (img[i] > vmax) vmax = img[i];
  // NumPy compares the uint8 values with max·0.1 in float64; so do we.
  const thr = o.threshold === null ? 0 : vmax * o.threshold;
  let [z0, z1, y0, y1, x0, x1] = [0, D, 0, H, 0, W];
  if (o.crop) {
    z0 = D;
    z1 = -1;
    y0 = H;
    y1 = -1;
    x0 = W;
    x1 = -1;
    for (let z = 0; z < D; z++) {
      for (let y = 0; y < H; y++) {
        const row = (z * plane + y * W) * 3;
        // A voxel survives the threshold when its brightest channel does.
        let first = -1;
        let lastX = -1;
        for (let x = 0; x < W; x++) {
          const p = row + 3 * x;
          const m = Math.max(img[p], img[p + 1], img[p + 2]);
          if (m !== 0 && m >= thr) {
            if (first < 0) first = x;
            lastX = x;
          }
        }
        if (first >= 0) {
          if (z < z0) z0 = z;
          if (z > z1) z1 = z;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
          if (first < x0) x0 = first;
          if (lastX > x1) x1 = lastX;
        }
      }
    }
    if (z1 < 0) throw new DataError(raw.id, 'volume is all zero after thresholding: nothing to crop to');
    z1++;
    y1++;
    x1++;
  }
  const d = z1 - z0;
  const a = y1 - y0;
  const b = x1 - x0;
  let pad: [number, number, number, number] = [0, 0, 0, 0];
  if (o.pad && a !== b) {
    const diff = Math.abs(a - b) / 2;
    pad = a > b ? [0, 0, Math.floor(diff), Math.ceil(diff)] : [Math.floor(diff), Math.ceil(diff), 0, 0];
  }
  const ph = a + pad[0] + pad[1];
  const pw = b + pad[2] + pad[3];
  const outH = o.size ?? ph;
  const outW = o.size ?? pw;
  const outPlane = outH * outW;
  // Float64 while computing, then float32: 12 bytes a sample beside the mask.
  const need = d * outPlane * (3 * 12 + 1);
  if (need > MAX_PREPROCESS_BYTES) {
    throw new DataError(
      raw.id,
      `preprocessing ${d} slices to ${outW}×${outH} needs ${(need / 2 ** 30).toFixed(1)} GiB, more than the ` +
        `${MAX_PREPROCESS_BYTES / 2 ** 30} GiB limit; choose a smaller image size`,
    );
  }

  const vol = new Float64Array(d * 3 * outPlane);
  const mask = new Uint8Array(d * outPlane);
  const src = new Float64Array(ph * pw);
  const srcMask = new Uint8Array(ph * pw);
  let inMin = Number.POSITIVE_INFINITY;
  let inMax = Number.NEGATIVE_INFINITY;
  const resizing = outH !== ph || outW !== pw;
  for (let z = 0; z < d; z++) {
    const zz = z0 + z;
    for (let c = 0; c < 3; c++) {
      src.fill(0);
      for (let y = 0; y < a; y++) {
        const from = (zz * plane + (y0 + y) * W + x0) * 3 + c;
        const to = (pad[0] + y) * pw + pad[2];
        for (let x = 0; x < b; x++) {
          const v = img[from + 3 * x];
          src[to + x] = v < thr ? 0 : v / 255;
        }
      }
      for (let i = 0; i < src.length; i++) {
        if (src[i] < inMin) inMin = src[i];
        if (src[i] > inMax) inMax = src[i];
      }
      const out = resizing ? resizeQuadratic(src, ph, pw, outH, outW) : src;
      vol.set(out, (z * 3 + c) * outPlane);
    }
    srcMask.fill(0);
    for (let y = 0; y < a; y++) {
      const from = zz * plane + (y0 + y) * W + x0;
      srcMask.set(msk.subarray(from, from + b), (pad[0] + y) * pw + pad[2]);
    }
    mask.set(resizing ? resizeNearest(srcMask, ph, pw, outH, outW) : srcMask, z * outPlane);
  }
  // scikit-image's resize clips the spline's overshoot to the input's value range (clip=True).
  if (resizing) for (let i = 0; i < vol.length; i++) vol[i] = Math.min(inMax, Math.max(inMin, vol[i]));

  const info: PreprocessInfo = {
    cropZYX: [z0, z1, y0, y1, x0, x1],
    padYX: pad,
    p10: Number.NaN,
    p99: Number.NaN,
    channelMean: [0, 0, 0],
    channelStd: [1, 1, 1],
  };
  if (o.biasCorrect) correctChannels(vol, d, outH, outW, o.biasCorrect === true ? {} : o.biasCorrect, info);
  if (o.skullStrip)
    stripSkull(vol, mask, d, outH, outW, o.skullStrip === true ? {} : o.skullStrip, info, raw.id);
  if (o.normalize) normalize(vol, d, outPlane, info);
  return {
    id: raw.id,
    sliceNumbers: raw.sliceNumbers.slice(zFirst + z0, zFirst + z1),
    depth: d,
    height: outH,
    width: outW,
    image: new Float32Array(vol),
    mask,
    info,
  };
}

/** One channel of the (depth, 3, H, W) work volume as a (depth, H, W) copy. */
function channelOf(vol: Float64Array, d: number, plane: number, c: number): Float64Array {
  const out = new Float64Array(d * plane);
  for (let z = 0; z < d; z++) out.set(vol.subarray((z * 3 + c) * plane, (z * 3 + c + 1) * plane), z * plane);
  return out;
}

/**
 * Divides each channel by its estimated bias field, fitted over the voxels above 5 % of the channel's maximum (the
 * head; the reference's threshold has zeroed the background). A channel equal to an earlier one (FLAIR standing in
 * for a missing sequence) reuses that one's field.
 */
function correctChannels(
  vol: Float64Array,
  d: number,
  h: number,
  w: number,
  options: BiasCorrectionOptions,
  info: PreprocessInfo,
): void {
  const plane = h * w;
  const channels = [0, 1, 2].map((c) => channelOf(vol, d, plane, c));
  const fields: Float64Array[] = [];
  info.biasCorrection = [];
  for (let c = 0; c < 3; c++) {
    const same = channels.findIndex((other, k) => k < c && other.every((v, i) => v === channels[c][i]));
    let field: Float64Array;
    if (same >= 0) {
      field = fields[same];
      info.biasCorrection.push(info.biasCorrection[same]);
    } else {
      const x = channels[c];
      let max = 0;
      for (const v of x) if (v > max) max = v;
      const mask = new Uint8Array(x.length);
      for (let i = 0; i < x.length; i++) mask[i] = x[i] > 0.05 * max ? 1 : 0;
      const est = estimateBiasField(x, [d, h, w], mask, options);
      field = est.logField;
      info.biasCorrection.push(est.levels.map((l) => l.iterations));
    }
    fields.push(field);
    for (let z = 0; z < d; z++) {
      const off = (z * 3 + c) * plane;
      for (let i = 0; i < plane; i++) vol[off + i] /= Math.exp(field[z * plane + i]);
    }
  }
}

/** Zeroes every channel outside the brain mask (of the combined channels, or one); counts tumour voxels it leaves out. */
function stripSkull(
  vol: Float64Array,
  mask: Uint8Array,
  d: number,
  h: number,
  w: number,
  options: SkullStripOptions,
  info: PreprocessInfo,
  id: string,
): void {
  const o = resolveSkullStrip(options);
  const plane = h * w;
  if (o.channel !== 'all' && o.channel > 2)
    throw new DataError(id, `skull stripping: channel ${o.channel} asked for, the images have 3`);
  const image =
    o.channel === 'all'
      ? combineChannels(
          [0, 1, 2].map((c) => channelOf(vol, d, plane, c)),
          [d, h, w],
        )
      : channelOf(vol, d, plane, o.channel);
  const brain = brainMask(image, [d, h, w], o);
  let brainVoxels = 0;
  let tumourOutside = 0;
  for (let z = 0; z < d; z++) {
    for (let i = 0; i < plane; i++) {
      const k = z * plane + i;
      if (brain[k]) brainVoxels++;
      else {
        if (mask[k]) tumourOutside++;
        for (let c = 0; c < 3; c++) vol[(z * 3 + c) * plane + i] = 0;
      }
    }
  }
  info.skullStrip = { brainVoxels, tumourOutside };
}

/** normalize_volume: p10/p99 over all voxels and channels, clip-rescale to [0, 1], per-channel z-score. */
function normalize(vol: Float64Array, d: number, plane: number, info: PreprocessInfo): void {
  const [p10, p99] = percentiles(vol, [10, 99]);
  info.p10 = p10;
  info.p99 = p99;
  const range = p99 - p10;
  for (let i = 0; i < vol.length; i++) {
    const v = Math.min(p99, Math.max(p10, vol[i]));
    // skimage's rescale_intensity with an empty input range just clips to the output range.
    vol[i] = range > 0 ? (v - p10) / range : Math.min(1, Math.max(0, v));
  }
  const n = d * plane;
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let z = 0; z < d; z++) {
      const off = (z * 3 + c) * plane;
      for (let i = 0; i < plane; i++) sum += vol[off + i];
    }
    const mean = sum / n;
    let ss = 0;
    for (let z = 0; z < d; z++) {
      const off = (z * 3 + c) * plane;
      for (let i = 0; i < plane; i++) ss += (vol[off + i] - mean) ** 2;
    }
    const std = Math.sqrt(ss / n);
    info.channelMean[c] = mean;
    info.channelStd[c] = std;
    const inv = std > 0 ? 1 / std : 1;
    for (let z = 0; z < d; z++) {
      const off = (z * 3 + c) * plane;
      for (let i = 0; i < plane; i++) vol[off + i] = (vol[off + i] - mean) * inv;
    }
  }
}
