/** 2-D convolution (PyTorch's F.conv2d without groups) with its backward rule. */
import { record, ShapeError, sum, type Tensor } from '@mriseg/tensor-wgsl';
import { convForwardRaw, convInputGradPartsRaw, convInputGradRaw, convWeightGradRaw } from './conv/direct.js';
import type { ConvGeometry } from './conv/geometry.js';

export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

export function pair(
  op: string,
  name: string,
  v: Pair | undefined,
  fallback: number,
  min: number,
): [number, number] {
  const p: [number, number] =
    v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min))
    throw new ShapeError(op, `${name} ${JSON.stringify(v)} must be integers ≥ ${min}`);
  return p;
}

export function shapeText(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/** Checks a 4-D f32 tensor. */
export function require4d(op: string, what: string, t: Tensor): void {
  if (t.rank !== 4 || t.dtype !== 'f32')
    throw new ShapeError(op, `${what} must be a 4-D f32 tensor [N, C, H, W], got ${t.describe()}`);
}

export function checkBias(op: string, bias: Tensor | null | undefined, channels: number): void {
  if (bias && (bias.rank !== 1 || bias.shape[0] !== channels || bias.dtype !== 'f32'))
    throw new ShapeError(op, `bias ${bias.describe()} must be f32 [${channels}]`);
}

/** The geometry of conv2d(x, weight) with the options; errors name the shapes. */
export function conv2dGeometry(x: Tensor, weight: Tensor, options: Conv2dOptions = {}): ConvGeometry {
  require4d('conv2d', 'input', x);
  return geometryOfShape('conv2d', x.shape, weight, options);
}

function geometryOfShape(
  op: string,
  xShape: readonly number[],
  weight: Tensor,
  options: Conv2dOptions,
): ConvGeometry {
  require4d(op, 'weight', weight);
  const [sh, sw] = pair(op, 'stride', options.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', options.padding, 0, 0);
  const [dh, dw] = pair(op, 'dilation', options.dilation, 1, 1);
  const [N, C, H, W] = xShape;
  const [K, Cw, R, S] = weight.shape;
  if (Cw !== C)
    throw new ShapeError(
      op,
      `input [${xShape.join(', ')}] has ${C} channels but weight ${shapeText(weight)} expects ${Cw}`,
    );
  const P = Math.floor((H + 2 * ph - dh * (R - 1) - 1) / sh) + 1;
  const Q = Math.floor((W + 2 * pw - dw * (S - 1) - 1) / sw) + 1;
  if (P <= 0 || Q <= 0)
    throw new ShapeError(
      op,
      `input [${xShape.join(', ')}] with padding (${ph}, ${pw}) is smaller than the dilated kernel of weight ${shapeText(weight)}`,
    );
  return { N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw };
}

/**
 * y = conv2d(x [N, C, H, W], weight [K, C, R, S]) + bias [K] with stride, zero padding and dilation; output
 * [N, K, ⌊(H + 2p − d(R−1) − 1)/s⌋ + 1, …]. Gradients for x, weight and bias.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(x, weight, options);
  checkBias('conv2d', bias, g.K);
  const y = convForwardRaw(x, weight, bias ?? null, g);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, 'conv2d', inputs, (dy) => [
    x.requiresGrad ? convInputGradRaw(dy, weight, null, g) : null,
    weight.requiresGrad ? convWeightGradRaw(dy, x, g) : null,
    ...(bias ? [bias.requiresGrad ? sum(dy, [0, 2, 3]) : null] : []),
  ]);
}

/** The geometry of a convolution over the channel concatenation of xs, and each part's channel count. */
export function concatGeometry(
  op: string,
  xs: readonly Tensor[],
  weight: Tensor,
  options: Conv2dOptions,
): { g: ConvGeometry; channels: number[] } {
  if (xs.length < 1 || xs.length > 6) throw new ShapeError(op, `takes 1 to 6 inputs, got ${xs.length}`);
  for (const [i, x] of xs.entries()) require4d(op, `input ${i}`, x);
  const [N, , H, W] = xs[0].shape;
  if (xs.some((x) => x.shape[0] !== N || x.shape[2] !== H || x.shape[3] !== W))
    throw new ShapeError(
      op,
      `inputs ${xs.map(shapeText).join(', ')} must agree in batch, height and width to be concatenated`,
    );
  const channels = xs.map((x) => x.shape[1]);
  const C = channels.reduce((a, b) => a + b, 0);
  return { g: geometryOfShape(op, [N, C, H, W], weight, options), channels };
}

/**
 * conv2d(concat(xs, 1), weight, bias): a convolution over the channel concatenation of xs (same N, H, W), read in
 * place: the concatenated tensor is never made (a U-Net decoder's [upsampled, skip] input), and the input
 * gradient is written straight into one tensor per part. Up to 6 parts.
 */
export function conv2dConcat(
  xs: readonly Tensor[],
  weight: Tensor,
  bias?: Tensor | null,
  options: Conv2dOptions = {},
): Tensor {
  const op = 'conv2d_concat';
  if (xs.length === 1) return conv2d(xs[0], weight, bias, options);
  const { g, channels } = concatGeometry(op, xs, weight, options);
  checkBias(op, bias, g.K);
  const y = convForwardRaw(xs, weight, bias ?? null, g);
  const inputs = bias ? [...xs, weight, bias] : [...xs, weight];
  return record(y, op, inputs, (dy) => {
    let dxs: (Tensor | null)[] = xs.map(() => null);
    if (xs.some((x) => x.requiresGrad)) {
      const parts = convInputGradPartsRaw(dy, weight, null, g, channels);
      dxs = parts.map((d, i) => {
        if (xs[i].requiresGrad) return d;
        d.dispose();
        return null;
      });
    }
    return [
      ...dxs,
      weight.requiresGrad ? convWeightGradRaw(dy, xs, g) : null,
      ...(bias ? [bias.requiresGrad ? sum(dy, [0, 2, 3]) : null] : []),
    ];
  });
}
