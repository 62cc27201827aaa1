/**
 * Fully connected CRF over a foreground probability map (Krähenbühl & Koltun, "Efficient Inference in Fully
 * Connected CRFs with Gaussian Edge Potentials", NIPS 2011), two labels, mean-field inference.
 *
 * Energy E(x) = Σ_i ψ_u(x_i) + Σ_{i<j} [x_i ≠ x_j] k(f_i, f_j) with the unary ψ_u(l) = −log P(l) from the network
 * and k = w_a·exp(−|p_i − p_j|²/2θ_α² − |I_i − I_j|²/2θ_β²) + w_s·exp(−|p_i − p_j|²/2θ_γ²): an appearance
 * (bilateral) kernel on position and intensities, and a smoothness kernel on position alone. As in the authors'
 * released code, each kernel's message to a pixel is normalised by that pixel's total kernel mass (the sum runs
 * over all pixels, itself included), so the weights are dimensionless and do not grow with the image. One
 * mean-field step is then Q_i(1) = σ(logit p_i + w_a(2 m^a_i − 1) + w_s(2 m^s_i − 1)), m^k_i the kernel-weighted
 * mean of Q(1) around i. The appearance kernel is filtered on the permutohedral lattice; the smoothness kernel,
 * being separable, exactly.
 */
import { gaussianSum } from './gaussian.js';
import { PermutohedralLattice } from './permutohedral.js';
import { dimsOf, formatShape, type Volume } from './volume.js';

/**
 * The images the appearance kernel compares: [D,C,H,W] for a [D,H,W] probability volume (channel-planar slices,
 * as @mriseg/data's preprocessed volumes), or [C,H,W] for a single [H,W] image.
 */
export interface ImageVolume {
  readonly data: Float32Array | Float64Array;
  readonly shape: readonly [number, number, number, number] | readonly [number, number, number];
}

export interface DenseCrfOptions {
  /** w_a, weight of the appearance kernel. */
  appearanceWeight?: number;
  /** θ_α, spatial standard deviation of the appearance kernel, in pixels. */
  appearanceSpatial?: number;
  /** θ_β, intensity standard deviation of the appearance kernel, in the image's units. */
  appearanceIntensity?: number;
  /** w_s, weight of the smoothness kernel. */
  smoothnessWeight?: number;
  /** θ_γ, standard deviation of the smoothness kernel, in pixels. */
  smoothnessSpatial?: number;
  /** Mean-field iterations. */
  iterations?: number;
  /** Image channels the appearance kernel compares (indices); null for all. */
  channels?: readonly number[] | null;
  /** One CRF over the whole volume (true) or one per slice (false). */
  volumetric?: boolean;
  /** Distance between slices in pixels (in-plane pixel = 1), for a volumetric CRF. */
  sliceSpacing?: number;
}

/** Starting values, not tuned on this data set (see the package README for how to choose them). */
export const DEFAULT_CRF: Required<DenseCrfOptions> = {
  appearanceWeight: 5,
  appearanceSpatial: 15,
  appearanceIntensity: 0.5,
  smoothnessWeight: 3,
  smoothnessSpatial: 1,
  iterations: 5,
  channels: null,
  volumetric: false,
  sliceSpacing: 1,
};

/** Probabilities are kept this far from 0 and 1 so that the unary −log P stays finite. */
const PROB_EPS = 1e-5;

export function resolveCrf(options: DenseCrfOptions = {}): Required<DenseCrfOptions> {
  const o = { ...DEFAULT_CRF, ...options };
  const positive = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0))
      throw new Error(`denseCrf: ${name} must be a positive number, got ${v}`);
  };
  const nonNegative = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`denseCrf: ${name} must be a number >= 0, got ${v}`);
  };
  nonNegative('appearanceWeight', o.appearanceWeight);
  nonNegative('smoothnessWeight', o.smoothnessWeight);
  positive('appearanceSpatial', o.appearanceSpatial);
  positive('appearanceIntensity', o.appearanceIntensity);
  positive('smoothnessSpatial', o.smoothnessSpatial);
  positive('sliceSpacing', o.sliceSpacing);
  if (!Number.isInteger(o.iterations) || o.iterations < 0)
    throw new Error(`denseCrf: iterations must be an integer >= 0, got ${o.iterations}`);
  if (
    o.channels !== null &&
    (o.channels.length === 0 || o.channels.some((c) => !Number.isInteger(c) || c < 0))
  )
    throw new Error(
      `denseCrf: channels must be a non-empty list of channel indices, got [${o.channels.join(',')}]`,
    );
  return o;
}

interface Grid {
  depth: number;
  height: number;
  width: number;
  channels: number;
}

function gridOf(prob: Volume, image: ImageVolume): Grid {
  const dims = dimsOf('denseCrf', 'probabilities', prob);
  const s = image.shape;
  const want = dims.is3d ? 4 : 3;
  const [depth, channels, height, width] = s.length === 4 ? s : [1, s[0], s[1], s[2]];
  if (
    s.length !== want ||
    depth !== dims.depth ||
    height !== dims.height ||
    width !== dims.width ||
    !(channels >= 1)
  ) {
    const expected = dims.is3d
      ? `[${dims.depth},C,${dims.height},${dims.width}]`
      : `[C,${dims.height},${dims.width}]`;
    throw new Error(
      `denseCrf: image ${formatShape(s)} does not fit probabilities ${formatShape(prob.shape)} (expected ${expected})`,
    );
  }
  if (image.data.length !== depth * channels * height * width)
    throw new Error(
      `denseCrf: image has ${image.data.length} values but shape ${formatShape(s)} needs more or fewer`,
    );
  return { depth, height, width, channels };
}

/**
 * Mean-field inference of the dense CRF: the refined foreground probability Q(1) for every voxel of `prob`
 * (sigmoid outputs, [D,H,W] or [H,W]), given the `image` the appearance kernel compares. The input is not modified.
 */
export function denseCrf(prob: Volume, image: ImageVolume, options: DenseCrfOptions = {}): Volume {
  const o = resolveCrf(options);
  const g = gridOf(prob, image);
  const channels = o.channels ?? Array.from({ length: g.channels }, (_, c) => c);
  for (const c of channels)
    if (c >= g.channels)
      throw new Error(`denseCrf: channel ${c} asked for, the image has ${g.channels} (0..${g.channels - 1})`);
  const plane = g.height * g.width;
  const out = new Float32Array(prob.data.length);
  const field: Field = { prob: prob.data, image: image.data, g, channels, o };
  if (o.volumetric) out.set(meanField(field, 0, g.depth));
  else for (let z = 0; z < g.depth; z++) out.set(meanField(field, z, z + 1), z * plane);
  return { data: out, shape: prob.shape };
}

/** What one mean-field run reads: the whole volume's probabilities and image, their grid, the options. */
interface Field {
  prob: Float32Array | Float64Array;
  image: Float32Array | Float64Array;
  g: Grid;
  channels: readonly number[];
  o: Required<DenseCrfOptions>;
}

/** The bilateral features of slices [z0, z1): position over θ_α, then the chosen channels over θ_β. */
function appearanceFeatures(
  { image, g, channels, o }: Field,
  z0: number,
  z1: number,
): { features: Float64Array; dim: number } {
  const volumetric = z1 - z0 > 1;
  const dim = 2 + (volumetric ? 1 : 0) + channels.length;
  const plane = g.height * g.width;
  const n = (z1 - z0) * plane;
  const features = new Float64Array(n * dim);
  const sa = o.appearanceSpatial;
  const sb = o.appearanceIntensity;
  const nc = channels.length;
  let p = 0;
  for (let z = z0; z < z1; z++) {
    const planes = channels.map((c) => (z * g.channels + c) * plane);
    for (let y = 0; y < g.height; y++) {
      for (let x = 0; x < g.width; x++, p++) {
        let f = p * dim;
        features[f++] = x / sa;
        features[f++] = y / sa;
        if (volumetric) features[f++] = (z * o.sliceSpacing) / sa;
        const at = y * g.width + x;
        for (let c = 0; c < nc; c++) features[f++] = image[planes[c] + at] / sb;
      }
    }
  }
  return { features, dim };
}

/** Q(1) for slices [z0, z1) as one field. */
function meanField(field: Field, z0: number, z1: number): Float32Array {
  const { prob: probAll, g, o } = field;
  const plane = g.height * g.width;
  const depth = z1 - z0;
  const n = depth * plane;
  const unary = new Float64Array(n);
  const q = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - PROB_EPS, Math.max(PROB_EPS, probAll[z0 * plane + i]));
    unary[i] = Math.log(p) - Math.log1p(-p);
    q[i] = p;
  }
  if (o.iterations === 0) return q;
  const useA = o.appearanceWeight > 0;
  const useS = o.smoothnessWeight > 0;
  let lattice: PermutohedralLattice | null = null;
  let normA: Float32Array | null = null;
  if (useA) {
    const { features, dim } = appearanceFeatures(field, z0, z1);
    lattice = PermutohedralLattice.build(features, n, dim);
    normA = lattice.filter(new Float32Array(n).fill(1));
  }
  const sz = depth > 1 ? o.smoothnessSpatial / o.sliceSpacing : 0;
  const normS = useS
    ? gaussianSum(new Float32Array(n).fill(1), depth, g.height, g.width, o.smoothnessSpatial, sz)
    : null;
  const msgA = new Float32Array(n);
  for (let t = 0; t < o.iterations; t++) {
    if (lattice) lattice.filter(q, 1, msgA);
    const msgS = useS ? gaussianSum(q, depth, g.height, g.width, o.smoothnessSpatial, sz) : null;
    for (let i = 0; i < n; i++) {
      let a = unary[i];
      if (normA) a += o.appearanceWeight * ((2 * msgA[i]) / normA[i] - 1);
      if (msgS && normS) a += o.smoothnessWeight * ((2 * msgS[i]) / normS[i] - 1);
      q[i] = 1 / (1 + Math.exp(-a));
    }
  }
  return q;
}
