/** 2-D convolution (PyTorch's F.conv2d without groups) with its backward rule. */
import { record, ShapeError, sum, type Tensor } from '@mriseg/tensor-wgsl';
import { type ConvGeometry, convForwardRaw, convInputGradRaw, convWeightGradRaw } from './conv.js';

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
  require4d('conv2d', 'weight', weight);
  const [sh, sw] = pair('conv2d', 'stride', options.stride, 1, 1);
  const [ph, pw] = pair('conv2d', 'padding', options.padding, 0, 0);
  const [dh, dw] = pair('conv2d', 'dilation', options.dilation, 1, 1);
  const [N, C, H, W] = x.shape;
  const [K, Cw, R, S] = weight.shape;
  if (Cw !== C)
    throw new ShapeError(
      'conv2d',
      `input ${shapeText(x)} has ${C} channels but weight ${shapeText(weight)} expects ${Cw}`,
    );
  const P = Math.floor((H + 2 * ph - dh * (R - 1) - 1) / sh) + 1;
  const Q = Math.floor((W + 2 * pw - dw * (S - 1) - 1) / sw) + 1;
  if (P <= 0 || Q <= 0)
    throw new ShapeError(
      'conv2d',
      `input ${shapeText(x)} with padding (${ph}, ${pw}) is smaller than the dilated kernel of weight ${shapeText(weight)}`,
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
