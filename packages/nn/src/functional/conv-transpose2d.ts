/**
 * 2-D transposed convolution (PyTorch's F.conv_transpose2d without groups). It is the input gradient of a
 * convolution, so it runs on the same three kernels with the roles swapped: forward = conv input gradient,
 * input gradient = conv forward, weight gradient = conv weight gradient with x and dy exchanged.
 */
import { record, ShapeError, sum, type Tensor } from '@mriseg/tensor-wgsl';
import { convForwardRaw, convInputGradRaw, convWeightGradRaw } from './conv/direct.js';
import type { ConvGeometry } from './conv/geometry.js';
import { checkBias, type Pair, pair, require4d, shapeText } from './conv2d.js';

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
}

/** The forward-convolution geometry whose input gradient is conv_transpose2d(x, weight). */
export function convTranspose2dGeometry(
  x: Tensor,
  weight: Tensor,
  options: ConvTranspose2dOptions = {},
): ConvGeometry {
  const op = 'conv_transpose2d';
  require4d(op, 'input', x);
  require4d(op, 'weight', weight);
  const [sh, sw] = pair(op, 'stride', options.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', options.padding, 0, 0);
  const [oph, opw] = pair(op, 'outputPadding', options.outputPadding, 0, 0);
  const [dh, dw] = pair(op, 'dilation', options.dilation, 1, 1);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw))
    throw new ShapeError(op, `outputPadding (${oph}, ${opw}) must be smaller than stride or dilation`);
  const [N, Cin, Hin, Win] = x.shape;
  const [Cw, Cout, R, S] = weight.shape;
  if (Cw !== Cin)
    throw new ShapeError(
      op,
      `input ${shapeText(x)} has ${Cin} channels but weight ${shapeText(weight)} (in, out, kh, kw) expects ${Cw}`,
    );
  const H = (Hin - 1) * sh - 2 * ph + dh * (R - 1) + oph + 1;
  const W = (Win - 1) * sw - 2 * pw + dw * (S - 1) + opw + 1;
  if (H <= 0 || W <= 0)
    throw new ShapeError(op, `input ${shapeText(x)} and weight ${shapeText(weight)} give an empty output`);
  // In conv terms: the transposed conv's output is the conv's image (C = Cout), its input the conv's output.
  return { N, C: Cout, H, W, K: Cin, P: Hin, Q: Win, R, S, sh, sw, ph, pw, dh, dw };
}

/**
 * y = conv_transpose2d(x [N, Cin, H, W], weight [Cin, Cout, R, S]) + bias [Cout]; output
 * [N, Cout, (H−1)s − 2p + d(R−1) + outputPadding + 1, …]. Gradients for x, weight and bias.
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const g = convTranspose2dGeometry(x, weight, options);
  checkBias('conv_transpose2d', bias, g.C);
  const y = convInputGradRaw(x, weight, bias ?? null, g);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, 'conv_transpose2d', inputs, (dy) => [
    x.requiresGrad ? convForwardRaw(dy, weight, null, g) : null,
    weight.requiresGrad ? convWeightGradRaw(x, dy, g) : null,
    ...(bias ? [bias.requiresGrad ? sum(dy, [0, 2, 3]) : null] : []),
  ]);
}
