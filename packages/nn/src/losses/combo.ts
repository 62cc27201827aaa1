/** Weighted sums of losses: BCE + Dice, and deep supervision over several heads. */
import { add, mul, type Tensor } from '@mriseg/tensor-wgsl';
import { bceWithLogits } from './bce.js';
import { type DiceOptions, diceLoss } from './dice.js';

export interface BceDiceOptions extends DiceOptions {
  bceWeight?: number;
  diceWeight?: number;
  posWeight?: number;
}

/** bceWeight·BCE + diceWeight·Dice (both 0.5 by default). */
export function bceDiceLoss(logits: Tensor, target: Tensor, options: BceDiceOptions = {}): Tensor {
  const wb = options.bceWeight ?? 0.5;
  const wd = options.diceWeight ?? 0.5;
  const bce = bceWithLogits(logits, target, { posWeight: options.posWeight });
  const dice = diceLoss(logits, target, options);
  return add(mul(bce, wb), mul(dice, wd));
}

export type LossFn = (logits: Tensor, target: Tensor) => Tensor;

/**
 * Deep supervision: Σ w_i·loss(head_i, target) / Σ w_i over the heads (UNet++ trains on the mean of its heads).
 * Every head must have the target's shape.
 */
export function deepSupervision(
  loss: LossFn,
  weights?: readonly number[],
): (heads: readonly Tensor[], target: Tensor) => Tensor {
  return (heads, target) => {
    if (heads.length === 0) throw new Error('deepSupervision: no heads');
    const w = weights ?? heads.map(() => 1);
    if (w.length !== heads.length) {
      throw new Error(`deepSupervision: ${w.length} weights for ${heads.length} heads`);
    }
    const total = w.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw new Error('deepSupervision: the weights must sum to a positive number');
    let acc: Tensor | null = null;
    heads.forEach((h, i) => {
      if (w[i] === 0) return;
      const term = mul(loss(h, target), w[i] / total);
      acc = acc ? add(acc, term) : term;
    });
    return acc!;
  };
}
