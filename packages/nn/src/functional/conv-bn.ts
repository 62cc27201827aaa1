/**
 * Inference fusion: conv2d → BatchNorm2d in eval mode (running statistics) → optional ReLU as one kernel, the
 * BatchNorm folded into a per-channel scale and shift applied where the convolution stores its output. Saves two
 * passes over each activation and the tensors between them.
 */
import { isGradEnabled, kernel, needsGrad, runtime, ShapeError, Tensor } from '@mriseg/tensor-wgsl';
import { convForwardRaw } from './conv/direct.js';
import { foldBatchNormSpec } from './conv-bn.wgsl.js';
import { type Conv2dOptions, checkBias, concatGeometry, conv2dGeometry } from './conv2d.js';

/** An eval-mode BatchNorm2d's tensors (weight and bias null when it is not affine). */
export interface FoldableBatchNorm {
  runningMean: Tensor;
  runningVar: Tensor;
  weight: Tensor | null;
  bias: Tensor | null;
  eps: number;
}

export interface Conv2dBatchNormOptions extends Conv2dOptions {
  relu?: boolean;
}

function checkChannels(what: string, t: Tensor | null, C: number): void {
  if (t && (t.rank !== 1 || t.shape[0] !== C || t.dtype !== 'f32'))
    throw new ShapeError('conv2d_batch_norm_eval', `${what} ${t.describe()} must be f32 [${C}]`);
}

/**
 * relu?(batch_norm(conv2d(x, weight, convBias), running statistics)) without gradients: for inference (eval
 * mode, under noGrad). Equal to the three ops in sequence up to float rounding.
 */
export function conv2dBatchNormEval(
  x: Tensor | readonly Tensor[],
  weight: Tensor,
  convBias: Tensor | null,
  bn: FoldableBatchNorm,
  options: Conv2dBatchNormOptions = {},
): Tensor {
  // Several inputs: the convolution reads their channel concatenation in place (conv2dConcat).
  const xs: readonly Tensor[] = Array.isArray(x) ? x : [x as Tensor];
  const g =
    xs.length === 1
      ? conv2dGeometry(xs[0], weight, options)
      : concatGeometry('conv2d_batch_norm_eval', xs, weight, options).g;
  checkBias('conv2d', convBias, g.K);
  if (isGradEnabled() && needsGrad(...xs, weight, convBias, bn.weight, bn.bias))
    throw new ShapeError(
      'conv2d_batch_norm_eval',
      'has no backward rule: call it under noGrad() (inference)',
    );
  checkChannels('running_mean', bn.runningMean, g.K);
  checkChannels('running_var', bn.runningVar, g.K);
  checkChannels('weight', bn.weight, g.K);
  checkChannels('bias', bn.bias, g.K);
  if ((bn.weight === null) !== (bn.bias === null))
    throw new ShapeError('conv2d_batch_norm_eval', 'BatchNorm weight and bias must be given together');
  const affine = bn.weight !== null && bn.bias !== null;
  const scale = Tensor.empty([g.K], 'f32', 'conv2d_batch_norm_scale');
  const shift = Tensor.empty([g.K], 'f32', 'conv2d_batch_norm_shift');
  const bindings: Record<string, GPUBuffer> = {
    Mean: bn.runningMean.buffer,
    Var: bn.runningVar.buffer,
    Scale: scale.buffer,
    Shift: shift.buffer,
  };
  if (affine) {
    bindings.Gamma = bn.weight!.buffer;
    bindings.Beta = bn.bias!.buffer;
  }
  if (convBias) bindings.ConvBias = convBias.buffer;
  const fold = kernel(`conv_bn.fold|${affine}|${convBias !== null}`, () =>
    foldBatchNormSpec(affine, convBias !== null),
  );
  runtime().dispatchKernel(fold, bindings, { C: g.K, eps: bn.eps }, [Math.ceil(g.K / 64)]);
  const y = convForwardRaw(xs.length === 1 ? xs[0] : xs, weight, null, g, {
    scale,
    shift,
    relu: options.relu ?? false,
  });
  scale.dispose();
  shift.dispose();
  return y;
}
