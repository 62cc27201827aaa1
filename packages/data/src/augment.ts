import { Rng } from '@mriseg/tensor-wgsl';

/** Training-time augmentation settings. The defaults (REFERENCE_AUGMENT) are the reference's transforms. */
export interface AugmentOptions {
  /** Scale factor drawn from U(1 − scale, 1 + scale); 0 disables. Reference 0.05. */
  scale?: number;
  /** Rotation drawn from U(−rotate, rotate) degrees; 0 disables. Reference 15. */
  rotate?: number;
  /** Probability of a horizontal flip. Reference 0.5. */
  flipProb?: number;
  /** Elastic deformation: a random displacement field of std `alpha` px, smooth over `sigma` px. */
  elastic?: { prob: number; alpha: number; sigma: number } | null;
  /** Gamma γ ~ U(range) on each channel's slice range (min..max kept). */
  gamma?: { prob: number; range: [number, number] } | null;
  /** v·c + b with c ~ U(1 ± contrast), b ~ U(±brightness) (in z-score units). */
  brightnessContrast?: { prob: number; brightness: number; contrast: number } | null;
  /** Additive Gaussian noise of this std (z-score units). */
  noise?: { prob: number; std: number } | null;
}

export const REFERENCE_AUGMENT: Required<AugmentOptions> = {
  scale: 0.05,
  rotate: 15,
  flipProb: 0.5,
  elastic: null,
  gamma: null,
  brightnessContrast: null,
  noise: null,
};

/** The random draws of one sample, made on the main thread so results do not depend on the worker count. */
export interface AugmentParams {
  scale: number;
  /** Radians. */
  angle: number;
  flip: boolean;
  elastic: { seed: number; alpha: number; sigma: number } | null;
  gamma: number | null;
  contrast: number;
  brightness: number;
  noise: { seed: number; std: number } | null;
}

export function drawAugmentParams(rng: Rng, options: AugmentOptions = REFERENCE_AUGMENT): AugmentParams {
  const o = { ...REFERENCE_AUGMENT, ...options };
  const scale = o.scale > 0 ? rng.range(1 - o.scale, 1 + o.scale) : 1;
  const angle = o.rotate > 0 ? (rng.range(-o.rotate, o.rotate) * Math.PI) / 180 : 0;
  const flip = o.flipProb > 0 && rng.uniform() < o.flipProb;
  const elastic =
    o.elastic && rng.uniform() < o.elastic.prob
      ? { seed: rng.nextUint32(), alpha: o.elastic.alpha, sigma: o.elastic.sigma }
      : null;
  const gamma =
    o.gamma && rng.uniform() < o.gamma.prob ? rng.range(o.gamma.range[0], o.gamma.range[1]) : null;
  let contrast = 1;
  let brightness = 0;
  if (o.brightnessContrast && rng.uniform() < o.brightnessContrast.prob) {
    contrast = rng.range(1 - o.brightnessContrast.contrast, 1 + o.brightnessContrast.contrast);
    brightness = rng.range(-o.brightnessContrast.brightness, o.brightnessContrast.brightness);
  }
  const noise = o.noise && rng.uniform() < o.noise.prob ? { seed: rng.nextUint32(), std: o.noise.std } : null;
  return { scale, angle, flip, elastic, gamma, contrast, brightness, noise };
}

/**
 * Applies one sample's augmentation. The reference's scale → rotate → flip are composed into one affine map about
 * the slice centre and applied with a single interpolation (image bilinear, mask nearest, constant 0 outside — 0
 * is the mean intensity after the z-score, as in the reference). Image and mask use the same map (plus the same
 * elastic field), so they stay aligned; the mask stays binary.
 * `image` (channels, h, w) and `mask` (h, w) in; `outImage` (channels, h, w) and `outMask` (h, w) out.
 */
export function augmentSlice(
  image: Float32Array,
  mask: Uint8Array,
  channels: number,
  h: number,
  w: number,
  p: AugmentParams,
  outImage: Float32Array,
  outMask: Float32Array,
): void {
  const plane = h * w;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const cos = Math.cos(p.angle) / p.scale;
  const sin = Math.sin(p.angle) / p.scale;
  const field = p.elastic ? elasticField(h, w, p.elastic) : null;
  for (let y = 0; y < h; y++) {
    const dy = y - cy;
    for (let x = 0; x < w; x++) {
      const dx = (p.flip ? w - 1 - x : x) - cx;
      const o = y * w + x;
      let qx = cx + cos * dx + sin * dy;
      let qy = cy - sin * dx + cos * dy;
      if (field) {
        qx += field[2 * o];
        qy += field[2 * o + 1];
      }
      const mx = Math.round(qx);
      const my = Math.round(qy);
      outMask[o] = mx >= 0 && mx < w && my >= 0 && my < h ? mask[my * w + mx] : 0;
      const x0 = Math.floor(qx);
      const y0 = Math.floor(qy);
      if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) {
        for (let c = 0; c < channels; c++) outImage[c * plane + o] = 0;
        continue;
      }
      const fx = qx - x0;
      const fy = qy - y0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        // Interior: all four neighbours exist (the common case; no clamping).
        const i00 = y0 * w + x0;
        const a = (1 - fx) * (1 - fy);
        const bw = fx * (1 - fy);
        const cw = (1 - fx) * fy;
        const dw = fx * fy;
        for (let c = 0; c < channels; c++) {
          const s = c * plane + i00;
          outImage[c * plane + o] =
            a * image[s] + bw * image[s + 1] + cw * image[s + w] + dw * image[s + w + 1];
        }
        continue;
      }
      const inX0 = x0 >= 0;
      const inX1 = x0 + 1 < w;
      const inY0 = y0 >= 0;
      const inY1 = y0 + 1 < h;
      const w00 = inX0 && inY0 ? (1 - fx) * (1 - fy) : 0;
      const w10 = inX1 && inY0 ? fx * (1 - fy) : 0;
      const w01 = inX0 && inY1 ? (1 - fx) * fy : 0;
      const w11 = inX1 && inY1 ? fx * fy : 0;
      // Clamped indices are only read with a zero weight.
      const i00 = Math.max(0, y0) * w + Math.max(0, x0);
      const i10 = Math.max(0, y0) * w + Math.min(w - 1, x0 + 1);
      const i01 = Math.min(h - 1, y0 + 1) * w + Math.max(0, x0);
      const i11 = Math.min(h - 1, y0 + 1) * w + Math.min(w - 1, x0 + 1);
      for (let c = 0; c < channels; c++) {
        const b = c * plane;
        outImage[b + o] =
          w00 * image[b + i00] + w10 * image[b + i10] + w01 * image[b + i01] + w11 * image[b + i11];
      }
    }
  }
  applyIntensity(outImage, channels, plane, p);
}

/** A smooth random displacement field: N(0, alpha²) values on a grid of spacing sigma, bilinearly interpolated. */
function elasticField(h: number, w: number, e: { seed: number; alpha: number; sigma: number }): Float32Array {
  const rng = new Rng(e.seed);
  const s = Math.max(1, e.sigma);
  const gh = Math.ceil((h - 1) / s) + 2;
  const gw = Math.ceil((w - 1) / s) + 2;
  const grid = new Float32Array(gh * gw * 2);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.normal() * e.alpha;
  const out = new Float32Array(h * w * 2);
  for (let y = 0; y < h; y++) {
    const gy = y / s;
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    for (let x = 0; x < w; x++) {
      const gx = x / s;
      const x0 = Math.floor(gx);
      const fx = gx - x0;
      for (let k = 0; k < 2; k++) {
        const g = (yy: number, xx: number) => grid[(yy * gw + xx) * 2 + k];
        out[(y * w + x) * 2 + k] =
          (1 - fy) * ((1 - fx) * g(y0, x0) + fx * g(y0, x0 + 1)) +
          fy * ((1 - fx) * g(y0 + 1, x0) + fx * g(y0 + 1, x0 + 1));
      }
    }
  }
  return out;
}

function applyIntensity(img: Float32Array, channels: number, plane: number, p: AugmentParams): void {
  if (p.gamma !== null) {
    for (let c = 0; c < channels; c++) {
      const v = img.subarray(c * plane, (c + 1) * plane);
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < plane; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
      }
      const range = hi - lo;
      if (range > 0) for (let i = 0; i < plane; i++) v[i] = lo + range * ((v[i] - lo) / range) ** p.gamma;
    }
  }
  if (p.contrast !== 1 || p.brightness !== 0) {
    for (let i = 0; i < channels * plane; i++) img[i] = img[i] * p.contrast + p.brightness;
  }
  if (p.noise) {
    const rng = new Rng(p.noise.seed);
    for (let i = 0; i < channels * plane; i++) img[i] += rng.normal() * p.noise.std;
  }
}
