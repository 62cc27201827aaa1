export { bceWithLogits, bceWithLogitsMap, type BceOptions } from './bce.js';
export { bceDiceLoss, deepSupervision, type BceDiceOptions, type LossFn } from './combo.js';
export { diceLoss, type DiceOptions } from './dice.js';
export { focalLoss, type FocalOptions } from './focal.js';
export { LOSS_NAMES, createLoss, type LossName, type LossOptions } from './registry.js';
export { type Reduction } from './reduce-loss.js';
export { focalTverskyLoss, tverskyLoss, type FocalTverskyOptions, type TverskyOptions } from './tversky.js';
