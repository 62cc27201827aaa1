/**
 * The Winograd F(2×2, 3×3) form of a convolution (conv-winograd.wgsl.ts): an algorithm the autotuner may choose
 * for a 3×3 convolution at stride 1 and dilation 1 — its forward pass, and its input gradient, which is the
 * convolution of dy with the flipped, transposed filters — selected by a tiling with `winograd` (the tiling then
 * shapes its 16 GEMMs). Results equal the direct convolution's up to float32 rounding.
 */
import { grid1d, runtime, Tensor } from '@mriseg/tensor-wgsl';
import type { ConvGeometry } from './conv.js';
import { type ConvEpilogue, sizeWords } from './conv.wgsl.js';
import type { ConvKernel } from './conv-tiling.js';
import {
  winogradGemmWgsl,
  winogradInputWgsl,
  winogradOutputWgsl,
  winogradWeightWgsl,
} from './conv-winograd.wgsl.js';
import { type GemmTiling, gemmGrid, tilingKey } from './gemm.wgsl.js';

/** Whether a convolution has the window F(2×2, 3×3) computes: 3×3, stride 1, dilation 1 (any padding). */
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

/** Whether a kernel of this convolution can run by Winograd (the weight gradient cannot). */
export function winogradEligibleFor(kernel: ConvKernel, g: ConvGeometry): boolean {
  if (kernel === 'forward') return winogradEligible(g);
  return kernel === 'input_grad' && winogradEligible(g) && g.ph <= 2 && g.pw <= 2;
}

/** Output tiles of 2×2 of a forward convolution: the GEMMs' m extent. */
export function winogradTiles(g: ConvGeometry): number {
  return g.N * Math.ceil(g.P / 2) * Math.ceil(g.Q / 2);
}

/** The geometry of the forward convolution a kernel runs as under Winograd. */
export function winogradGeometry(kernel: ConvKernel, g: ConvGeometry): ConvGeometry {
  return kernel === 'input_grad' ? inputGradGeometry(g) : g;
}

const codeCache = new Map<string, string>();
function cached(key: string, make: () => string): string {
  let code = codeCache.get(key);
  if (!code) {
    code = make();
    codeCache.set(key, code);
  }
  return code;
}

interface WinogradRun {
  /** The equivalent forward convolution. */
  g: ConvGeometry;
  images: Tensor[];
  imageChannels: readonly number[];
  w: Tensor;
  /** The weight is the original convolution's, read transposed and rotated (input gradient). */
  flipped: boolean;
  /** The epilogue's vectors (bias, or scale and shift). */
  extra: GPUBuffer[];
  outputs: Tensor[];
  outChannels: readonly number[];
  tiling: GemmTiling;
  epilogue: ConvEpilogue;
}

function runWinograd(r: WinogradRun): void {
  const { g, tiling } = r;
  if (!winogradEligible(g))
    throw new Error(
      `conv2d (winograd): needs a 3×3 window at stride 1 and dilation 1, got ${g.R}×${g.S} stride ${g.sh}×${g.sw} dilation ${g.dh}×${g.dw}`,
    );
  const rt = runtime();
  const T = winogradTiles(g);
  const window = `${g.ph},${g.pw}`;
  const tilesN = Math.ceil(g.K / tiling.BN);
  const V = Tensor.empty([16, g.C, T], 'f32', 'conv2d_winograd');
  const U = Tensor.empty([16, g.K, g.C], 'f32', 'conv2d_winograd');
  const M = Tensor.empty([16, g.K, T], 'f32', 'conv2d_winograd');
  const inParts = r.images.length;
  const outParts = r.outputs.length;
  rt.dispatch({
    name: 'conv2d_winograd_input',
    code: cached(`i|${window}|${inParts}`, () => winogradInputWgsl(g, inParts)),
    buffers: [...r.images.map((t) => t.buffer), V.buffer],
    uniforms: sizeWords(g, tilesN, 0, r.imageChannels),
    workgroups: grid1d(g.C * T),
  });
  const words = sizeWords(g, tilesN, 0, r.outChannels);
  rt.dispatch({
    name: 'conv2d_winograd_weight',
    code: cached(`w|${window}|${r.flipped}`, () => winogradWeightWgsl(g, r.flipped)),
    buffers: [r.w.buffer, U.buffer],
    uniforms: words,
    workgroups: grid1d(g.K * g.C),
  });
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  const grid = gemmGrid(Math.ceil(T / tiling.BM), 16 * tilesN, max);
  if (grid[1] > max || grid[2] > max)
    throw new Error(`conv2d (winograd): ${T} tiles × ${g.K} channels exceed the dispatch limits`);
  rt.dispatch({
    name: 'conv2d_winograd_gemm',
    code: cached(`g|${window}|${tilingKey(tiling)}`, () => winogradGemmWgsl(g, tiling)),
    buffers: [V.buffer, U.buffer, M.buffer],
    uniforms: words,
    workgroups: grid,
  });
  rt.dispatch({
    name: 'conv2d_winograd_output',
    code: cached(`o|${window}|${r.epilogue}|${outParts}`, () => winogradOutputWgsl(g, r.epilogue, outParts)),
    buffers: [M.buffer, ...r.extra, ...r.outputs.map((t) => t.buffer)],
    uniforms: words,
    workgroups: grid1d(g.K * T),
  });
  for (const t of [V, U, M]) t.dispose();
}

/**
 * y = epilogue(conv(x, w)) by Winograd: `images` are the image's parts (channel counts `channels`), `extra` the
 * epilogue's vectors. Writes y, which the caller made.
 */
export function convForwardWinograd(
  images: Tensor[],
  channels: readonly number[],
  w: Tensor,
  extra: GPUBuffer[],
  y: Tensor,
  g: ConvGeometry,
  tiling: GemmTiling,
  epilogue: ConvEpilogue,
): void {
  runWinograd({
    g,
    images,
    imageChannels: channels,
    w,
    flipped: false,
    extra,
    outputs: [y],
    outChannels: [g.K],
    tiling,
    epilogue,
  });
}

/**
 * dx = the input gradient of conv(·, w) for dy, by Winograd, written into `dx`: parts of `channels` channels
 * each, made by the caller.
 */
export function convInputGradWinograd(
  dy: Tensor,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  dx: Tensor[],
  channels: readonly number[],
  tiling: GemmTiling,
): void {
  if (!winogradEligibleFor('input_grad', g))
    throw new Error(`conv2d_input_grad (winograd): needs a 3×3 stride-1 convolution with padding ≤ 2`);
  runWinograd({
    g: inputGradGeometry(g),
    images: [dy],
    imageChannels: [g.K],
    w,
    flipped: true,
    extra: bias ? [bias.buffer] : [],
    outputs: dx,
    outChannels: channels,
    tiling,
    epilogue: bias ? 'bias' : 'none',
  });
}
