/** Binary cross-entropy on logits, in the numerically stable form (no log of a sigmoid). */
import { mapElementwise, record, type Tensor } from '@mriseg/tensor-wgsl';
import { checkPair, type Reduction, reduceLoss } from './reduce-loss.js';

export interface BceOptions {
  /** Weight of the positive class (PyTorch's pos_weight), e.g. #negatives/#positives. */
  posWeight?: number;
  reduction?: Reduction;
}

/**
 * Elementwise loss l = (1 − t)·x + w_t·softplus(−x) with w_t = 1 + (posWeight − 1)·t, which is PyTorch's
 * binary_cross_entropy_with_logits; softplus(−x) = max(−x, 0) + log1p(exp(−|x|)) never overflows.
 */
export function bceWithLogitsMap(logits: Tensor, target: Tensor, posWeight = 1): Tensor {
  checkPair('bceWithLogits', logits, target);
  const out = mapElementwise(
    'bce_with_logits',
    '(1.0 - v1) * v0 + (1.0 + (s0 - 1.0) * v1) * (max(-v0, 0.0) + log(1.0 + exp(-abs(v0))))',
    [logits, target],
    { scalars: [posWeight] },
  );
  return record(out, 'bce_with_logits', [logits, target], (g) => [
    // dl/dx = (1 − t) + w_t·(σ(x) − 1); no gradient flows to the target (PyTorch computes one, nobody uses it).
    mapElementwise(
      'bce_with_logits_backward',
      'v0 * ((1.0 - v2) + (1.0 + (s0 - 1.0) * v2) * (1.0 / (1.0 + exp(-v1)) - 1.0))',
      [g, logits, target],
      { scalars: [posWeight] },
    ),
    null,
  ]);
}

export function bceWithLogits(logits: Tensor, target: Tensor, options: BceOptions = {}): Tensor {
  return reduceLoss(bceWithLogitsMap(logits, target, options.posWeight ?? 1), options.reduction ?? 'mean');
}
