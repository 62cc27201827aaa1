/** Tversky and focal-Tversky losses on logits (batch-pooled). */
import { add, mul, powScalar, rsub, sigmoid, sum, type Tensor } from '@mriseg/tensor-wgsl';
import { checkPair } from './reduce-loss.js';

export interface TverskyOptions {
  /** Weight of false positives. */
  alpha?: number;
  /** Weight of false negatives. */
  beta?: number;
  smooth?: number;
}

/** The Tversky index TI = (TP + s) / (TP + α·FP + β·FN + s) with soft counts from p = σ(logits). */
function tverskyIndex(logits: Tensor, target: Tensor, options: TverskyOptions, loss: string): Tensor {
  checkPair(loss, logits, target);
  const alpha = options.alpha ?? 0.3;
  const beta = options.beta ?? 0.7;
  const smooth = options.smooth ?? 1;
  const p = sigmoid(logits);
  const tp = sum(mul(p, target));
  const sp = sum(p);
  const st = sum(target);
  // FP = Σp − TP and FN = Σt − TP, so the denominator is (1 − α − β)·TP + α·Σp + β·Σt + s.
  const denom = add(add(add(mul(tp, 1 - alpha - beta), mul(sp, alpha)), mul(st, beta)), smooth);
  return add(tp, smooth).div(denom);
}

/** 1 − TI (α weighs false positives, β false negatives; α = β = 0.5 is the Dice loss). */
export function tverskyLoss(logits: Tensor, target: Tensor, options: TverskyOptions = {}): Tensor {
  return rsub(tverskyIndex(logits, target, options, 'tverskyLoss'), 1);
}

export interface FocalTverskyOptions extends TverskyOptions {
  /** Exponent on (1 − TI); Abraham & Khan (2019) use 1/γ with γ = 4/3, i.e. 0.75. */
  gamma?: number;
}

/** (1 − TI)^γ. */
export function focalTverskyLoss(logits: Tensor, target: Tensor, options: FocalTverskyOptions = {}): Tensor {
  const oneMinus = rsub(tverskyIndex(logits, target, options, 'focalTverskyLoss'), 1);
  return powScalar(oneMinus, options.gamma ?? 0.75);
}
