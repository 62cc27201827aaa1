export { Adam, type AdamOptions } from './adam.js';
export { AdamW } from './adamw.js';
export { clipGradNorm } from './clip.js';
export { ExponentialMovingAverage } from './ema.js';
export type { FlatState } from './flat.js';
export type { FlatParam } from './foreach.js';
export {
  Optimizer,
  type OptimizerStateDict,
  type OptimizerStateInput,
  type ParamGroup,
  type ParamsInput,
} from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
