/**
 * A brain mask from an MRI volume by classical means, in the spirit of the threshold, erode, select and grow
 * heuristics that tools like BET start from. `preprocess` computes it on all three channels at once
 * (`combineChannels`), since in this data set the FLAIR alone can show no brain at all:
 *
 * 1. head: voxels above a small fraction of the maximum, holes filled slice by slice;
 * 2. tissue: head voxels brighter than `threshold` × the median intensity of the voxels deep inside the head (the
 *    brain dominates there, so scalp fat and a bias field barely move it; skull and CSF fall below);
 * 3. seeds: in each slice, the tissue eroded by a disk of `seedErosion` px, keeping only the pieces that reach deep
 *    inside the head (the scalp, a ring at the head's edge, never does); then, outwards from the slice with the
 *    most seed, each slice also takes the eroded pieces that lie mostly over its inner neighbour's seeds (slices
 *    beyond the seeded ones, and lobes at the skull base too shallow to be seeds);
 * 4. brain: the seeds dilated back by the same disk, grown by `growth` px within the tissue, holes filled, closed
 *    with a disk of `closing` px, replaced by its convex hull in each slice (`hull`, so that cortex, sulci and
 *    anything between brain and skull stay in), and widened by `margin` px;
 * 5. a mask smaller than `minFraction` of the head is a failure of the method: the whole head is returned instead.
 *
 * The steps favour keeping tissue over removing it: a mask that cuts tumour would cost the network what it is
 * there to find. Lengths are in pixels of a 256-pixel slice and scale with the slice size.
 */
import { distanceTransform, fillHoles, labelComponents } from '@mriseg/metrics';
import { percentiles, select } from './select.js';

export interface SkullStripOptions {
  /**
   * Channel of the volume the mask is computed on, or `'all'` (default): the voxel-wise maximum of the channels,
   * each scaled by its 99th percentile within the head (`combineChannels`).
   */
  channel?: number | 'all';
  /** Tissue threshold as a fraction of the median intensity deep inside the head. Default 0.5. */
  threshold?: number;
  /** How far from the head's edge a voxel is "deep", in px (statistics use this depth, seeds twice it). Default 12. */
  depth?: number;
  /** Radius of the erosion that separates brain from scalp, px. Default 6. */
  seedErosion?: number;
  /** Growth of the brain within the tissue after the seeds are dilated back, px. Default 4. */
  growth?: number;
  /** Radius of the closing, px. Default 4. */
  closing?: number;
  /** Replace each slice's mask by its convex hull. Default true. */
  hull?: boolean;
  /** Final widening, px. Default 2. */
  margin?: number;
  /**
   * Smallest plausible brain as a fraction of the head's voxels (holes filled); a smaller mask means the method
   * failed on this volume (a channel without contrast, an unusual field of view) and the whole head is returned
   * instead, so that no tumour is cut. Default 0.2 (the brain is typically 50–80 % of the head in this data).
   */
  minFraction?: number;
}

export const DEFAULT_SKULL_STRIP: Required<SkullStripOptions> = {
  channel: 'all',
  threshold: 0.5,
  depth: 12,
  seedErosion: 6,
  growth: 4,
  closing: 4,
  hull: true,
  margin: 2,
  minFraction: 0.2,
};

type Shape3 = readonly [number, number, number];

export function resolveSkullStrip(options: SkullStripOptions = {}): Required<SkullStripOptions> {
  const o = { ...DEFAULT_SKULL_STRIP, ...options };
  if (o.channel !== 'all' && !(Number.isInteger(o.channel) && o.channel >= 0))
    throw new RangeError(
      `skull stripping: channel must be 'all' or an integer >= 0, got ${String(o.channel)}`,
    );
  if (!(o.threshold > 0 && o.threshold < 10))
    throw new RangeError(`skull stripping: threshold must be in (0, 10), got ${o.threshold}`);
  for (const k of ['depth', 'seedErosion', 'growth', 'closing', 'margin'] as const)
    if (!(Number.isFinite(o[k]) && o[k] >= 0))
      throw new RangeError(`skull stripping: ${k} must be a number of pixels >= 0, got ${o[k]}`);
  if (!(o.minFraction >= 0 && o.minFraction <= 1))
    throw new RangeError(`skull stripping: minFraction must be in [0, 1], got ${o.minFraction}`);
  return o;
}

/** For each voxel, its in-plane distance to the nearest voxel where `mask` is `target` (Infinity when none). */
function sliceDistances(mask: Uint8Array, [D, H, W]: Shape3, target: 0 | 1): Float64Array {
  const plane = H * W;
  const out = new Float64Array(D * plane);
  const slice = new Uint8Array(plane);
  for (let z = 0; z < D; z++) {
    let any = false;
    for (let i = 0; i < plane; i++) {
      const hit = (mask[z * plane + i] !== 0) === (target === 1);
      slice[i] = hit ? 1 : 0;
      any ||= hit;
    }
    if (!any) out.fill(Number.POSITIVE_INFINITY, z * plane, (z + 1) * plane);
    else out.set(distanceTransform({ data: slice, shape: [H, W] }), z * plane);
  }
  return out;
}

/**
 * One image for the brain mask from several channels ([D,H,W] each, non-negative): each channel less its background
 * (the median over the slices' outer frame of pixels, zero in most volumes; clipped at 0), divided by its 99th
 * percentile over its head voxels (above 2 % of its maximum), then the voxel-wise maximum. Why: in this data set the
 * FLAIR alone can fail, its brain near black in some patients (the reference's 8-bit slices) while the T1 channels
 * show it; a tumour dark in T1 is bright in FLAIR; and a few T1 series have a grey background, which would otherwise
 * make the whole slice "head". Scalp and brain are bright in at least one channel, skull and background in none. A
 * channel that is all background is left out.
 */
export function combineChannels(channels: readonly ArrayLike<number>[], [D, H, W]: Shape3): Float64Array {
  const n = D * H * W;
  const out = new Float64Array(n);
  const plane = H * W;
  const frame: number[] = [];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) if (y === 0 || y === H - 1 || x === 0 || x === W - 1) frame.push(y * W + x);
  for (const x of channels) {
    if (x.length !== n)
      throw new RangeError(`combineChannels: a channel of ${x.length} values for shape [${D},${H},${W}]`);
    const border = new Float64Array(D * frame.length);
    for (let z = 0, k = 0; z < D; z++) for (const i of frame) border[k++] = x[z * plane + i];
    const background = border.length > 0 ? median(border) : 0;
    const v = new Float64Array(n);
    let max = 0;
    for (let i = 0; i < n; i++) {
      v[i] = Math.max(0, x[i] - background);
      if (v[i] > max) max = v[i];
    }
    if (!(max > 0)) continue;
    let count = 0;
    for (let i = 0; i < n; i++) if (v[i] > 0.02 * max) count++;
    const head = new Float64Array(count);
    for (let i = 0, k = 0; i < n; i++) if (v[i] > 0.02 * max) head[k++] = v[i];
    const [scale] = percentiles(head, [99]);
    for (let i = 0; i < n; i++) if (v[i] / scale > out[i]) out[i] = v[i] / scale;
  }
  return out;
}

/** In-plane erosion and dilation by a disk of radius r (Euclidean, slice by slice). */
function erode(mask: Uint8Array, shape: Shape3, r: number): Uint8Array {
  const d = sliceDistances(mask, shape, 0);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = d[i] > r ? 1 : 0;
  return out;
}

function dilate(mask: Uint8Array, shape: Shape3, r: number): Uint8Array {
  const d = sliceDistances(mask, shape, 1);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = d[i] <= r ? 1 : 0;
  return out;
}

const fill = (mask: Uint8Array, shape: Shape3): Uint8Array => fillHoles({ data: mask, shape }, 4).data;

function median(values: Float64Array): number {
  return values.length === 0 ? Number.NaN : select(values.slice(), (values.length - 1) >> 1);
}

/** Replaces each slice's mask by the convex hull of its pixels (as unit squares), filled at pixel centres. */
export function convexHullPerSlice(mask: Uint8Array, [D, H, W]: Shape3): Uint8Array {
  const plane = H * W;
  const out = new Uint8Array(mask.length);
  for (let z = 0; z < D; z++) {
    // Corners of the leftmost and rightmost pixel of each row are enough: the hull of a row is its extent.
    const pts: [number, number][] = [];
    for (let y = 0; y < H; y++) {
      let lo = -1;
      let hi = -1;
      for (let x = 0; x < W; x++) {
        if (mask[z * plane + y * W + x]) {
          if (lo < 0) lo = x;
          hi = x;
        }
      }
      if (lo >= 0)
        pts.push([lo - 0.5, y - 0.5], [lo - 0.5, y + 0.5], [hi + 0.5, y - 0.5], [hi + 0.5, y + 0.5]);
    }
    if (pts.length === 0) continue;
    const hull = monotoneChain(pts);
    for (let y = 0; y < H; y++) {
      let xl = Number.POSITIVE_INFINITY;
      let xr = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < hull.length; k++) {
        const [ax, ay] = hull[k];
        const [bx, by] = hull[(k + 1) % hull.length];
        if ((ay <= y && by >= y) || (by <= y && ay >= y)) {
          if (ay === by) {
            xl = Math.min(xl, ax, bx);
            xr = Math.max(xr, ax, bx);
          } else {
            const x = ax + ((y - ay) / (by - ay)) * (bx - ax);
            xl = Math.min(xl, x);
            xr = Math.max(xr, x);
          }
        }
      }
      if (xl > xr) continue;
      const from = Math.max(0, Math.ceil(xl - 1e-9));
      const to = Math.min(W - 1, Math.floor(xr + 1e-9));
      for (let x = from; x <= to; x++) out[z * plane + y * W + x] = 1;
    }
  }
  return out;
}

/** Convex hull of points, counter-clockwise, without collinear points (Andrew's monotone chain). */
function monotoneChain(points: [number, number][]): [number, number][] {
  const p = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: [number, number], a: [number, number], b: [number, number]) =>
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: [number, number][] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: [number, number][] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop();
    upper.push(q);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/**
 * A brain mask (0/1, [D,H,W]) from one channel of a volume, [D,H,W] of non-negative intensities (for example one
 * channel of a preprocessed volume before normalisation). An empty or constant volume gives an empty mask.
 */
export function brainMask(
  image: ArrayLike<number>,
  shape: Shape3,
  options: SkullStripOptions = {},
): Uint8Array {
  const o = resolveSkullStrip(options);
  const [D, H, W] = shape;
  const n = D * H * W;
  if (image.length !== n)
    throw new RangeError(`brainMask: ${image.length} values for shape [${shape.join(',')}]`);
  const plane = H * W;
  const px = Math.max(H, W) / 256;
  const r = (v: number) => v * px;

  let max = 0;
  for (let i = 0; i < n; i++) if (image[i] > max) max = image[i];
  const head = new Uint8Array(n);
  if (!(max > 0)) return head;
  for (let i = 0; i < n; i++) head[i] = image[i] > 0.02 * max ? 1 : 0;
  const filledHead = fill(head, shape);
  const depth = sliceDistances(filledHead, shape, 0);

  let deepCount = 0;
  for (let i = 0; i < n; i++) if (depth[i] > r(o.depth)) deepCount++;
  const deep = new Float64Array(deepCount);
  for (let i = 0, k = 0; i < n; i++) if (depth[i] > r(o.depth)) deep[k++] = image[i];
  const level = o.threshold * (deepCount > 0 ? median(deep) : max / 2);
  const tissue = new Uint8Array(n);
  for (let i = 0; i < n; i++) tissue[i] = filledHead[i] && image[i] > level ? 1 : 0;

  const eroded = erode(tissue, shape, r(o.seedErosion));
  const seeds = new Uint8Array(n);
  const labels = labelComponents({ data: eroded, shape }, 4);
  const reachesDeep = new Uint8Array(labels.count + 1);
  for (let i = 0; i < n; i++)
    if (labels.labels[i] && depth[i] > 2 * r(o.depth)) reachesDeep[labels.labels[i]] = 1;
  for (let i = 0; i < n; i++) {
    if (reachesDeep[labels.labels[i]]) seeds[i] = 1;
  }
  // 3-D consistency: outwards from the slice with the most seed, every slice also takes the eroded pieces lying at
  // least half over its inner neighbour's seeds (dilated a little). Slices beyond the seeded ones get their brain
  // this way, and so do pieces too shallow to be seeds themselves: temporal lobes and cerebellum beside the skull
  // base, which lie under brain one slice up.
  const seedArea = new Float64Array(D);
  for (let i = 0; i < n; i++) seedArea[Math.floor(i / plane)] += seeds[i];
  let core = 0;
  for (let z = 1; z < D; z++) if (seedArea[z] > seedArea[core]) core = z;
  const adopt = (z: number, from: number) => {
    const near = dilate(seeds.subarray(from * plane, (from + 1) * plane), [1, H, W], r(2));
    const area = new Float64Array(labels.count + 1);
    const over = new Float64Array(labels.count + 1);
    for (let i = 0; i < plane; i++) {
      const l = labels.labels[z * plane + i];
      if (l) {
        area[l]++;
        if (near[i]) over[l]++;
      }
    }
    for (let i = 0; i < plane; i++) {
      const l = labels.labels[z * plane + i];
      if (l && over[l] >= 0.5 * area[l]) seeds[z * plane + i] = 1;
    }
  };
  if (seedArea[core] > 0) {
    for (let z = core + 1; z < D; z++) adopt(z, z - 1);
    for (let z = core - 1; z >= 0; z--) adopt(z, z + 1);
  }

  let brain = dilate(seeds, shape, r(o.seedErosion + o.growth));
  for (let i = 0; i < n; i++) brain[i] &= tissue[i];
  brain = fill(brain, shape);
  brain = erode(dilate(brain, shape, r(o.closing)), shape, r(o.closing));
  brain = fill(brain, shape);
  if (o.hull) brain = convexHullPerSlice(brain, shape);
  if (o.margin > 0) brain = dilate(brain, shape, r(o.margin));
  let brainCount = 0;
  let headCount = 0;
  for (let i = 0; i < n; i++) {
    brainCount += brain[i];
    headCount += filledHead[i];
  }
  return brainCount < o.minFraction * headCount ? filledHead : brain;
}
