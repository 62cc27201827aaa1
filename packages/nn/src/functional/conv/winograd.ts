/**
 * The Winograd form of a convolution (winograd.wgsl.ts): an algorithm the autotuner may choose for a 3×3
 * convolution at stride 1 and dilation 1 — its forward pass F(m×m, 3×3), its input gradient (the convolution of
 * dy with the flipped, transposed filters) and its weight gradient F(3×3, m×m), with output tiles of m = 2 or 4 —
 * selected by a tiling with `winograd: m` (the tiling then shapes its GEMMs). Results equal the direct
 * convolution's up to float32 rounding (larger for m = 4, whose transforms have larger coefficients).
 */
import { grid1d, kernel, runtime, sum, Tensor } from '@mriseg/tensor-wgsl';
import { type GemmTiling, gemmGrid, tilingKey } from '../gemm.wgsl.js';
import { splitReduction } from '../launch-helpers.js';
import { type ConvEpilogue, epilogueBindings, imageBindings, sizeUniforms } from './direct.wgsl.js';
import {
  type ConvGeometry,
  inputGradGeometry,
  type WinogradTile,
  winogradEligible,
  winogradEligibleFor,
  winogradTiles,
} from './geometry.js';
import {
  winogradGemmSpec,
  winogradInputSpec,
  winogradOutputGradSpec,
  winogradOutputSpec,
  winogradWeightGradGemmSpec,
  winogradWeightGradOutputSpec,
  winogradWeightSpec,
} from './winograd.wgsl.js';

/**
 * What every Winograd launch of `g` with `tiling` derives: the output tile m, the α² = (m + 2)² products, the
 * tile count T and the shaders' window key. Throws (naming `op`) unless the convolution is eligible.
 */
function winogradPlan(op: string, g: ConvGeometry, tiling: GemmTiling) {
  if (!winogradEligible(g))
    throw new Error(
      `${op} (winograd): needs a 3×3 window at stride 1 and dilation 1, got ${g.R}×${g.S} stride ${g.sh}×${g.sw} dilation ${g.dh}×${g.dw}`,
    );
  const m: WinogradTile = tiling.winograd ?? 2;
  return { m, count: (m + 2) ** 2, T: winogradTiles(g, m), window: `${m}|${g.ph},${g.pw}` };
}

/** V [α², C, T]: the transformed α×α input patches of every output tile. */
function transformInput(
  g: ConvGeometry,
  m: WinogradTile,
  images: Tensor[],
  channels: readonly number[],
  tilesN: number,
): Tensor {
  const T = winogradTiles(g, m);
  const V = Tensor.empty([(m + 2) ** 2, g.C, T], 'f32', 'conv2d_winograd');
  const k = kernel(`winograd.input|${m}|${g.ph},${g.pw}|${images.length}`, () =>
    winogradInputSpec(g, images.length, m),
  );
  runtime().dispatchKernel(
    k,
    { ...imageBindings('X', images), V: V.buffer },
    sizeUniforms(g, tilesN, 0, channels),
    grid1d(g.C * T),
  );
  return V;
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
  extra: readonly GPUBuffer[];
  outputs: Tensor[];
  outChannels: readonly number[];
  tiling: GemmTiling;
  epilogue: ConvEpilogue;
}

function runWinograd(r: WinogradRun): void {
  const { g, tiling } = r;
  const { m, count, T, window } = winogradPlan('conv2d', g, tiling);
  const rt = runtime();
  const tilesN = Math.ceil(g.K / tiling.BN);
  const V = transformInput(g, m, r.images, r.imageChannels, tilesN);
  const U = Tensor.empty([count, g.K, g.C], 'f32', 'conv2d_winograd');
  const M = Tensor.empty([count, g.K, T], 'f32', 'conv2d_winograd');
  const outParts = r.outputs.length;
  const uniforms = sizeUniforms(g, tilesN, 0, r.outChannels);
  const weight = kernel(`winograd.weight|${window}|${r.flipped}`, () => winogradWeightSpec(g, r.flipped, m));
  rt.dispatchKernel(weight, { Wt: r.w.buffer, U: U.buffer }, uniforms, grid1d(g.K * g.C));
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  const grid = gemmGrid(Math.ceil(T / tiling.BM), count * tilesN, max);
  if (grid[1] > max || grid[2] > max)
    throw new Error(`conv2d (winograd): ${T} tiles × ${g.K} channels exceed the dispatch limits`);
  const gemm = kernel(`winograd.gemm|${window}|${tilingKey(tiling)}`, () => winogradGemmSpec(g, tiling, m));
  rt.dispatchKernel(gemm, { V: V.buffer, U: U.buffer, Mo: M.buffer }, uniforms, grid);
  const output = kernel(`winograd.output|${window}|${r.epilogue}|${outParts}`, () =>
    winogradOutputSpec(g, r.epilogue, outParts, m),
  );
  rt.dispatchKernel(
    output,
    { Mo: M.buffer, ...epilogueBindings(r.epilogue, r.extra), ...imageBindings('Y', r.outputs) },
    uniforms,
    grid1d(g.K * T),
  );
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

/** dw [K, C, 3, 3] of conv(x, w) for dy, by Winograd F(3×3, m×m); x may be in channel parts. */
export function convWeightGradWinograd(
  dy: Tensor,
  images: Tensor[],
  channels: readonly number[],
  g: ConvGeometry,
  tiling: GemmTiling,
): Tensor {
  const { m, count, T, window } = winogradPlan('conv2d_weight_grad', g, tiling);
  const rt = runtime();
  const tilesM = Math.ceil(g.K / tiling.BM);
  const tilesN = Math.ceil(g.C / tiling.BN);
  const { splits, chunk, kernel: kernelTiling } = splitReduction(T, count * tilesM * tilesN, tiling);
  const uniforms = sizeUniforms(g, tilesN, chunk, [g.C]);
  const V = transformInput(g, m, images, channels, tilesN);
  const Wd = Tensor.empty([count, g.K, T], 'f32', 'conv2d_winograd');
  const outputGrad = kernel(`winograd.dy|${window}`, () => winogradOutputGradSpec(g, m));
  rt.dispatchKernel(outputGrad, { DY: dy.buffer, Wd: Wd.buffer }, uniforms, grid1d(g.K * T));
  const partial = Tensor.empty([splits, count * g.K * g.C], 'f32', 'conv2d_winograd');
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  const grid = gemmGrid(tilesM, count * splits * tilesN, max);
  if (grid[1] > max || grid[2] > max)
    throw new Error(
      `conv2d_weight_grad (winograd): ${count * splits * tilesN} GEMM tiles exceed the dispatch limits`,
    );
  const gemm = kernel(`winograd.weight_grad|${window}|${tilingKey(kernelTiling)}`, () =>
    winogradWeightGradGemmSpec(g, kernelTiling, m),
  );
  rt.dispatchKernel(gemm, { Wd: Wd.buffer, V: V.buffer, Z: partial.buffer }, uniforms, grid);
  V.dispose();
  Wd.dispose();
  const Z = splits === 1 ? partial : sum(partial, 0);
  const dw = Tensor.empty([g.K, g.C, 3, 3], 'f32', 'conv2d_weight_grad');
  const output = kernel(`winograd.weight_grad_output|${window}`, () => winogradWeightGradOutputSpec(g, m));
  rt.dispatchKernel(output, { Z: Z.buffer, DW: dw.buffer }, uniforms, grid1d(g.K * g.C));
  if (Z !== partial) Z.dispose();
  partial.dispose();
  return dw;
}
