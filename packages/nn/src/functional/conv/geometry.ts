/**
 * What a convolution is, as the kernels, the tiling policy and the launchers all see it: its geometry, the three
 * implicit GEMMs it runs and their extents, the key of a GEMM problem, and which convolutions Winograd can run.
 * A leaf: it imports nothing of the convolution code.
 */
import type { LoadOrder } from '../gemm.wgsl.js';

/** Image x [N, C, H, W] ⊛ weight [K, C, R, S] → y [N, K, P, Q]. */
export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  P: number;
  Q: number;
  R: number;
  S: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** What a shader is specialised on: the kernel window (sizes are uniforms). */
export const windowKey = (g: ConvGeometry) => [g.R, g.S, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw].join(',');

/** Whether any extent is zero (an empty output, or an empty reduction). */
export const anyZero = (g: ConvGeometry) =>
  [g.N, g.C, g.K, g.P, g.Q, g.H, g.W, g.R, g.S].some((d) => d === 0);

/** The three implicit GEMMs of a convolution (a transposed convolution runs them with roles swapped). */
export type ConvKernel = 'forward' | 'input_grad' | 'weight_grad';

/** One GEMM as a training step launches it. */
export interface ConvProblem {
  kernel: ConvKernel;
  geometry: ConvGeometry;
  bias: boolean;
}

/** Load orders of A and B in each kernel (direct.wgsl.ts): they decide which tilings can be generated. */
export const LOAD_ORDERS: Record<ConvKernel, [LoadOrder, LoadOrder]> = {
  forward: ['mn', 'k'],
  input_grad: ['mn', 'k'],
  weight_grad: ['k', 'k'],
};

/** The extent M×N of C and the reduction length of a kernel's GEMM (per phase for the input gradient). */
export function gemmExtent(kernel: ConvKernel, g: ConvGeometry): { M: number; N: number; K: number } {
  if (kernel === 'forward') return { M: g.N * g.P * g.Q, N: g.K, K: g.C * g.R * g.S };
  if (kernel === 'input_grad')
    return {
      M: g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw),
      N: g.C,
      K: Math.ceil((g.K * g.R * g.S) / (g.sh * g.sw)),
    };
  return { M: g.K, N: g.C * g.R * g.S, K: g.N * g.P * g.Q };
}

/** The geometry fields in the order of a problem key. */
export const GEOMETRY_FIELDS = [
  'N',
  'C',
  'H',
  'W',
  'K',
  'P',
  'Q',
  'R',
  'S',
  'sh',
  'sw',
  'ph',
  'pw',
  'dh',
  'dw',
] as const;

export function problemKey(kernel: ConvKernel, g: ConvGeometry): string {
  return `${kernel}|${GEOMETRY_FIELDS.map((f) => g[f]).join(',')}`;
}

/** The output tile size m of F(m×m, 3×3). */
export type WinogradTile = 2 | 4;

/** Whether a convolution has the window Winograd computes here: 3×3, stride 1, dilation 1 (any padding). */
export function winogradEligible(g: ConvGeometry): boolean {
  return g.R === 3 && g.S === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1;
}

/**
 * The forward convolution that computes a convolution's input gradient: dy [N, K, P, Q] with the filters
 * w'[c, k] = w[k, c] rotated by 180°, padding 2 − pad, giving dx [N, C, H, W].
 */
export function inputGradGeometry(g: ConvGeometry): ConvGeometry {
  return { ...g, C: g.K, H: g.P, W: g.Q, K: g.C, P: g.H, Q: g.W, ph: 2 - g.ph, pw: 2 - g.pw };
}

/** Whether a kernel of this convolution can run by Winograd (the input gradient needs padding ≤ 2). */
export function winogradEligibleFor(kernel: ConvKernel, g: ConvGeometry): boolean {
  if (kernel === 'input_grad') return winogradEligible(g) && g.ph <= 2 && g.pw <= 2;
  return winogradEligible(g);
}

/** Output tiles of m×m of a forward convolution: the GEMMs' m extent. */
export function winogradTiles(g: ConvGeometry, m: WinogradTile = 2): number {
  return g.N * Math.ceil(g.P / m) * Math.ceil(g.Q / m);
}

/** The geometry of the forward convolution a kernel runs as under Winograd (its tiles: the GEMMs' extent). */
export function winogradGeometry(kernel: ConvKernel, g: ConvGeometry): ConvGeometry {
  return kernel === 'input_grad' ? inputGradGeometry(g) : g;
}

/** Floats of the largest transformed tensor a kernel makes ([α², max(C, K), T]): one storage binding each. */
export function winogradTransformFloats(kernel: ConvKernel, g: ConvGeometry, m: WinogradTile): number {
  const wg = winogradGeometry(kernel, g);
  return (m + 2) ** 2 * Math.max(wg.C, wg.K) * winogradTiles(wg, m);
}
