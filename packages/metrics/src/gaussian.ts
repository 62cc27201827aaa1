/**
 * Exact separable Gaussian sums over a [D,H,W] grid: out_i = Σ_j exp(−Σ_axis (Δ_axis/σ_axis)²/2) v_j over the grid
 * (nothing outside it), with the kernel cut at 4σ (its weight there is e^−8 ≈ 3·10⁻⁴ of the centre's).
 */

function taps(sigma: number, extent: number): Float64Array {
  const r = Math.min(extent - 1, Math.ceil(4 * sigma));
  const k = new Float64Array(2 * r + 1);
  for (let t = -r; t <= r; t++) k[t + r] = Math.exp(-(t * t) / (2 * sigma * sigma));
  return k;
}

/** Sums along one axis of stride `stride`, `extent` long, for every line of the grid; in place via `tmp`. */
function pass(
  v: Float64Array,
  tmp: Float64Array,
  n: number,
  extent: number,
  stride: number,
  kernel: Float64Array,
): void {
  const r = (kernel.length - 1) >> 1;
  const block = extent * stride;
  for (let base = 0; base < n; base += block) {
    for (let s = 0; s < stride; s++) {
      const line = base + s;
      for (let i = 0; i < extent; i++) {
        const lo = Math.max(0, i - r);
        const hi = Math.min(extent - 1, i + r);
        let acc = 0;
        for (let j = lo; j <= hi; j++) acc += kernel[j - i + r] * v[line + j * stride];
        tmp[line + i * stride] = acc;
      }
    }
  }
  v.set(tmp);
}

/**
 * Gaussian sum of `values` on a grid of `depth` slices of `height`×`width`, standard deviations in voxels per axis
 * (`sigmaZ` ≤ 0 or depth 1: each slice on its own). Returns a new Float64Array.
 */
export function gaussianSum(
  values: Float32Array | Float64Array,
  depth: number,
  height: number,
  width: number,
  sigmaYX: number,
  sigmaZ = 0,
): Float64Array {
  const n = depth * height * width;
  const v = Float64Array.from(values);
  const tmp = new Float64Array(n);
  pass(v, tmp, n, width, 1, taps(sigmaYX, width));
  pass(v, tmp, n, height, width, taps(sigmaYX, height));
  if (sigmaZ > 0 && depth > 1) pass(v, tmp, n, depth, height * width, taps(sigmaZ, depth));
  return v;
}
