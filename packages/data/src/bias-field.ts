/**
 * MRI intensity non-uniformity (bias field) correction in the manner of N4 (Tustison et al., "N4ITK: Improved N3
 * Bias Correction", IEEE TMI 2010; after Sled et al.'s N3, 1998). The image is modelled as v = u · b with a smooth
 * multiplicative field b; in log space the field is additive. Each iteration sharpens the histogram of the
 * current log estimate of u (deconvolving an assumed Gaussian blur of the field's log-intensity spread with a
 * Wiener filter, then mapping each intensity to its expected sharpened value E[u | v]), takes the difference as
 * the residual field, fits a cubic B-spline to it over the masked voxels (Lee, Wolberg & Shin's B-spline
 * approximation), and adds the fit to the field's control lattice. At each new level the lattice is subdivided
 * (twice the spans along every axis), so the field gains detail level by level. The estimate runs on an in-plane
 * shrunken copy of the volume; the field is evaluated at full resolution from the control lattice.
 */
import { fft } from './fft.js';

export interface BiasCorrectionOptions {
  /** Fitting levels; the control lattice doubles its spans at each. Default 4. */
  levels?: number;
  /** Most iterations per level: one number for all, or one per level. Default 50. */
  iterations?: number | readonly number[];
  /** Control points along each axis at the first level (cubic spline: at least 4). Default 4. */
  controlPoints?: number;
  /** Bins of the log-intensity histogram. Default 200. */
  histogramBins?: number;
  /** Full width at half maximum of the Gaussian the field is assumed to blur log intensities with. Default 0.15. */
  fwhm?: number;
  /** Wiener filter noise of the histogram deconvolution. Default 0.01. */
  wienerNoise?: number;
  /** A level stops when the coefficient of variation of the field's change falls below this. Default 0.001. */
  convergence?: number;
  /** In-plane shrink factor for the estimate (slices are kept). Default 4. */
  shrink?: number;
}

export const DEFAULT_BIAS_CORRECTION: Required<BiasCorrectionOptions> = {
  levels: 4,
  iterations: 50,
  controlPoints: 4,
  histogramBins: 200,
  fwhm: 0.15,
  wienerNoise: 0.01,
  convergence: 0.001,
  shrink: 4,
};

export interface BiasField {
  /** log b at every voxel, [D,H,W]. */
  logField: Float64Array;
  /** Per level: iterations run and the last convergence measure. */
  levels: { iterations: number; convergence: number }[];
  /** Voxels the estimate used (on the shrunken grid). */
  voxels: number;
  /** The field's cubic B-spline control lattice, (spans + 3) points along z, y, x (x fastest). */
  lattice: Lattice;
}

type Shape3 = readonly [number, number, number];

function resolve(options: BiasCorrectionOptions): Required<BiasCorrectionOptions> & { perLevel: number[] } {
  const o = { ...DEFAULT_BIAS_CORRECTION, ...options };
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new RangeError(`bias correction: ${name} must be an integer >= ${min}, got ${v}`);
  };
  const pos = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0))
      throw new RangeError(`bias correction: ${name} must be a positive number, got ${v}`);
  };
  int('levels', o.levels, 1);
  int('controlPoints', o.controlPoints, 4);
  int('histogramBins', o.histogramBins, 2);
  int('shrink', o.shrink, 1);
  pos('fwhm', o.fwhm);
  pos('wienerNoise', o.wienerNoise);
  if (!(o.convergence >= 0))
    throw new RangeError(`bias correction: convergence must be >= 0, got ${o.convergence}`);
  const perLevel =
    typeof o.iterations === 'number' ? new Array(o.levels).fill(o.iterations) : [...o.iterations];
  if (perLevel.length !== o.levels)
    throw new RangeError(
      `bias correction: ${perLevel.length} iteration counts for ${o.levels} levels (give one, or one per level)`,
    );
  for (const n of perLevel) int('iterations', n, 0);
  return { ...o, perLevel };
}

/** Cubic B-spline basis along one axis: for each grid position, the first control point and four weights. */
interface AxisBasis {
  first: Int32Array;
  weights: Float64Array;
}

/**
 * Positions (in full-resolution voxels, 0..extent−1) mapped onto a lattice of `spans` spans covering the full
 * extent; the far end belongs to the last span.
 */
function axisBasis(positions: Float64Array, extent: number, spans: number): AxisBasis {
  const n = positions.length;
  const first = new Int32Array(n);
  const weights = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const t = extent > 1 ? (positions[i] / (extent - 1)) * spans : 0;
    const s = Math.min(spans - 1, Math.max(0, Math.floor(t)));
    const u = t - s;
    const v = 1 - u;
    first[i] = s;
    weights[4 * i] = (v * v * v) / 6;
    weights[4 * i + 1] = (3 * u * u * u - 6 * u * u + 4) / 6;
    weights[4 * i + 2] = (-3 * u * u * u + 3 * u * u + 3 * u + 1) / 6;
    weights[4 * i + 3] = (u * u * u) / 6;
  }
  return { first, weights };
}

/** Control lattice of a tensor-product cubic B-spline: spans + 3 points along each axis, x fastest. */
export interface Lattice {
  spans: [number, number, number];
  phi: Float64Array;
}

const latticeSize = (spans: readonly number[]) => (spans[0] + 3) * (spans[1] + 3) * (spans[2] + 3);

/** The grid an estimate runs on: voxel positions (full-resolution units) per axis, values, mask. */
interface Grid {
  depth: number;
  height: number;
  width: number;
  z: Float64Array;
  y: Float64Array;
  x: Float64Array;
  /** Log intensity of each voxel in the mask. */
  logValue: Float64Array;
  inMask: Uint8Array;
}

function axisPositions(extent: number, shrink: number): Float64Array {
  const n = Math.ceil(extent / shrink);
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lo = i * shrink;
    const hi = Math.min(extent, lo + shrink);
    p[i] = (lo + hi - 1) / 2;
  }
  return p;
}

/**
 * In-plane block means of the masked positive voxels of a [D,H,W] volume: `values` (0 outside), `inMask` (a block
 * counts when at least half of it is masked and positive) and the shrunken `shape`.
 */
export function blockMeans(
  image: ArrayLike<number>,
  [D, H, W]: Shape3,
  mask: Uint8Array | null,
  shrink: number,
): { values: Float64Array; inMask: Uint8Array; shape: [number, number, number] } {
  const gy = Math.ceil(H / shrink);
  const gx = Math.ceil(W / shrink);
  const n = D * gy * gx;
  const sum = new Float64Array(n);
  const count = new Float64Array(n);
  const total = new Float64Array(n);
  for (let z = 0; z < D; z++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = (z * H + y) * W + x;
        const g = (z * gy + Math.floor(y / shrink)) * gx + Math.floor(x / shrink);
        total[g]++;
        const v = image[i];
        if ((mask === null || mask[i] !== 0) && v > 0) {
          sum[g] += v;
          count[g]++;
        }
      }
  const values = new Float64Array(n);
  const inMask = new Uint8Array(n);
  for (let g = 0; g < n; g++) {
    if (count[g] > 0 && 2 * count[g] >= total[g]) {
      inMask[g] = 1;
      values[g] = sum[g] / count[g];
    }
  }
  return { values, inMask, shape: [D, gy, gx] };
}

/** The grid the estimate runs on: block means, their log, and their positions in full-resolution voxels. */
function shrinkGrid(image: ArrayLike<number>, shape: Shape3, mask: Uint8Array | null, shrink: number): Grid {
  const b = blockMeans(image, shape, mask, shrink);
  const logValue = new Float64Array(b.values.length);
  for (let g = 0; g < logValue.length; g++) if (b.inMask[g]) logValue[g] = Math.log(b.values[g]);
  return {
    depth: b.shape[0],
    height: b.shape[1],
    width: b.shape[2],
    z: axisPositions(shape[0], 1),
    y: axisPositions(shape[1], shrink),
    x: axisPositions(shape[2], shrink),
    logValue,
    inMask: b.inMask,
  };
}

/** The field of a lattice at every grid voxel, by contracting one axis at a time. */
function evaluate(
  lattice: Lattice,
  bz: AxisBasis,
  by: AxisBasis,
  bx: AxisBasis,
  [D, H, W]: Shape3,
): Float64Array {
  const [, sy, sx] = lattice.spans;
  const cz = lattice.spans[0] + 3;
  const cy = sy + 3;
  const cx = sx + 3;
  const t1 = new Float64Array(cz * cy * W);
  for (let r = 0; r < cz * cy; r++)
    for (let x = 0; x < W; x++) {
      const f = bx.first[x];
      let s = 0;
      for (let k = 0; k < 4; k++) s += lattice.phi[r * cx + f + k] * bx.weights[4 * x + k];
      t1[r * W + x] = s;
    }
  const t2 = new Float64Array(cz * H * W);
  for (let c = 0; c < cz; c++)
    for (let y = 0; y < H; y++) {
      const f = by.first[y];
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += t1[(c * cy + f + k) * W + x] * by.weights[4 * y + k];
        t2[(c * H + y) * W + x] = s;
      }
    }
  const out = new Float64Array(D * H * W);
  const plane = H * W;
  for (let z = 0; z < D; z++) {
    const f = bz.first[z];
    for (let k = 0; k < 4; k++) {
      const w = bz.weights[4 * z + k];
      const src = (f + k) * plane;
      for (let i = 0; i < plane; i++) out[z * plane + i] += w * t2[src + i];
    }
  }
  return out;
}

/**
 * B-spline approximation of scattered values (one level of Lee, Wolberg & Shin 1997): each voxel proposes, for each
 * of the 64 control points it touches, the value that alone would reproduce it (w_k r / Σ w²); each control point
 * takes the w²-weighted mean of its proposals.
 */
function fit(
  values: Float64Array,
  grid: Grid,
  spans: [number, number, number],
  bz: AxisBasis,
  by: AxisBasis,
  bx: AxisBasis,
): Lattice {
  const cy = spans[1] + 3;
  const cx = spans[2] + 3;
  const num = new Float64Array(latticeSize(spans));
  const den = new Float64Array(num.length);
  const { depth: D, height: H, width: W } = grid;
  for (let z = 0; z < D; z++) {
    const wz = bz.weights.subarray(4 * z, 4 * z + 4);
    const sz = wz[0] ** 2 + wz[1] ** 2 + wz[2] ** 2 + wz[3] ** 2;
    for (let y = 0; y < H; y++) {
      const wy = by.weights.subarray(4 * y, 4 * y + 4);
      const sy = wy[0] ** 2 + wy[1] ** 2 + wy[2] ** 2 + wy[3] ** 2;
      for (let x = 0; x < W; x++) {
        const i = (z * H + y) * W + x;
        if (!grid.inMask[i]) continue;
        const wx = bx.weights.subarray(4 * x, 4 * x + 4);
        const sx = wx[0] ** 2 + wx[1] ** 2 + wx[2] ** 2 + wx[3] ** 2;
        const r = values[i] / (sz * sy * sx);
        for (let a = 0; a < 4; a++)
          for (let b = 0; b < 4; b++) {
            const wab = wz[a] * wy[b];
            const row = ((bz.first[z] + a) * cy + by.first[y] + b) * cx + bx.first[x];
            for (let c = 0; c < 4; c++) {
              const w = wab * wx[c];
              const w2 = w * w;
              num[row + c] += w2 * w * r;
              den[row + c] += w2;
            }
          }
      }
    }
  }
  for (let k = 0; k < num.length; k++) num[k] = den[k] > 0 ? num[k] / den[k] : 0;
  return { spans: [...spans], phi: num };
}

/**
 * The same spline on a lattice with twice the spans along every axis (cubic B-spline subdivision: a new point at
 * each old point, (P₋ + 6P + P₊)/8, and one between each pair, (P + P₊)/2).
 */
export function refineLattice(lattice: Lattice): Lattice {
  let phi = lattice.phi;
  let counts = lattice.spans.map((s) => s + 3);
  for (let axis = 0; axis < 3; axis++) {
    const m = lattice.spans[axis];
    const next = counts.slice();
    next[axis] = 2 * m + 3;
    const out = new Float64Array(next[0] * next[1] * next[2]);
    const stride = axis === 2 ? 1 : axis === 1 ? counts[2] : counts[1] * counts[2];
    const outStride = axis === 2 ? 1 : axis === 1 ? next[2] : next[1] * next[2];
    const outer = axis === 0 ? 1 : axis === 1 ? counts[0] : counts[0] * counts[1];
    const inner = stride;
    for (let o = 0; o < outer; o++)
      for (let s = 0; s < inner; s++) {
        const src = o * counts[axis] * stride + s;
        const dst = o * next[axis] * outStride + s;
        const p = (j: number) => phi[src + j * stride];
        for (let k = 0; k < next[axis]; k++) {
          let v: number;
          if (k % 2 === 0) v = (p(k / 2) + p(k / 2 + 1)) / 2;
          else {
            const j = (k + 1) / 2;
            v = (p(j - 1) + 6 * p(j) + p(j + 1)) / 8;
          }
          out[dst + k * outStride] = v;
        }
      }
    phi = out;
    counts = next;
  }
  return { spans: lattice.spans.map((s) => 2 * s) as [number, number, number], phi };
}

/**
 * Histogram sharpening: the expected true log intensity E[u | v] for each masked voxel's current log intensity v,
 * assuming v = u + a Gaussian-distributed field of the given FWHM. Returns the sharpened values (0 outside the mask).
 */
function sharpen(logU: Float64Array, inMask: Uint8Array, o: Required<BiasCorrectionOptions>): Float64Array {
  const bins = o.histogramBins;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logU.length; i++) {
    if (!inMask[i]) continue;
    if (logU[i] < lo) lo = logU[i];
    if (logU[i] > hi) hi = logU[i];
  }
  const out = new Float64Array(logU.length);
  if (!(hi > lo)) {
    for (let i = 0; i < logU.length; i++) if (inMask[i]) out[i] = logU[i];
    return out;
  }
  const slope = (hi - lo) / (bins - 1);
  // Histogram with each value shared between its two nearest bins.
  const hist = new Float64Array(bins);
  for (let i = 0; i < logU.length; i++) {
    if (!inMask[i]) continue;
    const c = (logU[i] - lo) / slope;
    const k = Math.min(bins - 1, Math.floor(c));
    const f = c - k;
    if (k === bins - 1 || f === 0) hist[k] += 1;
    else {
      hist[k] += 1 - f;
      hist[k + 1] += f;
    }
  }
  // Zero-padded to a power of two at least twice the bins, histogram centred.
  const size = 2 ** (Math.ceil(Math.log2(bins)) + 1);
  const offset = Math.floor((size - bins) / 2);
  const vRe = new Float64Array(size);
  const vIm = new Float64Array(size);
  vRe.set(hist, offset);
  // The field's Gaussian in bin units, wrapped around zero, unit area.
  const fwhm = o.fwhm / slope;
  const expFactor = (4 * Math.LN2) / (fwhm * fwhm);
  const gain = (2 * Math.sqrt(Math.LN2 / Math.PI)) / fwhm;
  const fRe = new Float64Array(size);
  const fIm = new Float64Array(size);
  for (let k = 0; k < size; k++) {
    const d = Math.min(k, size - k);
    fRe[k] = gain * Math.exp(-d * d * expFactor);
  }
  fft(vRe, vIm);
  fft(fRe, fIm);
  // Wiener deconvolution of the histogram; the kernel is even, so its transform is real.
  for (let k = 0; k < size; k++) {
    const g = fRe[k] / (fRe[k] * fRe[k] + fIm[k] * fIm[k] + o.wienerNoise);
    vRe[k] *= g;
    vIm[k] *= g;
  }
  fft(vRe, vIm, true);
  const u = new Float64Array(size);
  for (let k = 0; k < size; k++) u[k] = Math.max(0, vRe[k]);
  // E[u | v] = (G ∗ (x·U)) / (G ∗ U), both convolutions through the transform of the kernel.
  const convolve = (values: Float64Array): Float64Array => {
    const re = Float64Array.from(values);
    const im = new Float64Array(size);
    fft(re, im);
    for (let k = 0; k < size; k++) {
      const a = re[k] * fRe[k] - im[k] * fIm[k];
      im[k] = re[k] * fIm[k] + im[k] * fRe[k];
      re[k] = a;
    }
    fft(re, im, true);
    return re;
  };
  const weighted = new Float64Array(size);
  for (let k = 0; k < size; k++) weighted[k] = (lo + (k - offset) * slope) * u[k];
  const num = convolve(weighted);
  const den = convolve(u);
  const expected = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    const d = den[k + offset];
    expected[k] = d !== 0 ? num[k + offset] / d : 0;
  }
  for (let i = 0; i < logU.length; i++) {
    if (!inMask[i]) continue;
    const c = (logU[i] - lo) / slope;
    const k = Math.floor(c);
    out[i] = k < bins - 1 ? expected[k] + (expected[k + 1] - expected[k]) * (c - k) : expected[bins - 1];
  }
  return out;
}

/** Coefficient of variation of exp(new − old) over the mask: how much the last update changed the field. */
function change(previous: Float64Array, next: Float64Array, inMask: Uint8Array): number {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < next.length; i++) {
    if (!inMask[i]) continue;
    const v = Math.exp(next[i] - previous[i]);
    n++;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  return n > 1 ? Math.sqrt(m2 / (n - 1)) / mean : 0;
}

function checkInput(fn: string, image: ArrayLike<number>, shape: Shape3, mask: Uint8Array | null): void {
  const [D, H, W] = shape;
  if (![D, H, W].every((d) => Number.isInteger(d) && d >= 1))
    throw new RangeError(`${fn}: shape [${shape.join(',')}] must be three positive integers`);
  if (image.length !== D * H * W)
    throw new RangeError(`${fn}: ${image.length} values for shape [${shape.join(',')}]`);
  if (mask !== null && mask.length !== image.length)
    throw new RangeError(`${fn}: mask has ${mask.length} values, the image ${image.length}`);
}

/**
 * Estimates the bias field of a [D,H,W] volume of positive intensities over the voxels of `mask` (null: every
 * voxel above 0); voxels ≤ 0 are never used.
 */
export function estimateBiasField(
  image: ArrayLike<number>,
  shape: Shape3,
  mask: Uint8Array | null,
  options: BiasCorrectionOptions = {},
): BiasField {
  checkInput('estimateBiasField', image, shape, mask);
  const o = resolve(options);
  const [D, H, W] = shape;
  const grid = shrinkGrid(image, shape, mask, o.shrink);
  let voxels = 0;
  for (const m of grid.inMask) voxels += m;
  const gridShape: Shape3 = [grid.depth, grid.height, grid.width];
  const m0 = o.controlPoints - 3;
  let lattice: Lattice = { spans: [m0, m0, m0], phi: new Float64Array(latticeSize([m0, m0, m0])) };
  const levels: BiasField['levels'] = [];
  let field: Float64Array = new Float64Array(grid.logValue.length);
  if (voxels >= 2) {
    for (let level = 0; level < o.levels; level++) {
      const [sz, sy, sx] = lattice.spans;
      const bz = axisBasis(grid.z, D, sz);
      const by = axisBasis(grid.y, H, sy);
      const bx = axisBasis(grid.x, W, sx);
      let convergence = Number.POSITIVE_INFINITY;
      let iterations = 0;
      while (iterations < o.perLevel[level] && convergence > o.convergence) {
        iterations++;
        const logU = new Float64Array(field.length);
        for (let i = 0; i < field.length; i++) if (grid.inMask[i]) logU[i] = grid.logValue[i] - field[i];
        const sharp = sharpen(logU, grid.inMask, o);
        const residual = new Float64Array(field.length);
        for (let i = 0; i < field.length; i++) if (grid.inMask[i]) residual[i] = logU[i] - sharp[i];
        const update = fit(residual, grid, lattice.spans, bz, by, bx);
        for (let k = 0; k < lattice.phi.length; k++) lattice.phi[k] += update.phi[k];
        const next = evaluate(lattice, bz, by, bx, gridShape);
        convergence = change(field, next, grid.inMask);
        field = next;
      }
      levels.push({ iterations, convergence });
      if (level < o.levels - 1) lattice = refineLattice(lattice);
    }
  }
  // Refining after the last level would not change the spline; evaluate the lattice at full resolution.
  const [sz, sy, sx] = lattice.spans;
  const full = (n: number) => Float64Array.from({ length: n }, (_, i) => i);
  const logField = evaluate(
    lattice,
    axisBasis(full(D), D, sz),
    axisBasis(full(H), H, sy),
    axisBasis(full(W), W, sx),
    shape,
  );
  return { logField, levels, voxels, lattice };
}

/** v / b: the volume with its estimated bias field divided out (zeros stay zero). Returns the field too. */
export function correctBiasField(
  image: ArrayLike<number>,
  shape: Shape3,
  mask: Uint8Array | null,
  options: BiasCorrectionOptions = {},
): { corrected: Float64Array; field: BiasField } {
  const field = estimateBiasField(image, shape, mask, options);
  const corrected = new Float64Array(image.length);
  for (let i = 0; i < image.length; i++) corrected[i] = image[i] / Math.exp(field.logField[i]);
  return { corrected, field };
}
