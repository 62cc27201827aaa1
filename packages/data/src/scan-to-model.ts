/**
 * Scanner volumes to the models' frame and back. The models were trained on axial Kaggle slices shown the
 * radiological way (image rows run anterior → posterior, columns patient right → left, i.e. DICOM's LPS axial).
 * A volume's voxel axes are permuted and flipped to that frame (no interpolation: every voxel keeps its value),
 * non-square pixels are resampled in-plane to square ones, each sequence is put on the 0–255 scale of the Kaggle
 * slices; the reference preprocessing then takes over. The inverse carries a mask or probabilities back onto the
 * source voxels exactly: nearest neighbour through each resampling, then the inverse permutation.
 */
import { affineDifference, axisCodes, formatAffine, orientationCode } from './affine.js';
import { DataError } from './errors.js';
import type { ScanPatient } from './preprocess.js';
import { resizeNearest, resizeQuadratic } from './resize.js';
import { type ScanVolume, voxelCount } from './scan-volume.js';

/** How the model's frame (columns, rows, slices) sits in a source grid, and the in-plane resampling after it. */
export interface ModelFrame {
  /** Source dims [nx, ny, nz]. */
  sourceDims: [number, number, number];
  /** For the model's column, row and slice axes: the source axis (0 = i, 1 = j, 2 = k) and whether it runs backwards. */
  axes: [ModelAxis, ModelAxis, ModelAxis];
  /** Columns, rows and slices after the permutation. */
  oriented: [number, number, number];
  /** Columns and rows after in-plane resampling to square pixels (the same as `oriented` when already square). */
  resampled: [number, number];
  /** Millimetres a model-frame voxel: [column, row, slice] after the resampling. */
  spacing: [number, number, number];
  /** Orientation letters of the source grid, e.g. "LAS". */
  sourceOrientation: string;
}

export interface ModelAxis {
  source: number;
  flip: boolean;
}

/** Model-frame axis for each world axis (x → columns, y → rows, z → slices) and the direction each should run. */
const TARGET_SIGN = [-1, -1, 1];

/** The model frame of a source grid (from its affine). */
export function modelFrameOf(v: Pick<ScanVolume, 'dims' | 'affine' | 'spacing'>): ModelFrame {
  const { world, sign } = axisCodes(v.affine);
  const axes = [0, 1, 2].map((m) => {
    const source = world.indexOf(m);
    return { source, flip: sign[source] !== TARGET_SIGN[m] };
  }) as ModelFrame['axes'];
  const oriented = axes.map((a) => v.dims[a.source]) as [number, number, number];
  const sp = axes.map((a) => v.spacing[a.source]);
  let resampled: [number, number] = [oriented[0], oriented[1]];
  let inPlane: [number, number] = [sp[0], sp[1]];
  if (Math.abs(sp[0] / sp[1] - 1) > 0.01) {
    const s = Math.min(sp[0], sp[1]);
    resampled = [
      Math.max(1, Math.round((oriented[0] * sp[0]) / s)),
      Math.max(1, Math.round((oriented[1] * sp[1]) / s)),
    ];
    inPlane = [(oriented[0] * sp[0]) / resampled[0], (oriented[1] * sp[1]) / resampled[1]];
  }
  return {
    sourceDims: [...v.dims],
    axes,
    oriented,
    resampled,
    spacing: [inPlane[0], inPlane[1], sp[2]],
    sourceOrientation: orientationCode(v.affine),
  };
}

/** Source voxel offsets along each model axis (columns, rows, slices). */
function offsets(f: ModelFrame): [Int32Array, Int32Array, Int32Array] {
  const [nx, ny] = f.sourceDims;
  const strides = [1, nx, nx * ny];
  return f.axes.map((a, m) => {
    const n = f.oriented[m];
    const out = new Int32Array(n);
    for (let t = 0; t < n; t++) out[t] = strides[a.source] * (a.flip ? n - 1 - t : t);
    return out;
  }) as [Int32Array, Int32Array, Int32Array];
}

/** Source-grid values (x fastest) in the model frame before resampling: (slices, rows, columns). */
export function toModelOrientation<T extends Uint8Array | Float32Array>(values: T, f: ModelFrame): T {
  const [oc, or, os] = offsets(f);
  const [w, h, d] = f.oriented;
  const out = (values instanceof Float32Array ? new Float32Array(w * h * d) : new Uint8Array(w * h * d)) as T;
  let at = 0;
  for (let s = 0; s < d; s++)
    for (let r = 0; r < h; r++) {
      const base = os[s] + or[r];
      for (let c = 0; c < w; c++) out[at++] = values[base + oc[c]];
    }
  return out;
}

/**
 * Values in the model frame, (slices, rows, columns) at the resampled in-plane size, back on the source grid
 * (x fastest): nearest neighbour back to the oriented size, then the inverse permutation. Exact for a mask made
 * in the model frame from the source voxels: every source voxel gets the value of the model voxel it became.
 */
export function toSourceGrid<T extends Uint8Array | Float32Array>(values: T, f: ModelFrame): T {
  const [w, h, d] = f.oriented;
  const [rw, rh] = f.resampled;
  if (values.length !== rw * rh * d)
    throw new Error(`toSourceGrid: ${values.length} values for ${d} slices of ${rw}×${rh}`);
  const [oc, or, os] = offsets(f);
  const n = f.sourceDims[0] * f.sourceDims[1] * f.sourceDims[2];
  const out = (values instanceof Float32Array ? new Float32Array(n) : new Uint8Array(n)) as T;
  for (let s = 0; s < d; s++) {
    let plane = values.subarray(s * rw * rh, (s + 1) * rw * rh) as T;
    if (rw !== w || rh !== h) plane = resizeNearest(plane, rh, rw, h, w);
    let at = 0;
    for (let r = 0; r < h; r++) {
      const base = os[s] + or[r];
      for (let c = 0; c < w; c++) out[base + oc[c]] = plane[at++];
    }
  }
  return out;
}

/** Why two volumes are not on one grid, or null when they are (same dims, affines within 0.01 mm). */
export function gridDifference(a: ScanVolume, b: ScanVolume): string | null {
  if (a.dims.some((n, i) => n !== b.dims[i]))
    return `${a.source} has ${a.dims.join('×')} voxels, ${b.source} ${b.dims.join('×')}`;
  const d = affineDifference(a.affine, b.affine);
  if (d > 0.01)
    return `${a.source} and ${b.source} have the same size but different affines (${formatAffine(a.affine)} vs ${formatAffine(b.affine)}; largest difference ${d.toFixed(3)})`;
  return null;
}

export interface ScanPatientResult {
  patient: ScanPatient;
  frame: ModelFrame;
  /** What was done that a user should know (reslicing, resampling). */
  notes: string[];
}

/**
 * Three sequences on one grid (pre-contrast, FLAIR, post-contrast: the models' channel order) as a patient in the
 * models' frame, ready for `preprocess`: each channel scaled to 0–255 by its own maximum (negative values to 0),
 * as the Kaggle slices were stored. `truth`, if given (0/1 on the same grid), becomes the patient's mask.
 */
export function scanToModel(
  id: string,
  channels: readonly ScanVolume[],
  truth?: Uint8Array,
): ScanPatientResult {
  if (channels.length !== 3) throw new Error(`scanToModel: ${channels.length} channels, 3 expected`);
  const ref = channels[0];
  for (const c of channels.slice(1)) {
    const diff = gridDifference(ref, c);
    if (diff) throw new DataError(c.source, `not on the grid of the other sequences: ${diff}`);
  }
  for (const c of channels) {
    if (c.frames !== 1)
      throw new Error(`scanToModel: ${c.source} has ${c.frames} frames; pass one frame a channel`);
    const n = voxelCount(c);
    let bad = 0;
    for (let i = 0; i < n; i++) if (!Number.isFinite(c.data[i])) bad++;
    if (bad > 0) throw new DataError(c.source, `${bad} voxels are NaN or infinite`);
  }
  const f = modelFrameOf(ref);
  const [w, h, d] = f.oriented;
  const [rw, rh] = f.resampled;
  const plane = rw * rh;
  const image = new Float32Array(d * plane * 3);
  channels.forEach((c, ch) => {
    const oriented = toModelOrientation(c.data, f);
    let max = 0;
    for (const v of oriented) if (v > max) max = v;
    if (!(max > 0)) throw new DataError(c.source, 'no positive voxel: an empty or all-negative sequence');
    const scale = 255 / max;
    const src = new Float64Array(w * h);
    for (let s = 0; s < d; s++) {
      for (let i = 0; i < w * h; i++) src[i] = Math.max(0, oriented[s * w * h + i]) * scale;
      const out = rw !== w || rh !== h ? resizeQuadratic(src, h, w, rh, rw) : src;
      for (let i = 0; i < plane; i++) image[(s * plane + i) * 3 + ch] = Math.min(255, Math.max(0, out[i]));
    }
  });
  let mask: Uint8Array = new Uint8Array(d * plane);
  if (truth) {
    const m = toModelOrientation(truth, f);
    if (rw === w && rh === h) mask = m;
    else
      for (let s = 0; s < d; s++)
        mask.set(resizeNearest(m.subarray(s * w * h, (s + 1) * w * h), h, w, rh, rw), s * plane);
  }
  const notes: string[] = [];
  const slicesFrom = 'ijk'[f.axes[2].source];
  if (f.axes[2].source !== 2)
    notes.push(
      `${ref.source}: a ${f.sourceOrientation} grid: axial slices are taken along its ${slicesFrom} axis (voxels reordered, not resampled)`,
    );
  if (rw !== w || rh !== h)
    notes.push(
      `${ref.source}: non-square pixels resampled in-plane from ${w}×${h} to ${rw}×${rh} (${f.spacing[0].toFixed(3)} mm); masks are carried back to the source voxels`,
    );
  return {
    patient: {
      id,
      sliceNumbers: Array.from({ length: d }, (_, s) => s + 1),
      depth: d,
      height: rh,
      width: rw,
      image,
      mask,
    },
    frame: f,
    notes,
  };
}
