import { full, type Tensor, zeros } from '@mriseg/tensor-wgsl';
import { type BatchNormActivation, batchNorm2d } from '../functional/batchnorm.js';
import { Module } from '../module.js';

export interface BatchNorm2dLayerOptions {
  eps?: number;
  /** Default 0.1; null = cumulative moving average. */
  momentum?: number | null;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
  /** Keep running statistics (default true); without them batch statistics are used in eval too. */
  trackRunningStats?: boolean;
}

/**
 * nn.BatchNorm2d: parameters `weight` (ones), `bias` (zeros); buffers `running_mean` (zeros), `running_var`
 * (ones) and `num_batches_tracked` (int32 here, int64 in PyTorch files; the checkpoint code converts).
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;

  constructor(
    readonly numFeatures: number,
    options: BatchNorm2dLayerOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', full([numFeatures], 1)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures])) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? this.registerBuffer('running_mean', zeros([numFeatures])) : null;
    this.runningVar = track ? this.registerBuffer('running_var', full([numFeatures], 1)) : null;
    this.numBatchesTracked = track ? this.registerBuffer('num_batches_tracked', zeros([], 'i32')) : null;
  }

  forward(x: Tensor): Tensor {
    return this.forwardFused(x, 'none');
  }

  /**
   * forward followed by `activation` in the same kernels (Sequential uses it for BatchNorm2d → ReLU); running
   * statistics and num_batches_tracked advance exactly as in forward.
   */
  forwardFused(x: Tensor, activation: BatchNormActivation): Tensor {
    const useBatchStats = this.training || this.runningMean === null;
    return batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: useBatchStats,
      momentum: this.momentum,
      eps: this.eps,
      // In eval mode nothing is updated; in training the counter advances with the running statistics.
      numBatchesTracked: this.training ? this.numBatchesTracked : null,
      activation,
    });
  }
}
