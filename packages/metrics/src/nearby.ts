import type { Box, Dims } from './volume.js';

/**
 * Exact surface distances near a surface, for whole-number squared spacings.
 *
 * Most surface voxels of a segmentation lie within a few voxels of the other surface, and a percentile such as HD95
 * needs exact values only up to its own rank. Here each query looks for its nearest feature directly: the nearest
 * feature of every row along x is tabulated once, and a query visits the rows around it in order of their (z, y)
 * distance, stopping as soon as the row distance alone reaches the best found. With whole-number squared spacings
 * every squared distance is an exact integer, so the minimum found this way is the very number the separable
 * transform produces, bit for bit. Queries farther than a fixed radius are reported as Infinity and left to the
 * separable transform.
 *
 * Blocks here are C-order masks whose rows are padded to `stride` bytes (a multiple of 4, with at least one zero
 * byte after each row) and hold only 0 and 1, so that whole rows can be read four voxels at a time.
 */

/** Whether typed arrays are little-endian here (word-level byte tricks below assume it). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Row stride of a padded block of the given width: a multiple of 4 with at least one spare byte. */
export function paddedStride(width: number): number {
  return (width + 4) & ~3;
}

/** Squared spacings [sz², sy², sx²] when they are all whole numbers (exact integer squared distances), else null. */
export function wholeSquares(spacing: readonly number[]): [number, number, number] | null {
  const s = [spacing[0] * spacing[0], spacing[1] * spacing[1], spacing[2] * spacing[2]];
  if (!s.every((v) => Number.isInteger(v) && v <= 1 << 20)) return null;
  return [s[0], s[1], s[2]];
}

/**
 * The box of a mask as a padded block (rows of `stride` bytes, the spare bytes zero), foreground as 1 whatever
 * non-zero value it had.
 */
export function cropPadded(src: Uint8Array, dims: Dims, box: Box, stride: number): Uint8Array {
  const bw = box.x1 - box.x0;
  const rows = (box.z1 - box.z0) * (box.y1 - box.y0);
  const out = new Uint8Array(rows * stride);
  const ow = new Uint32Array(out.buffer, 0, out.length >> 2);
  if (dims.width % 4 === 0 && box.x0 % 4 === 0 && bw % 4 === 0 && src.byteOffset % 4 === 0) {
    // Rows start on word boundaries in both: copy words, each byte made 0 / 1 on the way (per byte, whatever the
    // byte order: bit 7 of (b & 0x7f) + 0x7f is set exactly when b & 0x7f is non-zero).
    const sw = new Uint32Array(src.buffer, src.byteOffset, src.length >> 2);
    const s4 = stride >> 2;
    let at = 0;
    for (let z = box.z0; z < box.z1; z++) {
      for (let y = box.y0; y < box.y1; y++) {
        const from = ((z * dims.height + y) * dims.width + box.x0) >> 2;
        for (let k = 0; k < bw >> 2; k++) {
          const w = sw[from + k];
          if (w !== 0) ow[at + k] = ((((w & 0x7f7f7f7f) + 0x7f7f7f7f) | w) & 0x80808080) >>> 7;
        }
        at += s4;
      }
    }
    return out;
  }
  let at = 0;
  for (let z = box.z0; z < box.z1; z++) {
    for (let y = box.y0; y < box.y1; y++) {
      const row = (z * dims.height + y) * dims.width;
      out.set(src.subarray(row + box.x0, row + box.x0 + bw), at);
      at += stride;
    }
  }
  for (let w = 0; w < ow.length; w++) {
    if ((ow[w] & 0xfefefefe) === 0) continue;
    for (let i = w << 2; i < (w << 2) + 4; i++) if (out[i] !== 0) out[i] = 1;
  }
  return out;
}

/**
 * Surface of a padded block: foreground voxels with a face neighbour (6 in a volume, 4 in an image, `is3d` false)
 * that is background or outside the block — `mask XOR binary_erosion(mask, cross)` with border value 0. Four voxels
 * at a time: a voxel is interior when it and its face neighbours are all 1.
 */
export function surfacePadded(
  mask: Uint8Array,
  depth: number,
  height: number,
  stride: number,
  is3d = true,
): Uint8Array {
  const out = new Uint8Array(mask.length);
  const m4 = stride >> 2;
  const p4 = is3d ? height * m4 : 0;
  if (!LITTLE_ENDIAN) {
    const plane = height * stride;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) continue;
      const y = Math.floor(i / stride) % height;
      const z = Math.floor(i / plane);
      const interior =
        i % stride > 0 &&
        mask[i - 1] !== 0 &&
        mask[i + 1] !== 0 &&
        y > 0 &&
        y < height - 1 &&
        mask[i - stride] !== 0 &&
        mask[i + stride] !== 0 &&
        (!is3d || (z > 0 && z < depth - 1 && mask[i - plane] !== 0 && mask[i + plane] !== 0));
      out[i] = interior ? 0 : 1;
    }
    return out;
  }
  const w = new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2);
  const o = new Uint32Array(out.buffer, 0, out.length >> 2);
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      const base = (z * height + y) * m4;
      if ((is3d && (z === 0 || z === depth - 1)) || y === 0 || y === height - 1) {
        // Every voxel of a boundary row has a neighbour outside the block.
        for (let k = base; k < base + m4; k++) o[k] = w[k];
        continue;
      }
      let prev = 0;
      let cur = w[base];
      for (let k = base; k < base + m4; k++) {
        const next = k + 1 < base + m4 ? w[k + 1] : 0;
        if (cur !== 0) {
          // Byte j of a word is column 4k + j: `<< 8` brings each voxel's left neighbour into its lane. In an
          // image p4 is 0 and the slice "neighbours" are the voxel itself.
          const left = (cur << 8) | (prev >>> 24);
          const right = (cur >>> 8) | (next << 24);
          const interior = cur & left & right & w[k - m4] & w[k + m4] & w[k - p4] & w[k + p4];
          o[k] = cur ^ interior;
        }
        prev = cur;
        cur = next;
      }
    }
  }
  return out;
}

/** The (z, y) row offsets a query visits, nearest first, out to `radius2`; see {@link nearbySearch}. */
interface RowOffsets {
  readonly dz: Int32Array;
  readonly dy: Int32Array;
  readonly len2: Float64Array;
  readonly n: number;
}

function rowOffsets(depth: number, height: number, sz2: number, sy2: number, radius2: number): RowOffsets {
  const rz = Math.min(depth - 1, Math.floor(Math.sqrt(radius2 / sz2)));
  const ry = Math.min(height - 1, Math.floor(Math.sqrt(radius2 / sy2)));
  const list: [number, number, number][] = [];
  for (let dz = -rz; dz <= rz; dz++) {
    for (let dy = -ry; dy <= ry; dy++) {
      const l = sz2 * dz * dz + sy2 * dy * dy;
      if (l <= radius2) list.push([l, dz, dy]);
    }
  }
  list.sort((a, b) => a[0] - b[0]);
  const n = list.length;
  const out = { dz: new Int32Array(n), dy: new Int32Array(n), len2: new Float64Array(n), n };
  for (let k = 0; k < n; k++) {
    out.len2[k] = list[k][0];
    out.dz[k] = list[k][1];
    out.dy[k] = list[k][2];
  }
  return out;
}

/** The largest squared search radius: the row table stores squared column gaps up to it in bytes. */
const MAX_RADIUS2 = 254;

/**
 * The search radius (squared, in spacing units) for a spacing: as far as keeps a query's row visits to about
 * `rows`, and at most {@link MAX_RADIUS2}.
 */
export function nearbyRadius2(squares: readonly [number, number, number], rows = 200): number {
  const [sz2, sy2] = squares;
  // The disc of row offsets within r holds about π r² / (sz sy) rows.
  const r2 = Math.floor((rows * Math.sqrt(sz2 * sy2)) / Math.PI);
  return Math.max(0, Math.min(r2, MAX_RADIUS2));
}

/** A padded block's geometry. */
export interface PaddedDims {
  readonly depth: number;
  readonly height: number;
  readonly width: number;
  readonly stride: number;
}

/**
 * Nearest feature along x, per row of a padded block, over a window of rows z0 ≤ z < z1, y0 ≤ y < y1 that may
 * reach beyond the block: `table[((z − z0)·(y1 − y0) + y − y0)·stride + x]` is the column distance from voxel
 * (z, y, x) to the nearest feature of its row, or `cap` when that is `cap` or more (rows without features, rows
 * outside the block and spare columns hold `cap` throughout). With `values`, a distance d is stored as
 * `values[d]` instead (`values[cap]` for `cap` or more).
 */
export function rowNearestTable(
  features: Uint8Array,
  dims: PaddedDims,
  cap: number,
  window: readonly [z0: number, z1: number, y0: number, y1: number] = [0, dims.depth, 0, dims.height],
  values: Uint8Array = Uint8Array.from({ length: cap + 1 }, (_, d) => d),
): Uint8Array {
  const { depth, height, width, stride } = dims;
  const [z0, z1, y0, y1] = window;
  const hh = y1 - y0;
  const table = new Uint8Array((z1 - z0) * hh * stride).fill(values[cap]);
  const words = new Uint32Array(features.buffer, features.byteOffset, features.length >> 2);
  const m4 = stride >> 2;
  for (let z = Math.max(z0, 0); z < Math.min(z1, depth); z++) {
    for (let y = Math.max(y0, 0); y < Math.min(y1, height); y++) {
      const row = (z * height + y) * stride;
      const t = ((z - z0) * hh + y - y0) * stride;
      let last = -1;
      for (let k = row >> 2; k < (row >> 2) + m4; k++) {
        if (words[k] === 0) continue;
        const x0 = (k << 2) - row;
        for (let x = x0; x < x0 + 4; x++) {
          if (features[row + x] === 0) continue;
          if (last < 0) {
            for (let u = x - cap + 1 > 0 ? x - cap + 1 : 0; u < x; u++) table[t + u] = values[x - u];
          } else if (x - last <= 2 * cap) {
            // The gap between two features: each voxel takes the nearer one (cap already where both are far).
            for (let u = last + 1; u < x; u++) {
              const d = u - last < x - u ? u - last : x - u;
              if (d < cap) table[t + u] = values[d];
            }
          } else {
            for (let u = last + 1; u < last + cap; u++) table[t + u] = values[u - last];
            for (let u = x - cap + 1; u < x; u++) table[t + u] = values[x - u];
          }
          table[t + x] = values[0];
          last = x;
        }
      }
      if (last >= 0) {
        const end = last + cap < width ? last + cap : width;
        for (let u = last + 1; u < end; u++) table[t + u] = values[u - last];
      }
    }
  }
  return table;
}

/**
 * Squared distances from every query voxel (non-zero in `queries`, raster order) to the nearest feature voxel, exact
 * where at most `radius2` and Infinity beyond it; both masks padded blocks of `dims`, spacing squares whole numbers
 * (see {@link wholeSquares}). Gives up (returns null) once more than `maxFar` queries turn out to be beyond the
 * radius, and with `bail` also once more than an eighth of the first 4096 or more are: far queries cost the most
 * here, and the separable transform serves them better.
 */
export function nearbySearch(
  features: Uint8Array,
  queries: Uint8Array,
  dims: PaddedDims,
  squares: readonly [number, number, number],
  radius2: number,
  maxFar = Number.POSITIVE_INFINITY,
  bail = false,
): Float64Array | null {
  const { depth, height, stride } = dims;
  const [sz2, sy2, sx2] = squares;
  if (!(radius2 >= 0 && radius2 <= MAX_RADIUS2))
    throw new Error(`nearbySearch: radius² ${radius2} not in [0, 254]`);
  // Columns at `cap` or more are beyond the radius on their own.
  let cap = 1;
  while (sx2 * cap * cap <= radius2) cap++;
  const off = rowOffsets(depth, height, sz2, sy2, radius2);
  const { dz: offZ, dy: offY } = off;
  const nOff = off.n;
  // Margins as wide as the farthest row offset: no bounds checks in the search.
  let mz = 0;
  let my = 0;
  for (let o = 0; o < nOff; o++) {
    mz = Math.max(mz, Math.abs(offZ[o]));
    my = Math.max(my, Math.abs(offY[o]));
  }
  // Rows holding a feature, and queries by row: the rows a query visits lie within its row's offsets.
  const m4 = stride >> 2;
  const fWords = new Uint32Array(features.buffer, features.byteOffset, features.length >> 2);
  const qWords = new Uint32Array(queries.buffer, queries.byteOffset, queries.length >> 2);
  let fz0 = depth;
  let fz1 = 0;
  let fy0 = height;
  let fy1 = 0;
  let qz0 = depth;
  let qz1 = 0;
  let qy0 = height;
  let qy1 = 0;
  let nq = 0;
  const perRow = new Int32Array(depth * height);
  for (let z = 0; z < depth; z++) {
    for (let y = 0; y < height; y++) {
      const w0 = (z * height + y) * m4;
      let c = 0;
      let f = 0;
      for (let k = w0; k < w0 + m4; k++) {
        const v = qWords[k];
        // Bytes are 0 or 1: the top byte of v·0x01010101 is their sum.
        if (v !== 0) c += Math.imul(v, 0x01010101) >>> 24;
        f |= fWords[k];
      }
      if (f !== 0) {
        if (z < fz0) fz0 = z;
        fz1 = z + 1;
        if (y < fy0) fy0 = y;
        if (y >= fy1) fy1 = y + 1;
      }
      if (c === 0) continue;
      perRow[z * height + y] = c;
      nq += c;
      if (z < qz0) qz0 = z;
      qz1 = z + 1;
      if (y < qy0) qy0 = y;
      if (y >= qy1) qy1 = y + 1;
    }
  }
  // Queries whose row is beyond the radius from every feature row are far whatever their column: when there are
  // too many of them, give up before building anything.
  let farRows = 0;
  for (let z = qz0; z < qz1; z++) {
    const dz = z < fz0 ? fz0 - z : z >= fz1 ? z - fz1 + 1 : 0;
    for (let y = qy0; y < qy1; y++) {
      const dy = y < fy0 ? fy0 - y : y >= fy1 ? y - fy1 + 1 : 0;
      if (fz1 === 0 || sz2 * dz * dz + sy2 * dy * dy > radius2) farRows += perRow[z * height + y];
    }
  }
  if (nq === 0) return new Float64Array(0);
  if (farRows > maxFar || (bail && farRows * 8 > nq)) return null;
  // The table covers the query rows and their margins only.
  const tz0 = qz0 - mz;
  const ty0 = qy0 - my;
  const hh = qy1 - qy0 + 2 * my;
  // The table holds squared column gaps directly (one load less per visit); 255, above the radius, for `cap` or
  // more. A candidate through such an entry exceeds the radius, so it never ends the search early and never passes
  // for a near distance.
  const gap2 = new Uint8Array(cap + 1);
  for (let g = 0; g < cap; g++) gap2[g] = sx2 * g * g;
  gap2[cap] = 255;
  const table = rowNearestTable(features, dims, cap, [tz0, qz1 + mz, ty0, qy1 + my], gap2);
  // Each offset as its squared length and its step in the table, side by side.
  const steps = new Int32Array(2 * nOff + 2);
  for (let o = 0; o < nOff; o++) {
    steps[2 * o] = off.len2[o];
    steps[2 * o + 1] = (offZ[o] * hh + offY[o]) * stride;
  }
  const never = 0x3fffffff;
  // A sentinel past the last offset ends every search.
  steps[2 * nOff] = never;

  const out = new Float64Array(nq);
  let at = 0;
  let far = 0;
  for (let z = qz0; z < qz1; z++) {
    for (let y = qy0; y < qy1; y++) {
      if (perRow[z * height + y] === 0) continue;
      const row = (z * height + y) * stride;
      const trow = ((z - tz0) * hh + y - ty0) * stride;
      for (let k = row >> 2; k < (row >> 2) + m4; k++) {
        if (qWords[k] === 0) continue;
        for (let x = (k << 2) - row; x < (k << 2) - row + 4; x++) {
          if (queries[row + x] === 0) continue;
          const i = trow + x;
          let best = never;
          for (let o = 0; ; o += 2) {
            const l = steps[o];
            if (l >= best) break;
            const t = l + table[i + steps[o + 1]];
            if (t < best) best = t;
          }
          if (best > radius2) {
            far++;
            if (far > maxFar || (bail && at >= 4096 && far * 8 > at)) return null;
            out[at++] = Number.POSITIVE_INFINITY;
          } else {
            out[at++] = best;
          }
        }
      }
    }
  }
  return out;
}
