import {
  nearestIndices,
  prefilterQuadratic,
  prefilterQuadraticColumns,
  quadraticTaps,
  SPLINE_PAD,
} from './bspline.js';

/**
 * Resizes one plane (h × w, row-major, float64) to outH × outW with the quadratic B-spline of scipy's zoom
 * (grid mode, constant 0 outside). Separable: the prefilter and evaluation of one axis commute with those of the
 * other, and zero-padded rows stay zero through the x pass, so x then y gives the same result as scipy's N-D code.
 * No clipping here (scikit-image clips to the input range afterwards, over the whole volume).
 */
export function resizeQuadratic(
  src: Float64Array,
  h: number,
  w: number,
  outH: number,
  outW: number,
): Float64Array {
  const tx = quadraticTaps(w, outW);
  const ty = quadraticTaps(h, outH);
  const lineX = new Float64Array(w + 2 * SPLINE_PAD);
  // The x pass writes into the middle rows of a y-padded buffer, ready for the column prefilter.
  const tmp = new Float64Array((h + 2 * SPLINE_PAD) * outW);
  for (let y = 0; y < h; y++) {
    lineX.fill(0);
    lineX.set(src.subarray(y * w, (y + 1) * w), SPLINE_PAD);
    prefilterQuadratic(lineX, lineX.length);
    const row = (y + SPLINE_PAD) * outW;
    for (let k = 0; k < outW; k++) {
      const s = tx.start[k];
      tmp[row + k] =
        tx.weights[3 * k] * lineX[s] +
        tx.weights[3 * k + 1] * lineX[s + 1] +
        tx.weights[3 * k + 2] * lineX[s + 2];
    }
  }
  prefilterQuadraticColumns(tmp, h + 2 * SPLINE_PAD, outW);
  const out = new Float64Array(outH * outW);
  for (let k = 0; k < outH; k++) {
    const r0 = ty.start[k] * outW;
    const r1 = r0 + outW;
    const r2 = r1 + outW;
    const w0 = ty.weights[3 * k];
    const w1 = ty.weights[3 * k + 1];
    const w2 = ty.weights[3 * k + 2];
    const o = k * outW;
    for (let x = 0; x < outW; x++) out[o + x] = w0 * tmp[r0 + x] + w1 * tmp[r1 + x] + w2 * tmp[r2 + x];
  }
  return out;
}

/** Nearest-neighbour resize (order 0, grid mode) of a plane of bytes or floats; the result has the input's type. */
export function resizeNearest<T extends Uint8Array | Float32Array>(
  src: T,
  h: number,
  w: number,
  outH: number,
  outW: number,
): T {
  const iy = nearestIndices(h, outH);
  const ix = nearestIndices(w, outW);
  const out = (
    src instanceof Float32Array ? new Float32Array(outH * outW) : new Uint8Array(outH * outW)
  ) as T;
  for (let y = 0; y < outH; y++) {
    const row = iy[y] * w;
    for (let x = 0; x < outW; x++) out[y * outW + x] = src[row + ix[x]];
  }
  return out;
}
