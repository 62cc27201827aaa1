/** Losses by name, for the CLI and configuration files. */
import type { Tensor } from '@mriseg/tensor-wgsl';
import { bceWithLogits } from './bce.js';
import { bceDiceLoss } from './combo.js';
import { diceLoss } from './dice.js';
import { focalLoss } from './focal.js';
import { focalTverskyLoss, tverskyLoss } from './tversky.js';

export const LOSS_NAMES = [
  'dice',
  'dice-per-sample',
  'bce',
  'bce-dice',
  'focal',
  'tversky',
  'focal-tversky',
] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/** Options shared by the named losses; each loss reads the ones it knows. */
export interface LossOptions {
  smooth?: number;
  squared?: boolean;
  posWeight?: number;
  bceWeight?: number;
  diceWeight?: number;
  alpha?: number;
  beta?: number;
  gamma?: number;
}

export function createLoss(
  name: string,
  options: LossOptions = {},
): (logits: Tensor, target: Tensor) => Tensor {
  switch (name as LossName) {
    case 'dice':
      return (x, t) => diceLoss(x, t, { smooth: options.smooth, squared: options.squared });
    case 'dice-per-sample':
      return (x, t) =>
        diceLoss(x, t, { smooth: options.smooth ?? 1e-5, squared: options.squared, reduction: 'per-sample' });
    case 'bce':
      return (x, t) => bceWithLogits(x, t, { posWeight: options.posWeight });
    case 'bce-dice':
      return (x, t) => bceDiceLoss(x, t, options);
    case 'focal':
      return (x, t) => focalLoss(x, t, { alpha: options.alpha, gamma: options.gamma });
    case 'tversky':
      return (x, t) =>
        tverskyLoss(x, t, { alpha: options.alpha, beta: options.beta, smooth: options.smooth });
    case 'focal-tversky':
      return (x, t) => focalTverskyLoss(x, t, options);
    default:
      throw new Error(`unknown loss "${name}"; choose one of ${LOSS_NAMES.join(', ')}`);
  }
}
