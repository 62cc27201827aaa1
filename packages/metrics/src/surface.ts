import { distancesAtQueries, resolveSpacing } from './distance.js';
import { percentileInPlace } from './summary.js';
import {
  assertSameShape,
  type BinaryVolume,
  type Box,
  cropMask,
  type Dims,
  dimsOf,
  foregroundBox,
  type Spacing,
} from './volume.js';

/**
 * Surface voxels of a C-order block: foreground voxels with at least one face neighbour (4 in-plane, plus the two
 * across slices for a volume) that is background or outside the block — i.e. `mask XOR binary_erosion(mask, cross)`
 * with SciPy's border value 0, as medpy's surface distances use.
 */
function surfaceOf(src: Uint8Array, dims: Dims): Uint8Array {
  const { depth, height, width, is3d } = dims;
  const plane = height * width;
  const out = new Uint8Array(src.length);
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      const row = z * plane + y * width;
      for (let x = 0; x < width; x++) {
        const i = row + x;
        if (src[i] === 0) continue;
        const interior =
          x > 0 &&
          x < width - 1 &&
          y > 0 &&
          y < height - 1 &&
          src[i - 1] !== 0 &&
          src[i + 1] !== 0 &&
          src[i - width] !== 0 &&
          src[i + width] !== 0 &&
          (!is3d || (z > 0 && z < depth - 1 && src[i - plane] !== 0 && src[i + plane] !== 0));
        if (!interior) out[i] = 1;
      }
    }
  }
  return out;
}

/** The surface of a mask (see {@link surfaceDistances}); a 3-D mask uses the 6-neighbour cross. */
export function surface(mask: BinaryVolume): BinaryVolume {
  const dims = dimsOf('surface', 'mask', mask);
  return { data: surfaceOf(mask.data, dims), shape: mask.shape };
}

/** Directed surface distances, in raster order of the surface voxels they belong to. */
export interface SurfaceDistances {
  /** For every surface voxel of the prediction, the distance to the nearest surface voxel of the truth. */
  readonly predToTruth: Float64Array;
  /** For every surface voxel of the truth, the distance to the nearest surface voxel of the prediction. */
  readonly truthToPred: Float64Array;
}

export interface SurfaceOptions {
  /** Voxel spacing in shape order (default 1 on every axis). */
  spacing?: Spacing;
}

/**
 * Surface distances as medpy's `__surface_distances` computes them: surfaces are `mask XOR erosion(mask, cross)`
 * (border value 0), distances come from an exact Euclidean distance transform of the other mask's surface.
 * Work is confined to the bounding box of both masks: every surface voxel lies in it and the distance between
 * two voxels does not depend on the grid around them, so the result is exact. An empty mask has no surface: its
 * own array is empty and the other mask's distances are all Infinity.
 */
export function surfaceDistances(
  pred: BinaryVolume,
  truth: BinaryVolume,
  options: SurfaceOptions = {},
): SurfaceDistances {
  const dims = dimsOf('surfaceDistances', 'prediction', pred);
  dimsOf('surfaceDistances', 'truth', truth);
  assertSameShape('surfaceDistances', pred, 'prediction', truth, 'truth');
  const sp = resolveSpacing('surfaceDistances', dims, options.spacing);
  const box: Box | null = foregroundBox(dims, [pred.data, truth.data]);
  if (box === null) return { predToTruth: new Float64Array(0), truthToPred: new Float64Array(0) };
  const bdims: Dims = {
    depth: box.z1 - box.z0,
    height: box.y1 - box.y0,
    width: box.x1 - box.x0,
    is3d: dims.is3d,
  };
  // Cropping cannot invent surface: everything outside the box is background in both masks, and the box edge
  // counts as background exactly as the volume edge or the background beyond it does. Each directed set is then
  // computed only where its own queries need it (see distancesAtQueries).
  const ps = surfaceOf(cropMask(pred.data, dims, box), bdims);
  const ts = surfaceOf(cropMask(truth.data, dims, box), bdims);
  return {
    predToTruth: distancesAtQueries(ts, ps, bdims, sp),
    truthToPred: distancesAtQueries(ps, ts, bdims, sp),
  };
}

/**
 * Percentile `q` (NumPy linear) of both directed distance sets pooled, as medpy's `hd95` for q = 95.
 * Both surfaces empty → 0; exactly one empty → Infinity (medpy raises there).
 */
export function hausdorffFromDistances(sd: SurfaceDistances, q: number): number {
  const all = new Float64Array(sd.predToTruth.length + sd.truthToPred.length);
  if (all.length === 0) return 0;
  all.set(sd.predToTruth);
  all.set(sd.truthToPred, sd.predToTruth.length);
  return percentileInPlace(all, q);
}

function mean(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** Mean of the two directed mean distances (medpy `assd`). Both empty → 0, exactly one empty → Infinity. */
export function averageSurfaceDistanceFromDistances(sd: SurfaceDistances): number {
  const a = sd.predToTruth.length;
  const b = sd.truthToPred.length;
  if (a === 0 && b === 0) return 0;
  if (a === 0 || b === 0) return Number.POSITIVE_INFINITY;
  return (mean(sd.predToTruth) + mean(sd.truthToPred)) / 2;
}

/**
 * Surface Dice at a tolerance τ (Nikolov et al. 2021) on voxel surfaces: the share of surface voxels of both
 * masks lying within τ of the other surface, (|{p : d(p) ≤ τ}| + |{t : d(t) ≤ τ}|) / (|∂P| + |∂T|). Each surface
 * voxel counts once (DeepMind's implementation weights surface elements by area instead). Both empty → 1.
 */
export function surfaceDiceFromDistances(sd: SurfaceDistances, tolerance: number): number {
  if (!(tolerance >= 0)) throw new Error(`surfaceDice: tolerance must be >= 0, got ${tolerance}`);
  const total = sd.predToTruth.length + sd.truthToPred.length;
  if (total === 0) return 1;
  let within = 0;
  for (const d of sd.predToTruth) if (d <= tolerance) within++;
  for (const d of sd.truthToPred) if (d <= tolerance) within++;
  return within / total;
}

/** 95th percentile Hausdorff distance (medpy `hd95`); see {@link hausdorffFromDistances} for empty masks. */
export function hd95(pred: BinaryVolume, truth: BinaryVolume, options: SurfaceOptions = {}): number {
  return hausdorffFromDistances(surfaceDistances(pred, truth, options), 95);
}

/** Hausdorff distance at percentile `q` of the pooled directed distances (100 = the classic Hausdorff). */
export function hausdorffPercentile(
  pred: BinaryVolume,
  truth: BinaryVolume,
  q: number,
  options: SurfaceOptions = {},
): number {
  return hausdorffFromDistances(surfaceDistances(pred, truth, options), q);
}

/** Hausdorff distance: the largest directed surface distance. */
export function hausdorff(pred: BinaryVolume, truth: BinaryVolume, options: SurfaceOptions = {}): number {
  return hausdorffFromDistances(surfaceDistances(pred, truth, options), 100);
}

/** Average symmetric surface distance (medpy `assd`). */
export function averageSurfaceDistance(
  pred: BinaryVolume,
  truth: BinaryVolume,
  options: SurfaceOptions = {},
): number {
  return averageSurfaceDistanceFromDistances(surfaceDistances(pred, truth, options));
}

/** Surface Dice at `tolerance` (in spacing units); see {@link surfaceDiceFromDistances}. */
export function surfaceDice(
  pred: BinaryVolume,
  truth: BinaryVolume,
  tolerance: number,
  options: SurfaceOptions = {},
): number {
  return surfaceDiceFromDistances(surfaceDistances(pred, truth, options), tolerance);
}
