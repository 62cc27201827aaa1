/**
 * Sigmoid focal loss (Lin et al. 2017) on a one-channel map: each pixel is its own binary problem. (A focal loss
 * built on a softmax cross-entropy over a single channel is constant and learns nothing.)
 */
import { add, mul, powScalar, sigmoid, type Tensor } from '@mriseg/tensor-wgsl';
import { bceWithLogitsMap } from './bce.js';
import { type Reduction, reduceLoss } from './reduce-loss.js';

export interface FocalOptions {
  /** Weight of the positive class (negatives get 1 − α); negative to disable. */
  alpha?: number;
  gamma?: number;
  reduction?: Reduction;
}

/** α_t·(1 − p_t)^γ·BCE(x, t) with p_t = p·t + (1 − p)(1 − t), as torchvision's sigmoid_focal_loss. */
export function focalLoss(logits: Tensor, target: Tensor, options: FocalOptions = {}): Tensor {
  const alpha = options.alpha ?? 0.25;
  const gamma = options.gamma ?? 2;
  const ce = bceWithLogitsMap(logits, target);
  const p = sigmoid(logits);
  // 1 − p_t = p + t − 2·p·t
  const oneMinusPt = add(add(p, target), mul(mul(p, target), -2));
  let loss = mul(ce, powScalar(oneMinusPt, gamma));
  if (alpha >= 0) {
    // α_t = α·t + (1 − α)(1 − t) = (1 − α) + (2α − 1)·t
    loss = mul(loss, add(mul(target, 2 * alpha - 1), 1 - alpha));
  }
  return reduceLoss(loss, options.reduction ?? 'mean');
}
