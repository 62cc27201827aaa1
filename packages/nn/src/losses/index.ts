export { type BceOptions, bceWithLogits, bceWithLogitsMap } from './bce.js';
export { type BceDiceOptions, bceDiceLoss, deepSupervision, type LossFn } from './combo.js';
export { type DiceOptions, diceLoss } from './dice.js';
export { type FocalOptions, focalLoss } from './focal.js';
export type { Reduction } from './reduce-loss.js';
export { createLoss, LOSS_NAMES, type LossName, type LossOptions } from './registry.js';
export { type FocalTverskyOptions, focalTverskyLoss, type TverskyOptions, tverskyLoss } from './tversky.js';
