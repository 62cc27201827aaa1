/**
 * Quadratic B-spline interpolation exactly as scipy.ndimage does it for `zoom(order=2, mode='grid-constant')`
 * (what scikit-image 0.19 `resize(order=2, mode='constant')` calls): the line is zero-padded by 12 samples each
 * side (`_prepad_for_spline_filter`), prefiltered with the mirror-boundary recursive filter (the C code uses mirror
 * initialisation for every constant mode), then evaluated at (k + 0.5)·(n_in / n_out) − 0.5 (`grid_mode=True`).
 */

/** The single pole of the quadratic B-spline prefilter. */
const Z = Math.sqrt(8) - 3;
/** (1 − z)(1 − 1/z) = 8: the filter gain. */
const GAIN = (1 - Z) * (1 - 1 / Z);
/** scipy pads the input by this many constant samples before prefiltering in grid-constant mode. */
export const SPLINE_PAD = 12;

/** In-place quadratic B-spline prefilter of c[0..n) with mirror-symmetric boundary (Unser's recursive filter). */
export function prefilterQuadratic(c: Float64Array, n: number): void {
  if (n === 1) return;
  for (let i = 0; i < n; i++) c[i] *= GAIN;
  // Causal initialisation, mirror boundary (scipy's _init_causal_mirror). Terms below z^40 (< 1e-30 of the
  // largest) cannot change a double, so long lines stop there.
  const zn1 = n - 1 > 40 ? 0 : Z ** (n - 1);
  let c0 = c[0] + zn1 * c[n - 1];
  let zi = Z;
  const last = Math.min(n - 1, 41);
  for (let i = 1; i < last; i++) {
    c0 += zi * (c[i] + zn1 * c[n - 1 - i]);
    zi *= Z;
  }
  c[0] = c0 / (1 - zn1 * zn1);
  for (let i = 1; i < n; i++) c[i] += Z * c[i - 1];
  c[n - 1] = ((Z * c[n - 2] + c[n - 1]) * Z) / (Z * Z - 1);
  for (let i = n - 2; i >= 0; i--) c[i] = Z * (c[i + 1] - c[i]);
}

/**
 * The same filter applied down the columns of a (rows × width) row-major array: every column is one line. Runs
 * row by row, so the memory access stays sequential.
 */
export function prefilterQuadraticColumns(c: Float64Array, rows: number, width: number): void {
  if (rows === 1) return;
  const len = rows * width;
  for (let i = 0; i < len; i++) c[i] *= GAIN;
  const n = rows;
  const zn1 = n - 1 > 40 ? 0 : Z ** (n - 1);
  const last = Math.min(n - 1, 41);
  const norm = 1 / (1 - zn1 * zn1);
  const c0 = new Float64Array(width);
  for (let x = 0; x < width; x++) c0[x] = c[x] + zn1 * c[(n - 1) * width + x];
  let zi = Z;
  for (let i = 1; i < last; i++) {
    const a = i * width;
    const b = (n - 1 - i) * width;
    for (let x = 0; x < width; x++) c0[x] += zi * (c[a + x] + zn1 * c[b + x]);
    zi *= Z;
  }
  for (let x = 0; x < width; x++) c[x] = c0[x] * norm;
  for (let i = 1; i < n; i++) {
    const a = i * width;
    for (let x = 0; x < width; x++) c[a + x] += Z * c[a - width + x];
  }
  const e = (n - 1) * width;
  const k = Z / (Z * Z - 1);
  for (let x = 0; x < width; x++) c[e + x] = (Z * c[e - width + x] + c[e + x]) * k;
  for (let i = n - 2; i >= 0; i--) {
    const a = i * width;
    for (let x = 0; x < width; x++) c[a + x] = Z * (c[a + width + x] - c[a + x]);
  }
}

/** Precomputed sampling positions of one axis: first coefficient index and the three weights per output. */
export interface SplineTaps {
  start: Int32Array;
  weights: Float64Array;
}

/** Taps for resampling an axis of length nIn (coefficients padded by SPLINE_PAD) to nOut samples. */
export function quadraticTaps(nIn: number, nOut: number): SplineTaps {
  const zoom = nIn / nOut;
  const start = new Int32Array(nOut);
  const weights = new Float64Array(nOut * 3);
  for (let k = 0; k < nOut; k++) {
    const cc = (k + 0.5) * zoom - 0.5 + SPLINE_PAD;
    const centre = Math.floor(cc + 0.5);
    const t = cc - centre;
    start[k] = centre - 1;
    weights[3 * k] = 0.5 * (0.5 - t) * (0.5 - t);
    weights[3 * k + 1] = 0.75 - t * t;
    weights[3 * k + 2] = 0.5 * (0.5 + t) * (0.5 + t);
  }
  return { start, weights };
}

/** Source index of each output sample for nearest-neighbour (order 0) grid-mode zoom: floor(cc + 0.5). */
export function nearestIndices(nIn: number, nOut: number): Int32Array {
  const zoom = nIn / nOut;
  const idx = new Int32Array(nOut);
  for (let k = 0; k < nOut; k++) {
    const cc = (k + 0.5) * zoom - 0.5;
    idx[k] = Math.min(nIn - 1, Math.max(0, Math.floor(cc + 0.5)));
  }
  return idx;
}
