import { countSquaredDistances, distancesAtQueries, maxSquaredDistance, resolveSpacing } from './distance.js';
import {
  cropPadded,
  nearbyRadius2,
  nearbySearch,
  type PaddedDims,
  paddedStride,
  surfacePadded,
  wholeSquares,
} from './nearby.js';
import { percentileFromOrder, percentileInPlace } from './summary.js';
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

/** Number of 1 bytes in a 0/1 array whose length is a multiple of 4. */
function countOnes(a: Uint8Array): number {
  const w = new Uint32Array(a.buffer, a.byteOffset, a.length >> 2);
  let n = 0;
  for (let k = 0; k < w.length; k++) if (w[k] !== 0) n += Math.imul(w[k], 0x01010101) >>> 24;
  return n;
}

/**
 * Writes the distances of one directed set into `all` from `at`: square roots of `near` (raster order of the
 * queries, Infinity beyond the search radius), the queries beyond it taken from the separable transform.
 */
function fillDirected(
  all: Float64Array,
  at: number,
  features: Uint8Array,
  queries: Uint8Array,
  near: Float64Array | null,
  dims: Dims,
  spacing: readonly number[],
): void {
  if (near === null) {
    all.set(distancesAtQueries(features, queries, dims, spacing), at);
    return;
  }
  let far: Uint8Array | null = null;
  for (let i = 0, k = 0; i < queries.length; i++) {
    if (queries[i] === 0) continue;
    if (near[k++] === Number.POSITIVE_INFINITY) {
      far ??= new Uint8Array(queries.length);
      far[i] = 1;
    }
  }
  const rest = far === null ? null : distancesAtQueries(features, far, dims, spacing);
  for (let k = 0, j = 0; k < near.length; k++) {
    all[at + k] = near[k] === Number.POSITIVE_INFINITY ? rest![j++] : Math.sqrt(near[k]);
  }
}

/**
 * Percentile `q` of the pooled surface distances, as {@link hausdorffFromDistances} of {@link surfaceDistances}
 * bit for bit, with less work when the squared spacings are whole numbers: distances are searched near each query
 * first (see nearby.ts), and the separable transform runs only for the queries beyond that search — or not at all
 * when the percentile's ranks are all within it, since every farther distance is larger. `searchRows` sets the
 * search radius (see nearbyRadius2; tests shrink it to exercise every route).
 */
export function surfacePercentile(
  pred: BinaryVolume,
  truth: BinaryVolume,
  q: number,
  options: SurfaceOptions,
  searchRows = 200,
): number {
  const dims = dimsOf('surfaceDistances', 'prediction', pred);
  dimsOf('surfaceDistances', 'truth', truth);
  assertSameShape('surfaceDistances', pred, 'prediction', truth, 'truth');
  const sp = resolveSpacing('surfaceDistances', dims, options.spacing);
  const squares = wholeSquares(sp);
  if (squares === null) return hausdorffFromDistances(surfaceDistances(pred, truth, options), q);
  const box: Box | null = foregroundBox(dims, [pred.data, truth.data]);
  if (box === null) return 0;
  if (dims.width % 4 === 0) {
    // Widened to whole words of the rows (background in both masks, like the rest of the volume around the box),
    // the box is copied a word at a time.
    box.x0 &= ~3;
    box.x1 = (box.x1 + 3) & ~3;
  }
  // The box as padded blocks (see surfaceDistances for why cropping is exact); the spare columns are background in
  // both masks, so they change no distance either.
  const stride = paddedStride(box.x1 - box.x0);
  const pd: PaddedDims = { depth: box.z1 - box.z0, height: box.y1 - box.y0, width: box.x1 - box.x0, stride };
  const ps = surfacePadded(cropPadded(pred.data, dims, box, stride), pd.depth, pd.height, stride, dims.is3d);
  const ts = surfacePadded(cropPadded(truth.data, dims, box, stride), pd.depth, pd.height, stride, dims.is3d);
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile: q must be within [0, 100], got ${q}`);
  const r2 = nearbyRadius2(squares, searchRows);
  const a = nearbySearch(ts, ps, pd, squares, r2, Number.POSITIVE_INFINITY, true);
  const b = nearbySearch(ps, ts, pd, squares, r2, Number.POSITIVE_INFINITY, true);
  const np = a !== null ? a.length : countOnes(ps);
  const nt = b !== null ? b.length : countOnes(ts);
  const n = np + nt;
  if (np === 0 || nt === 0) return Number.POSITIVE_INFINITY;
  const pos = (n - 1) * (q / 100);
  const top = Math.floor(pos) + (pos === Math.floor(pos) ? 0 : 1);
  // Queries beyond the radius may be left unknown as long as ranks 0 … top all fall on known, nearer ones.
  const spare = n - 1 - Math.min(top, n - 1);
  const wide: Dims = { depth: pd.depth, height: pd.height, width: stride, is3d: dims.is3d };
  const maxD2 = maxSquaredDistance(wide, squares);
  let far = 0;
  if (a !== null) for (let k = 0; k < a.length; k++) if (a[k] === Number.POSITIVE_INFINITY) far++;
  if (b !== null) for (let k = 0; k < b.length; k++) if (b[k] === Number.POSITIVE_INFINITY) far++;
  const complete = a !== null && b !== null && far <= spare;
  if (!complete && maxD2 > 1 << 22) {
    // Too many possible values to count: list the distances instead.
    const all = new Float64Array(n);
    fillDirected(all, 0, ts, ps, a, wide, sp);
    fillDirected(all, np, ps, ts, b, wide, sp);
    return percentileInPlace(all, q);
  }
  // Every squared distance is a whole number: count them, the near ones from the search, the others (where their
  // ranks are needed) from the separable transform.
  const counts = new Int32Array((complete ? r2 : maxD2) + 1);
  for (const [near, features, queries] of [
    [a, ts, ps],
    [b, ps, ts],
  ] as const) {
    if (near === null) {
      countSquaredDistances(features, queries, wide, squares, counts);
      continue;
    }
    let beyond = 0;
    for (let k = 0; k < near.length; k++) {
      const d2 = near[k];
      if (d2 !== Number.POSITIVE_INFINITY) counts[d2]++;
      else beyond++;
    }
    if (complete || beyond === 0) continue;
    // The far queries of this direction, as a mask for the transform.
    const farMask = new Uint8Array(queries.length);
    for (let i = 0, k = 0; k < near.length; i++) {
      if (queries[i] === 0) continue;
      if (near[k++] === Number.POSITIVE_INFINITY) farMask[i] = 1;
    }
    countSquaredDistances(features, farMask, wide, squares, counts);
  }
  let v = 0;
  let below = counts[0];
  // Ranks are read in increasing order: walk the counts once.
  return percentileFromOrder(n, q, (rank) => {
    while (below <= rank) below += counts[++v];
    return Math.sqrt(v);
  });
}

/** 95th percentile Hausdorff distance (medpy `hd95`); see {@link hausdorffFromDistances} for empty masks. */
export function hd95(pred: BinaryVolume, truth: BinaryVolume, options: SurfaceOptions = {}): number {
  return surfacePercentile(pred, truth, 95, options);
}

/** Hausdorff distance at percentile `q` of the pooled directed distances (100 = the classic Hausdorff). */
export function hausdorffPercentile(
  pred: BinaryVolume,
  truth: BinaryVolume,
  q: number,
  options: SurfaceOptions = {},
): number {
  return surfacePercentile(pred, truth, q, options);
}

/** Hausdorff distance: the largest directed surface distance. */
export function hausdorff(pred: BinaryVolume, truth: BinaryVolume, options: SurfaceOptions = {}): number {
  return surfacePercentile(pred, truth, 100, options);
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
