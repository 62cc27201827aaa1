/**
 * One training step, the unit `train` and `bench` repeat: forward, loss, backward, optional gradient clipping,
 * optimizer step. Kept in one function so that a faster way of issuing the same step (e.g. recording it once and
 * replaying it) can take its place in both loops.
 */
import type { SegmentationModel } from '@mriseg/models';
import { clipGradNorm, deepSupervision, type Optimizer } from '@mriseg/nn';
import { scope, type Tensor } from '@mriseg/tensor-wgsl';

type LossFn = (logits: Tensor, target: Tensor) => Tensor;

export interface StepParts {
  model: SegmentationModel;
  optimizer: Optimizer<{ lr: number }>;
  /** The loss of the model's heads (one head, or the deep-supervision mean of several). */
  loss: (heads: Tensor[], target: Tensor) => Tensor;
  /** Global L2 norm the gradients are clipped to; 0: no clipping. */
  clipGrad: number;
  params: readonly Tensor[];
}

/** The loss of a model's output heads: `loss` of the only head, or the mean over the heads (deep supervision). */
export function headsLoss(loss: LossFn): StepParts['loss'] {
  const mean = deepSupervision(loss);
  return (heads, target) => (heads.length > 1 ? mean(heads, target) : loss(heads[0], target));
}

/** One optimizer step on the batch (x, y). Returns the loss, detached and not read back (the caller owns it). */
export function trainStep(p: StepParts, x: Tensor, y: Tensor): Tensor {
  return scope(() => {
    p.optimizer.zeroGrad();
    const loss = p.loss(p.model.forwardHeads(x), y);
    loss.backward();
    if (p.clipGrad > 0) clipGradNorm(p.params, p.clipGrad);
    p.optimizer.step();
    return loss.detach();
  });
}
