/**
 * Launchers of the three implicit-GEMM convolution kernels, in forward-convolution geometry. Not recorded for
 * autograd: conv2d.ts and conv-transpose2d.ts combine them into ops with backward rules.
 */
import {
  type Bindings,
  concat,
  type Kernel,
  kernel,
  noGrad,
  runtime,
  slice,
  sum,
  Tensor,
  zeros,
} from '@mriseg/tensor-wgsl';
import { type GemmTiling, gemmGrid, tilingKey } from '../gemm.wgsl.js';
import { splitReduction } from '../launch-helpers.js';
import {
  type ConvEpilogue,
  convForwardSpec,
  convInputGradSpec,
  convWeightGradSpec,
  epilogueBindings,
  imageBindings,
  MAX_IMAGE_PARTS,
  sizeUniforms,
} from './direct.wgsl.js';
import { anyZero, type ConvGeometry, windowKey } from './geometry.js';
import { convTiling } from './tilings.js';
import { convForwardWinograd, convInputGradWinograd, convWeightGradWinograd } from './winograd.js';

function launch(
  k: Kernel,
  tiling: GemmTiling,
  M: number,
  Ncols: number,
  zCount: number,
  bindings: Bindings,
  g: ConvGeometry,
  chunk = 0,
  parts: readonly number[] = [g.C],
): void {
  const rt = runtime();
  const tilesM = Math.ceil(M / tiling.BM);
  const tilesN = Math.ceil(Ncols / tiling.BN);
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  const grid = gemmGrid(tilesM, zCount * tilesN, max);
  if (grid[1] > max || grid[2] > max)
    throw new Error(`${k.name}: ${tilesM}×${tilesN}×${zCount} tiles exceed the dispatch limits`);
  rt.dispatchKernel(k, bindings, sizeUniforms(g, tilesN, chunk, parts), grid);
}

/**
 * The image of a convolution: one tensor, or several whose channel concatenation it is, read in place (a U-Net
 * decoder's [upsampled, skip] input without materialising the concatenation).
 */
export type ConvImage = Tensor | readonly Tensor[];

/** The parts of an image and their channel counts (checked against the geometry). */
function imageParts(op: string, x: ConvImage, g: ConvGeometry): { tensors: Tensor[]; channels: number[] } {
  const tensors = Array.isArray(x) ? [...(x as readonly Tensor[])] : [x as Tensor];
  if (tensors.length < 1 || tensors.length > MAX_IMAGE_PARTS)
    throw new Error(`${op}: an image in ${tensors.length} parts (1 to ${MAX_IMAGE_PARTS})`);
  const channels = tensors.map((t) => t.shape[1]);
  const sum = channels.reduce((a, b) => a + b, 0);
  if (sum !== g.C || tensors.some((t) => t.shape[0] !== g.N || t.shape[2] !== g.H || t.shape[3] !== g.W))
    throw new Error(
      `${op}: image parts ${tensors.map((t) => t.describe()).join(', ')} do not make [${g.N}, ${g.C}, ${g.H}, ${g.W}]`,
    );
  return { tensors, channels };
}

/**
 * Whether a kernel binding an image in `parts` tensors beside `others` buffers fits the device's storage
 * bindings (8 on some devices and browsers, 16 on most GPUs). Where it does not, the launchers below make the
 * concatenation (or split the gradient) instead of reading the parts in place.
 */
function partsFit(parts: number, others: number): boolean {
  return parts === 1 || parts + others <= runtime().limits.maxStorageBuffersPerShaderStage;
}

/** The parts as one tensor (their channel concatenation, made by the caller's dispose). */
const joined = (tensors: readonly Tensor[]): Tensor => noGrad(() => concat(tensors, 1));

/** A per-output-channel affine map applied in the forward kernel's store: y = v·scale + shift (then ReLU). */
export interface ConvAffine {
  scale: Tensor;
  shift: Tensor;
  relu: boolean;
}

/** y = conv(x, w) + bias, or y = affine(conv(x, w)) (bias must then be folded into the shift). */
export function convForwardRaw(
  x: ConvImage,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  affine: ConvAffine | null = null,
): Tensor {
  if (bias && affine)
    throw new Error('conv2d: a bias and an affine epilogue together (fold the bias into the shift)');
  const epilogue: ConvEpilogue = affine ? (affine.relu ? 'affine-relu' : 'affine') : bias ? 'bias' : 'none';
  // An empty output, or an empty reduction (no input channels, which the layers refuse).
  if (anyZero(g)) return zeros([g.N, g.K, g.P, g.Q]);
  const { tensors, channels } = imageParts('conv2d', x, g);
  if (!partsFit(tensors.length, 2 + (affine ? 2 : bias ? 1 : 0))) {
    const whole = joined(tensors);
    const out = convForwardRaw(whole, w, bias, g, affine);
    whole.dispose();
    return out;
  }
  const y = Tensor.empty([g.N, g.K, g.P, g.Q], 'f32', 'conv2d');
  const M = g.N * g.P * g.Q;
  const tiling = convTiling('forward', g, bias !== null);
  const extra = affine ? [affine.scale.buffer, affine.shift.buffer] : bias ? [bias.buffer] : [];
  const n = tensors.length;
  if (tiling.winograd) {
    convForwardWinograd(tensors, channels, w, extra, y, g, tiling, epilogue);
    return y;
  }
  const name = affine ? 'conv2d_affine' : 'conv2d';
  const k = kernel(`conv.f|${name}|${windowKey(g)}|${tilingKey(tiling)}|${epilogue}|${n}`, () =>
    convForwardSpec(name, g, tiling, epilogue, n),
  );
  const bindings = {
    ...imageBindings('X', tensors),
    Wt: w.buffer,
    ...epilogueBindings(epilogue, extra),
    Y: y.buffer,
  };
  launch(k, tiling, M, g.K, 1, bindings, g, 0, channels);
  return y;
}

/** dx [N, C, H, W] from dy [N, K, P, Q] (the transposed convolution, with an optional bias over C). */
export function convInputGradRaw(dy: Tensor, w: Tensor, bias: Tensor | null, g: ConvGeometry): Tensor {
  return convInputGradPartsRaw(dy, w, bias, g, [g.C])[0];
}

/** dx split along the channels into parts of `channels` channels each (the gradients of a concatenation's inputs). */
export function convInputGradPartsRaw(
  dy: Tensor,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  channels: readonly number[],
): Tensor[] {
  if (channels.reduce((a, b) => a + b, 0) !== g.C || channels.length > MAX_IMAGE_PARTS)
    throw new Error(`conv2d_input_grad: parts of ${channels.join(' + ')} channels for an image of ${g.C}`);
  if (anyZero(g)) return channels.map((c) => zeros([g.N, c, g.H, g.W]));
  if (!partsFit(channels.length, bias ? 3 : 2)) {
    const [whole] = convInputGradPartsRaw(dy, w, bias, g, [g.C]);
    let start = 0;
    const parts = channels.map((c) => {
      const part = noGrad(() => slice(whole, [null, { start, end: start + c }]));
      start += c;
      return part;
    });
    whole.dispose();
    return parts;
  }
  const dx = channels.map((c) => Tensor.empty([g.N, c, g.H, g.W], 'f32', 'conv2d_input_grad'));
  const M = g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw);
  const tiling = convTiling('input_grad', g, bias !== null);
  const n = channels.length;
  if (tiling.winograd) {
    convInputGradWinograd(dy, w, bias, g, dx, channels, tiling);
    return dx;
  }
  const k = kernel(`conv.d|${windowKey(g)}|${tilingKey(tiling)}|${bias !== null}|${n}`, () =>
    convInputGradSpec('conv2d_input_grad', g, tiling, bias !== null, n),
  );
  const bindings = {
    DY: dy.buffer,
    Wt: w.buffer,
    ...(bias ? { Bias: bias.buffer } : {}),
    ...imageBindings('DX', dx),
  };
  launch(k, tiling, M, g.C, g.sh * g.sw, bindings, g, 0, channels);
  return dx;
}

/** dw [K, C, R, S] = Σ dy ⊗ im2col(x). */
export function convWeightGradRaw(dy: Tensor, x: ConvImage, g: ConvGeometry): Tensor {
  if (anyZero(g)) return zeros([g.K, g.C, g.R, g.S]);
  const { tensors, channels } = imageParts('conv2d_weight_grad', x, g);
  if (!partsFit(tensors.length, 2)) {
    const whole = joined(tensors);
    const dw = convWeightGradRaw(dy, whole, g);
    whole.dispose();
    return dw;
  }
  const crs = g.C * g.R * g.S;
  const L = g.N * g.P * g.Q;
  const chosen = convTiling('weight_grad', g, false);
  if (chosen.winograd) return convWeightGradWinograd(dy, tensors, channels, g, chosen);
  const tiles = Math.ceil(g.K / chosen.BM) * Math.ceil(crs / chosen.BN);
  // The split is a launch parameter: the kernel (and its cached code) is the tiling's without it.
  const { splits, chunk, kernel: tiling } = splitReduction(L, tiles, chosen);
  const partial = Tensor.empty([splits, g.K, g.C, g.R, g.S], 'f32', 'conv2d_weight_grad');
  const n = tensors.length;
  const k = kernel(`conv.w|${windowKey(g)}|${tilingKey(tiling)}|${n}`, () =>
    convWeightGradSpec('conv2d_weight_grad', g, tiling, n),
  );
  const bindings = { DY: dy.buffer, ...imageBindings('X', tensors), DW: partial.buffer };
  launch(k, tiling, g.K, crs, splits, bindings, g, chunk, channels);
  if (splits === 1) {
    const v = partial.view([g.K, g.C, g.R, g.S]);
    partial.dispose();
    return v;
  }
  const dw = sum(partial, 0);
  partial.dispose();
  return dw;
}
