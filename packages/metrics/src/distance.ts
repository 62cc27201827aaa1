import { firstNonZero, lastNonZero, wordView } from './scan.js';
import { type BinaryVolume, type Dims, dimsOf, type Spacing } from './volume.js';

/**
 * Lower envelope of the parabolas w²(p − q)² + f(q) over the sites `pos[0..n)` (increasing) with values
 * `val[0..n)` (finite): Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions", 2012. Leaves the
 * envelope's apexes in `v`, their values f(q) in `fv` and its breakpoints in `z` (z[0] = −∞, z[k] = +∞), and
 * returns k, the number of parabolas on it. The envelope at p is then w²(p − v[j])² + fv[j] for the j with
 * z[j] ≤ p ≤ z[j + 1]. Every caller builds the same envelope from the same sites, in the same arithmetic, so all
 * routes give bit-identical squared distances even with non-unit spacing.
 */
function lowerEnvelope(
  pos: Int32Array,
  val: Float64Array,
  off: number,
  stride: number,
  n: number,
  w2: number,
  v: Int32Array,
  fv: Float64Array,
  h: Float64Array,
  z: Float64Array,
): number {
  const inv = 1 / (2 * w2);
  let q = pos[0];
  let f = val[off];
  v[0] = q;
  fv[0] = f;
  h[0] = f + w2 * q * q;
  z[0] = Number.NEGATIVE_INFINITY;
  z[1] = Number.POSITIVE_INFINITY;
  let k = 0;
  for (let i = 1; i < n; i++) {
    q = pos[i];
    f = val[off + i * stride];
    const hq = f + w2 * q * q;
    let s = ((hq - h[k]) * inv) / (q - v[k]);
    // z[0] is −∞, so the last remaining parabola is never popped.
    while (s <= z[k]) {
      k--;
      s = ((hq - h[k]) * inv) / (q - v[k]);
    }
    k++;
    v[k] = q;
    fv[k] = f;
    h[k] = hq;
    z[k] = s;
  }
  z[k + 1] = Number.POSITIVE_INFINITY;
  return k + 1;
}

/** Scratch for {@link lowerEnvelope} over lines of up to `n` sites. */
class Envelope {
  readonly pos: Int32Array;
  readonly val: Float64Array;
  readonly v: Int32Array;
  readonly fv: Float64Array;
  readonly h: Float64Array;
  readonly z: Float64Array;
  constructor(n: number) {
    this.pos = new Int32Array(n);
    this.val = new Float64Array(n);
    this.v = new Int32Array(n);
    this.fv = new Float64Array(n);
    this.h = new Float64Array(n);
    this.z = new Float64Array(n + 1);
  }
  build(n: number, w2: number): number {
    return lowerEnvelope(this.pos, this.val, 0, 1, n, w2, this.v, this.fv, this.h, this.z);
  }
}

/**
 * Exact squared Euclidean distance transform along one line: the envelope of the finite samples of `f`, evaluated
 * at every p (Infinity everywhere when no sample is finite; an infinite sample is never on the envelope).
 */
function envelope1d(f: Float64Array, n: number, w2: number, out: Float64Array, env: Envelope): void {
  const { pos, val, v, fv, z } = env;
  let m = 0;
  for (let q = 0; q < n; q++) {
    if (f[q] === Number.POSITIVE_INFINITY) continue;
    pos[m] = q;
    val[m++] = f[q];
  }
  if (m === 0) {
    out.fill(Number.POSITIVE_INFINITY, 0, n);
    return;
  }
  env.build(m, w2);
  let j = 0;
  for (let p = 0; p < n; p++) {
    while (z[j + 1] < p) j++;
    const d = p - v[j];
    out[p] = w2 * d * d + fv[j];
  }
}

/**
 * Squared distances to the nearest feature voxel (non-zero in `features`) for every voxel of a C-order block,
 * by three separable passes (x, then y, then z). Infinity everywhere when there is no feature.
 */
export function squaredDistanceToFeatures(
  features: Uint8Array,
  dims: Dims,
  spacing: readonly number[],
): Float64Array {
  const { depth, height, width } = dims;
  const [sz, sy, sx] = spacing;
  const n = features.length;
  const d = new Float64Array(n);
  // Rows without features stay at ∞ through the first pass.
  d.fill(Number.POSITIVE_INFINITY);
  const longest = Math.max(depth, height, width);
  const f = new Float64Array(longest);
  const g = new Float64Array(longest);
  const env = new Envelope(longest);
  const plane = height * width;

  // Along x, the first pass has only 0 / ∞ inputs: two sweeps (nearest feature to the left, then to the right)
  // give the exact 1-D distance more cheaply than the envelope, and rows without features are skipped whole.
  const words = wordView(features);
  const sx2 = sx * sx;
  for (let r = 0; r < depth * height; r++) {
    const row = r * width;
    if (firstNonZero(features, words, row, row + width) < 0) continue;
    let prev = -1;
    for (let x = 0; x < width; x++) {
      if (features[row + x] !== 0) prev = x;
      f[x] = prev < 0 ? Number.POSITIVE_INFINITY : x - prev;
    }
    let after = -1;
    for (let x = width - 1; x >= 0; x--) {
      if (features[row + x] !== 0) after = x;
      const gap = after < 0 ? Number.POSITIVE_INFINITY : after - x;
      const best = gap < f[x] ? gap : f[x];
      d[row + x] = best * best * sx2;
    }
  }
  if (height > 1) {
    for (let zz = 0; zz < depth; zz++) {
      for (let x = 0; x < width; x++) {
        const base = zz * plane + x;
        let finite = false;
        for (let y = 0; y < height; y++) {
          const val = d[base + y * width];
          f[y] = val;
          if (val !== Number.POSITIVE_INFINITY) finite = true;
        }
        // A column with no feature in its slice stays at ∞.
        if (!finite) continue;
        envelope1d(f, height, sy * sy, g, env);
        for (let y = 0; y < height; y++) d[base + y * width] = g[y];
      }
    }
  }
  if (depth > 1) {
    for (let i = 0; i < plane; i++) {
      let finite = false;
      for (let zz = 0; zz < depth; zz++) {
        const val = d[i + zz * plane];
        f[zz] = val;
        if (val !== Number.POSITIVE_INFINITY) finite = true;
      }
      if (!finite) continue;
      envelope1d(f, depth, sz * sz, g, env);
      for (let zz = 0; zz < depth; zz++) d[i + zz * plane] = g[zz];
    }
  }
  return d;
}

/** What the x and y passes of a block of columns read and write (see {@link xyPassBlock}). */
interface XYPass {
  features: Uint8Array;
  fWords: Uint32Array | null;
  featureSlices: Int32Array;
  nfs: number;
  sliceRows: Int32Array;
  rowsOf: Int32Array;
  prevF: Int32Array;
  nextF: Int32Array;
  height: number;
  width: number;
  sx2: number;
  sy2: number;
  qy0: number;
  qy1: number;
  colIn: Float64Array;
  lines: Float64Array;
  env: Envelope;
}

/**
 * The x and y passes for columns [xb, xb + nb): per feature slice, the squared x distance of every feature row
 * (advancing prevF/nextF), then the 1-D lower envelope along y, leaving one contiguous z line per (y, column) in
 * `lines` for the z pass. The same integers and the same products as the whole-grid transform, so the results are
 * bit-identical to it.
 */
function xyPassBlock(p: XYPass, xb: number, nb: number): void {
  const { features, fWords, featureSlices, nfs, sliceRows, rowsOf, prevF, nextF, height, width } = p;
  const { sx2, sy2, qy0, qy1, colIn, lines } = p;
  const { v, fv, h, z } = p.env;
  const qh = qy1 - qy0;
  for (let s = 0; s < nfs; s++) {
    const k0 = sliceRows[s];
    const m = sliceRows[s + 1] - k0;
    const sliceBase = featureSlices[s] * height;
    for (let i = 0; i < m; i++) {
      const row = (sliceBase + rowsOf[k0 + i]) * width;
      let prev = prevF[k0 + i];
      let next = nextF[k0 + i];
      for (let c = 0; c < nb; c++) {
        const x = xb + c;
        if (next >= 0 && next < x) {
          const f = firstNonZero(features, fWords, row + x, row + width);
          next = f < 0 ? -1 : f - row;
        }
        if (next === x) prev = x;
        const left = prev < 0 ? Number.POSITIVE_INFINITY : x - prev;
        const gap = next < 0 ? Number.POSITIVE_INFINITY : next - x;
        const best = gap < left ? gap : left;
        colIn[c * height + i] = best * best * sx2;
      }
      prevF[k0 + i] = prev;
      nextF[k0 + i] = next;
    }
    const rowPos = rowsOf.subarray(k0, k0 + m);
    for (let c = 0; c < nb; c++) {
      lowerEnvelope(rowPos, colIn, c * height, 1, m, sy2, v, fv, h, z);
      let j = 0;
      const at = (c * nfs + s) * qh - qy0;
      for (let y = qy0; y < qy1; y++) {
        while (z[j + 1] < y) j++;
        const d = y - v[j];
        lines[at + y] = sy2 * d * d + fv[j];
      }
    }
  }
}

/**
 * One scan over the rows of both volumes: which rows hold a feature, the slices holding one (compacted, so the
 * work arrays have one plane per such slice only), and the bounding box
 * [qz0, qz1) × [qy0, qy1) × [qx0, qx1) of the query voxels.
 */
function scanRows(features: Uint8Array, queries: Uint8Array, dims: Dims) {
  const { depth, height, width } = dims;
  const fWords = wordView(features);
  const qWords = wordView(queries);
  const featureRow = new Uint8Array(depth * height);
  const sliceOf = new Int32Array(depth).fill(-1);
  const featureSlices = new Int32Array(depth);
  let nfs = 0;
  let qz0 = depth;
  let qz1 = 0;
  let qy0 = height;
  let qy1 = 0;
  let qx0 = width;
  let qx1 = 0;
  for (let zz = 0; zz < depth; zz++) {
    for (let y = 0; y < height; y++) {
      const r = zz * height + y;
      const row = r * width;
      if (firstNonZero(features, fWords, row, row + width) >= 0) {
        featureRow[r] = 1;
        if (sliceOf[zz] < 0) {
          sliceOf[zz] = nfs;
          featureSlices[nfs++] = zz;
        }
      }
      const a = firstNonZero(queries, qWords, row, row + width);
      if (a < 0) continue;
      const b = lastNonZero(queries, qWords, a, row + width);
      if (zz < qz0) qz0 = zz;
      qz1 = zz + 1;
      if (y < qy0) qy0 = y;
      if (y + 1 > qy1) qy1 = y + 1;
      if (a - row < qx0) qx0 = a - row;
      if (b - row + 1 > qx1) qx1 = b - row + 1;
    }
  }
  return { fWords, qWords, featureRow, featureSlices, nfs, qz0, qz1, qy0, qy1, qx0, qx1 };
}

/**
 * The feature rows of each feature slice — rowsOf[sliceRows[s] … sliceRows[s + 1]) are the y of slice s,
 * ascending — and, per feature row, the nearest feature left of column `qx0` (prevF) and at or right of it
 * (nextF), −1 for none. The x pass visits columns left to right from qx0, so these advance and no x-pass array is
 * stored.
 */
function featureRowIndex(
  features: Uint8Array,
  fWords: Uint32Array | null,
  featureRow: Uint8Array,
  featureSlices: Int32Array,
  nfs: number,
  dims: { height: number; width: number },
  qx0: number,
): { sliceRows: Int32Array; rowsOf: Int32Array; prevF: Int32Array; nextF: Int32Array } {
  const { height, width } = dims;
  const sliceRows = new Int32Array(nfs + 1);
  const rowsOf = new Int32Array(featureRow.length);
  let nfr = 0;
  for (let s = 0; s < nfs; s++) {
    sliceRows[s] = nfr;
    for (let y = 0; y < height; y++) if (featureRow[featureSlices[s] * height + y] !== 0) rowsOf[nfr++] = y;
  }
  sliceRows[nfs] = nfr;
  const prevF = new Int32Array(nfr);
  const nextF = new Int32Array(nfr);
  for (let s = 0; s < nfs; s++) {
    for (let k = sliceRows[s]; k < sliceRows[s + 1]; k++) {
      const row = (featureSlices[s] * height + rowsOf[k]) * width;
      let prev = -1;
      for (let x = qx0 - 1; x >= 0; x--) {
        if (features[row + x] !== 0) {
          prev = x;
          break;
        }
      }
      prevF[k] = prev;
      const next = firstNonZero(features, fWords, row + qx0, row + width);
      nextF[k] = next < 0 ? -1 : next - row;
    }
  }
  return { sliceRows, rowsOf, prevF, nextF };
}

/**
 * The y and z passes run block by block of columns: the y pass of every feature slice for a block leaves its values
 * in `lines`, one contiguous z line per (y, x), small enough to stay in cache for the z pass that follows. Walking a
 * column or a z line of a whole-block array instead misses the cache and TLB on most accesses.
 */
const XY_BLOCK = 16;

/** The x/y passes' working set for a scan: the feature-row index, the envelope scratch and the block buffers. */
function xyPassFor(
  features: Uint8Array,
  dims: Dims,
  scan: ReturnType<typeof scanRows>,
  sx2: number,
  sy2: number,
): { xy: XYPass; slicePos: Int32Array } {
  const { depth, height, width } = dims;
  const { fWords, featureRow, featureSlices, nfs, qy0, qy1, qx0 } = scan;
  const { sliceRows, rowsOf, prevF, nextF } = featureRowIndex(
    features,
    fWords,
    featureRow,
    featureSlices,
    nfs,
    { height, width },
    qx0,
  );
  const env = new Envelope(depth > height ? depth : height);
  const xy: XYPass = {
    features,
    fWords,
    featureSlices,
    nfs,
    sliceRows,
    rowsOf,
    prevF,
    nextF,
    height,
    width,
    sx2,
    sy2,
    qy0,
    qy1,
    colIn: new Float64Array(XY_BLOCK * height),
    lines: new Float64Array((qy1 - qy0) * XY_BLOCK * nfs),
    env,
  };
  return { xy, slicePos: featureSlices.subarray(0, nfs) };
}

/**
 * The smallest sz²·(zq − slice)² + lines[off + i·qh] over the feature slices, searched outward from slice `near`
 * (the last at or before zq) and stopped once the slice gap alone exceeds the best so far: near a surface a handful
 * of slices instead of an envelope over all of them.
 */
function outwardMin(
  zq: number,
  near: number,
  slicePos: Int32Array,
  lines: Float64Array,
  off: number,
  qh: number,
  nfs: number,
  sz2: number,
): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = near; i >= 0; i--) {
    const d = zq - slicePos[i];
    const g = sz2 * d * d;
    if (g >= best) break;
    const t = g + lines[off + i * qh];
    if (t < best) best = t;
  }
  for (let i = near + 1; i < nfs; i++) {
    const d = slicePos[i] - zq;
    const g = sz2 * d * d;
    if (g >= best) break;
    const t = g + lines[off + i * qh];
    if (t < best) best = t;
  }
  return best;
}

/**
 * Distances from every query voxel (non-zero in `queries`) to the nearest feature voxel (non-zero in `features`),
 * in raster order of the queries; Infinity when there is no feature. Bit for bit the square roots of
 * {@link squaredDistanceToFeatures} at the queries — the same envelopes from the same sites — but each pass
 * computes only what a later pass or a query reads:
 * - along x, only rows holding a feature, and only the columns spanned by the queries;
 * - along y, only slices holding a feature, evaluated only on the rows spanned by the queries;
 * - along z, only lines holding a query, evaluated only at those queries.
 * Surfaces are thin, so this skips most of the block: a large tumour's surface is a shell, and the few queries of
 * a small truth surface never pay for the whole grid of a dense, noisy prediction surface.
 */
export function distancesAtQueries(
  features: Uint8Array,
  queries: Uint8Array,
  dims: Dims,
  spacing: readonly number[],
): Float64Array {
  const { height, width } = dims;
  const [sz, sy, sx] = spacing;
  const scan = scanRows(features, queries, dims);
  const { qWords, nfs, qz0, qz1, qy0, qy1, qx0, qx1 } = scan;
  if (qz1 === 0) return new Float64Array(0);

  // Queries grouped by (y, x) line, ascending z within a line (a counting sort), with their raster rank.
  const qh = qy1 - qy0;
  const qw = qx1 - qx0;
  const nl = qh * qw;
  const lineStart = new Int32Array(nl + 1);
  for (let zz = qz0; zz < qz1; zz++) {
    for (let y = qy0; y < qy1; y++) {
      const row = (zz * height + y) * width;
      const l = (y - qy0) * qw + 1 - qx0 - row;
      for (let i = row + qx0; i < row + qx1; i++) {
        if (qWords !== null && (i & 3) === 0 && i + 4 <= row + qx1 && qWords[i >> 2] === 0) {
          i += 3;
          continue;
        }
        if (queries[i] !== 0) lineStart[l + i]++;
      }
    }
  }
  for (let l = 0; l < nl; l++) lineStart[l + 1] += lineStart[l];
  const nq = lineStart[nl];
  const out = new Float64Array(nq);
  if (nfs === 0) return out.fill(Number.POSITIVE_INFINITY);
  const cursor = lineStart.slice(0, nl);
  const queryZ = new Int32Array(nq);
  const queryRank = new Int32Array(nq);
  let rank = 0;
  for (let zz = qz0; zz < qz1; zz++) {
    for (let y = qy0; y < qy1; y++) {
      const row = (zz * height + y) * width;
      const l = (y - qy0) * qw - qx0 - row;
      for (let i = row + qx0; i < row + qx1; i++) {
        if (qWords !== null && (i & 3) === 0 && i + 4 <= row + qx1 && qWords[i >> 2] === 0) {
          i += 3;
          continue;
        }
        if (queries[i] === 0) continue;
        const at = cursor[l + i]++;
        queryZ[at] = zz;
        queryRank[at] = rank++;
      }
    }
  }

  const sx2 = sx * sx;
  const sy2 = sy * sy;
  const sz2 = sz * sz;
  // Squared spacings that are whole numbers keep every squared distance an exact integer (far below 2^53).
  const exact = Number.isInteger(sx2) && Number.isInteger(sy2) && Number.isInteger(sz2);
  const { xy, slicePos } = xyPassFor(features, dims, scan, sx2, sy2);
  const { env, lines } = xy;
  const { v, fv, h, z } = env;
  for (let xb = qx0; xb < qx1; xb += XY_BLOCK) {
    const nb = qx1 - xb < XY_BLOCK ? qx1 - xb : XY_BLOCK;
    xyPassBlock(xy, xb, nb);
    for (let c = 0; c < nb; c++) {
      for (let y = qy0; y < qy1; y++) {
        const l = (y - qy0) * qw + xb - qx0 + c;
        const from = lineStart[l];
        const to = lineStart[l + 1];
        if (from === to) continue;
        const off = c * nfs * qh + y - qy0;
        if (exact && (to - from) * 4 <= nfs) {
          // Integer arithmetic: the minimum over the feature slices is the envelope's value whichever site attains
          // it, so search outward from each query and stop once the slice gap alone exceeds the best so far —
          // near a surface that is a handful of slices instead of an envelope over all of them. Lines crowded
          // with queries (a noisy surface) still amortise one envelope better.
          let near = 0;
          for (let p = from; p < to; p++) {
            const zq = queryZ[p];
            while (near + 1 < nfs && slicePos[near + 1] <= zq) near++;
            const best = outwardMin(zq, near, slicePos, lines, off, qh, nfs, sz2);
            out[queryRank[p]] = Math.sqrt(best);
          }
          continue;
        }
        lowerEnvelope(slicePos, lines, off, qh, nfs, sz2, v, fv, h, z);
        let j = 0;
        for (let p = from; p < to; p++) {
          const zq = queryZ[p];
          while (z[j + 1] < zq) j++;
          const d = zq - v[j];
          out[queryRank[p]] = Math.sqrt(sz2 * d * d + fv[j]);
        }
      }
    }
  }
  return out;
}

/** The largest squared distance between two voxels of a block: counts of squared distances need one more slot. */
export function maxSquaredDistance(dims: Dims, squares: readonly [number, number, number]): number {
  const [sz2, sy2, sx2] = squares;
  const d = dims.depth - 1;
  const h = dims.height - 1;
  const w = dims.width - 1;
  return sz2 * d * d + sy2 * h * h + sx2 * w * w;
}

/**
 * Squared distances from the query voxels to the nearest feature voxel, counted rather than listed:
 * `counts[d²]` is incremented once per query, in no particular order, by the same separable transform as
 * {@link distancesAtQueries} (whole-number squared spacings `squares` only, where every squared distance is an exact
 * integer; `counts` must hold {@link maxSquaredDistance} + 1 slots). Without a list in raster order there is no
 * sorting of the queries into lines and no scattered output: each z line reads its queries straight from the mask,
 * which is what a dense, noisy surface with millions of voxels needs. Returns false, counting nothing, when there is
 * no feature.
 */
export function countSquaredDistances(
  features: Uint8Array,
  queries: Uint8Array,
  dims: Dims,
  squares: readonly [number, number, number],
  counts: Int32Array,
): boolean {
  const { depth, height, width } = dims;
  const [sz2, sy2, sx2] = squares;
  const plane = height * width;
  const scan = scanRows(features, queries, dims);
  const { nfs, qz0, qz1, qy0, qy1, qx0, qx1 } = scan;
  if (nfs === 0) return false;
  if (qz1 === 0) return true;
  const qh = qy1 - qy0;

  // The x and y passes exactly as distancesAtQueries: a block of columns at a time, into `lines`.
  const { xy, slicePos } = xyPassFor(features, dims, scan, sx2, sy2);
  const { env, lines } = xy;
  const { v, fv, h, z } = env;
  const zs = new Int32Array(depth);
  for (let xb = qx0; xb < qx1; xb += XY_BLOCK) {
    const nb = qx1 - xb < XY_BLOCK ? qx1 - xb : XY_BLOCK;
    xyPassBlock(xy, xb, nb);
    // Along z, each line's queries are read from the mask: rows y of the block share their cache lines.
    for (let y = qy0; y < qy1; y++) {
      for (let c = 0; c < nb; c++) {
        let nz = 0;
        for (let zz = qz0, i = (qz0 * height + y) * width + xb + c; zz < qz1; zz++, i += plane) {
          // Without a branch: a noisy surface would mispredict half of them.
          zs[nz] = zz;
          nz += +(queries[i] !== 0);
        }
        if (nz === 0) continue;
        const off = c * nfs * qh + y - qy0;
        if (nz * 4 <= nfs) {
          // Few queries: search outward from each, as distancesAtQueries does.
          let near = 0;
          for (let p = 0; p < nz; p++) {
            const zq = zs[p];
            while (near + 1 < nfs && slicePos[near + 1] <= zq) near++;
            const best = outwardMin(zq, near, slicePos, lines, off, qh, nfs, sz2);
            counts[best | 0]++;
          }
          continue;
        }
        lowerEnvelope(slicePos, lines, off, qh, nfs, sz2, v, fv, h, z);
        let j = 0;
        for (let p = 0; p < nz; p++) {
          const zq = zs[p];
          while (z[j + 1] < zq) j++;
          const d = zq - v[j];
          counts[(sz2 * d * d + fv[j]) | 0]++;
        }
      }
    }
  }
  return true;
}

/** Spacing checked and expanded to [sz, sy, sx] (sz unused for an image). Defaults to unit spacing. */
export function resolveSpacing(
  fn: string,
  dims: Dims,
  spacing: Spacing | undefined,
): [number, number, number] {
  if (spacing === undefined) return [1, 1, 1];
  const want = dims.is3d ? 3 : 2;
  if (spacing.length !== want || !spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new Error(`${fn}: spacing [${spacing.join(',')}] must be ${want} positive finite numbers`);
  }
  return dims.is3d ? [spacing[0], spacing[1], spacing[2]] : [1, spacing[0], spacing[1]];
}

/**
 * Euclidean distance from every voxel to the nearest foreground voxel of `features` (0 on the foreground,
 * Infinity everywhere when it is empty). Equals `scipy.ndimage.distance_transform_edt(features == 0, sampling)`.
 */
export function distanceTransform(features: BinaryVolume, spacing?: Spacing): Float64Array {
  const dims = dimsOf('distanceTransform', 'features', features);
  const sp = resolveSpacing('distanceTransform', dims, spacing);
  const d = squaredDistanceToFeatures(features.data, dims, sp);
  for (let i = 0; i < d.length; i++) d[i] = Math.sqrt(d[i]);
  return d;
}
