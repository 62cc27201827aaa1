/** Soft Dice loss on logits (sigmoid applied here). */
import { add, mean, mul, rsub, sigmoid, sum, type Tensor } from '@mriseg/tensor-wgsl';
import { checkPair } from './reduce-loss.js';

export interface DiceOptions {
  /** Added to numerator and denominator; the reference uses 1. */
  smooth?: number;
  /**
   * 'batch' pools all pixels of the batch into one Dice (the reference); 'per-sample' averages the Dice losses of
   * the samples.
   */
  reduction?: 'batch' | 'per-sample';
  /** Denominator Σp² + Σt² (V-Net) instead of Σp + Σt. */
  squared?: boolean;
}

/** 1 − (2·Σp·t + smooth) / (Σp + Σt + smooth), p = σ(logits). */
export function diceLoss(logits: Tensor, target: Tensor, options: DiceOptions = {}): Tensor {
  checkPair('diceLoss', logits, target);
  const smooth = options.smooth ?? 1;
  const perSample = (options.reduction ?? 'batch') === 'per-sample';
  const axes = perSample ? [...logits.shape.keys()].slice(1) : undefined;
  const p = sigmoid(logits);
  const inter = sum(mul(p, target), axes);
  const denom = options.squared
    ? add(sum(mul(p, p), axes), sum(mul(target, target), axes))
    : add(sum(p, axes), sum(target, axes));
  const ratio = add(mul(inter, 2), smooth).div(add(denom, smooth));
  const loss = rsub(ratio, 1);
  return perSample ? mean(loss) : loss;
}
