import { firstNonZero, firstZero, wordView } from './scan.js';
import { type BinaryVolume, type Dims, dimsOf, formatShape, numel } from './volume.js';

/**
 * Neighbourhoods: 4 and 8 are in-plane (within one slice), 6 / 18 / 26 are 3-D (faces / + edges / + corners).
 * On a 3-D volume 4 and 8 therefore give per-slice components, which is what 2-D post-processing of a slice stack
 * needs. A 2-D image accepts only 4 and 8.
 */
export type Connectivity = 4 | 8 | 6 | 18 | 26;

export const CONNECTIVITIES: readonly Connectivity[] = [4, 8, 6, 18, 26];

/** SciPy's default (`generate_binary_structure(ndim, 1)`): 4 for an image, 6 for a volume. */
export function defaultConnectivity(dims: Dims): Connectivity {
  return dims.is3d ? 6 : 4;
}

export function isPlanar(c: Connectivity): boolean {
  return c === 4 || c === 8;
}

/** Checks a connectivity against the mask it is used on; returns the default when none is given. */
export function resolveConnectivity(
  fn: string,
  dims: Dims,
  shape: readonly number[],
  c: Connectivity | undefined,
): Connectivity {
  if (c === undefined) return defaultConnectivity(dims);
  if (!CONNECTIVITIES.includes(c)) throw new Error(`${fn}: connectivity ${c} is not one of 4, 8, 6, 18, 26`);
  if (!dims.is3d && !isPlanar(c)) {
    throw new Error(`${fn}: connectivity ${c} needs a 3-D mask [D,H,W], got shape ${formatShape(shape)}`);
  }
  return c;
}

/** All neighbour offsets [dz, dy, dx] (origin excluded) of a connectivity. */
export function neighbourOffsets(c: Connectivity): [number, number, number][] {
  const out: [number, number, number][] = [];
  const zr = isPlanar(c) ? 0 : 1;
  // Distance in "number of non-zero axes" selects faces (1), edges (2) and corners (3).
  const maxNonZero = c === 4 || c === 6 ? 1 : c === 18 ? 2 : 3;
  for (let dz = -zr; dz <= zr; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const nz = (dz !== 0 ? 1 : 0) + (dy !== 0 ? 1 : 0) + (dx !== 0 ? 1 : 0);
        if (nz === 0 || nz > maxNonZero) continue;
        out.push([dz, dy, dx]);
      }
    }
  }
  return out;
}

/** Result of labelling: `labels[i]` is 0 for background or 1..count; `sizes[k]` voxels carry label k (sizes[0] = 0). */
export interface Labeling {
  readonly labels: Int32Array;
  readonly count: number;
  readonly sizes: Int32Array;
  readonly shape: BinaryVolume['shape'];
}

function find(parent: Int32Array, a: number): number {
  let r = a;
  while (parent[r] !== r) r = parent[r];
  // Path compression keeps later finds short on long snake-like components.
  while (parent[a] !== r) {
    const next = parent[a];
    parent[a] = r;
    a = next;
  }
  return r;
}

/**
 * Labels connected components like `scipy.ndimage.label`: labels are numbered in raster order of each component's
 * first voxel, so "lowest label" means "first met scanning z, then y, then x".
 */
export function labelComponents(mask: BinaryVolume, connectivity?: Connectivity): Labeling {
  const runs = labelRuns(mask, connectivity, 'labelComponents');
  const labels = new Int32Array(mask.data.length);
  for (let p = 0; p < runs.n; p++) labels.fill(runs.label[p], runs.start[p], runs.end[p]);
  return { labels, count: runs.count, sizes: runs.sizes, shape: mask.shape };
}

/**
 * A labelling by runs: the foreground of each row as maximal runs [start, end) of flat indices, in raster order,
 * each with its final label; `rowRuns[r]` … `rowRuns[r + 1]` are the runs of row r (r = z·height + y).
 */
interface RunLabeling {
  readonly n: number;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly label: Int32Array;
  readonly rowRuns: Int32Array;
  readonly count: number;
  readonly sizes: Int32Array;
  readonly shape: BinaryVolume['shape'];
}

/**
 * Union-find over runs rather than voxels: a tumour row is one run, so a large solid component costs a few
 * thousand unions instead of millions of voxel visits, and the voxels themselves are only read, a word at a time.
 * Runs are numbered in raster order and the smaller number always becomes the root, so the root of a component is
 * its first run — the one holding its first voxel — and numbering roots in order gives SciPy's labels.
 * Two runs in rows (z, y) and (z + dz, y + dy) touch when their column ranges overlap, widened by one column on
 * each side when the connectivity includes the diagonal step (dz, dy, ±1).
 */
function labelRuns(mask: BinaryVolume, connectivity: Connectivity | undefined, fn: string): RunLabeling {
  const dims = dimsOf(fn, 'mask', mask);
  const conn = resolveConnectivity(fn, dims, mask.shape, connectivity);
  const { depth, height, width } = dims;
  const src = mask.data;
  const words = wordView(src);
  const rows = depth * height;

  // Earlier rows a run can touch, as (dz, dy) with the widening: 1 when (dz, dy, ±1) is a neighbour too.
  const nbDz: number[] = [];
  const nbDy: number[] = [];
  const nbWide: number[] = [];
  for (const [dz, dy, dx] of neighbourOffsets(conn)) {
    if (!(dz < 0 || (dz === 0 && dy < 0))) continue;
    let k = 0;
    while (k < nbDz.length && (nbDz[k] !== dz || nbDy[k] !== dy)) k++;
    if (k === nbDz.length) {
      nbDz.push(dz);
      nbDy.push(dy);
      nbWide.push(0);
    }
    if (dx !== 0) nbWide[k] = 1;
  }
  const nnb = nbDz.length;

  let start = new Int32Array(1024);
  let end = new Int32Array(1024);
  let parent = new Int32Array(1024);
  const rowRuns = new Int32Array(rows + 1);
  let n = 0;
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      const r = z * height + y;
      const row = r * width;
      const rowEnd = row + width;
      rowRuns[r] = n;
      let i = firstNonZero(src, words, row, rowEnd);
      while (i >= 0) {
        const e = firstZero(src, words, i + 1, rowEnd);
        if (n === start.length) {
          start = grow(start);
          end = grow(end);
          parent = grow(parent);
        }
        start[n] = i;
        end[n] = e;
        parent[n] = n;
        n++;
        i = e < rowEnd ? firstNonZero(src, words, e + 1, rowEnd) : -1;
      }
      const own = rowRuns[r];
      if (own === n) continue;
      for (let k = 0; k < nnb; k++) {
        const nz = z + nbDz[k];
        const ny = y + nbDy[k];
        if (nz < 0 || ny < 0 || ny >= height) continue;
        const nr = nz * height + ny;
        let j = rowRuns[nr];
        const jEnd = rowRuns[nr + 1];
        if (j === jEnd) continue;
        // Column ranges: shift the other row's runs onto this row's indices.
        const shift = row - nr * width;
        const wide = nbWide[k];
        for (let p = own; p < n; p++) {
          const a0 = start[p] - wide;
          const a1 = end[p] + wide;
          while (j < jEnd && end[j] + shift <= a0) j++;
          if (j === jEnd || start[j] + shift >= a1) continue;
          // The root of p changes only through the unions below, to the smaller root: track it.
          let rp = find(parent, p);
          for (let q = j; q < jEnd && start[q] + shift < a1; q++) {
            const rq = find(parent, q);
            if (rp < rq) parent[rq] = rp;
            else if (rq < rp) {
              parent[rp] = rq;
              rp = rq;
            }
          }
        }
      }
    }
  }
  rowRuns[rows] = n;

  // Roots in increasing run order get consecutive final labels: that is raster order of first voxels.
  const label = new Int32Array(n);
  let count = 0;
  for (let p = 0; p < n; p++) {
    const r = find(parent, p);
    label[p] = r === p ? ++count : label[r];
  }
  const sizes = new Int32Array(count + 1);
  for (let p = 0; p < n; p++) sizes[label[p]] += end[p] - start[p];
  return { n, start, end, label, rowRuns, count, sizes, shape: mask.shape };
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Number of connected components. */
export function countComponents(mask: BinaryVolume, connectivity?: Connectivity): number {
  return labelComponents(mask, connectivity).count;
}

function keepLabels(runs: RunLabeling, keep: Uint8Array): BinaryVolume {
  const out = new Uint8Array(numel(runs.shape));
  const { start, end, label } = runs;
  for (let p = 0; p < runs.n; p++) {
    if (keep[label[p]] === 0) continue;
    const e = end[p];
    // A call to fill costs more than a short run (a noisy mask has a million runs of one or two voxels).
    if (e - start[p] > 16) out.fill(1, start[p], e);
    else for (let i = start[p]; i < e; i++) out[i] = 1;
  }
  return { data: out, shape: runs.shape };
}

/** Labels ordered by size, largest first; equal sizes keep the lower (earlier in raster order) label first. */
function labelsBySize(lab: { count: number; sizes: Int32Array }): number[] {
  const order: number[] = [];
  for (let k = 1; k <= lab.count; k++) order.push(k);
  return order.sort((a, b) => lab.sizes[b] - lab.sizes[a] || a - b);
}

/**
 * Keeps the `k` largest components. Ties are broken by the lower label (first in raster order), the choice of
 * `np.argmax(np.bincount(labels.flat)[1:]) + 1` in the reference for k = 1.
 */
export function keepLargestComponents(
  mask: BinaryVolume,
  k: number,
  connectivity?: Connectivity,
): BinaryVolume {
  if (!Number.isInteger(k) || k < 0)
    throw new Error(`keepLargestComponents: k must be a non-negative integer, got ${k}`);
  const runs = labelRuns(mask, connectivity, 'keepLargestComponents');
  const keep = new Uint8Array(runs.count + 1);
  if (k === 1 && runs.count > 0) {
    let best = 1;
    for (let l = 2; l <= runs.count; l++) if (runs.sizes[l] > runs.sizes[best]) best = l;
    keep[best] = 1;
  } else {
    for (const l of labelsBySize(runs).slice(0, k)) keep[l] = 1;
  }
  return keepLabels(runs, keep);
}

/** Keeps the largest component (lowest label on ties); an empty mask stays empty. */
export function keepLargestComponent(mask: BinaryVolume, connectivity?: Connectivity): BinaryVolume {
  return keepLargestComponents(mask, 1, connectivity);
}

/** Keeps components of at least `minSize` voxels. */
export function keepComponentsAtLeast(
  mask: BinaryVolume,
  minSize: number,
  connectivity?: Connectivity,
): BinaryVolume {
  if (!Number.isFinite(minSize))
    throw new Error(`keepComponentsAtLeast: minSize must be finite, got ${minSize}`);
  const runs = labelRuns(mask, connectivity, 'keepComponentsAtLeast');
  const keep = new Uint8Array(runs.count + 1);
  for (let l = 1; l <= runs.count; l++) keep[l] = runs.sizes[l] >= minSize ? 1 : 0;
  return keepLabels(runs, keep);
}

/**
 * Removes components with fewer than `minSize` voxels, like `skimage.morphology.remove_small_objects(mask,
 * min_size)`; connectivity 4 / 6 there is `connectivity=1`, 8 / 26 is the full neighbourhood.
 */
export function removeSmallObjects(
  mask: BinaryVolume,
  minSize: number,
  connectivity?: Connectivity,
): BinaryVolume {
  return keepComponentsAtLeast(mask, minSize, connectivity);
}

/** In each slice separately, keeps the largest 2-D component (4- or 8-connected; lowest label on ties). */
export function keepLargestComponentPerSlice(mask: BinaryVolume, connectivity: 4 | 8 = 4): BinaryVolume {
  if (connectivity !== 4 && connectivity !== 8) {
    throw new Error(`keepLargestComponentPerSlice: connectivity must be 4 or 8, got ${connectivity}`);
  }
  const dims = dimsOf('keepLargestComponentPerSlice', 'mask', mask);
  // Planar labels never cross slices, so one labelling of the whole stack serves every slice.
  const runs = labelRuns(mask, connectivity, 'keepLargestComponentPerSlice');
  const best = new Int32Array(dims.depth);
  for (let z = 0; z < dims.depth; z++) {
    for (let p = runs.rowRuns[z * dims.height]; p < runs.rowRuns[(z + 1) * dims.height]; p++) {
      const l = runs.label[p];
      // Runs come in raster order, so a strict ">" keeps the first of equal-size components.
      if (best[z] === 0 || runs.sizes[l] > runs.sizes[best[z]]) best[z] = l;
    }
  }
  const keep = new Uint8Array(runs.count + 1);
  for (const l of best) if (l !== 0) keep[l] = 1;
  return keepLabels(runs, keep);
}
