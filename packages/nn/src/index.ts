/**
 * @mriseg/nn — convolution stack, layers, optimizers, schedules and checkpoints on @mriseg/tensor-wgsl.
 * File IO (checkpoints) is in `@mriseg/nn/node`.
 */
export {
  type ApplyTargets,
  applyCheckpoint,
  CHECKPOINT_FORMAT,
  type Checkpoint,
  CheckpointError,
  type CheckpointMetadata,
  type CheckpointParts,
  checkInferenceSpec,
  checkpointMetadataJson,
  type InferenceSpec,
  OPTIMIZER_PREFIX,
  type ParseCheckpointOptions,
  parseCheckpoint,
  parseTorchCheckpoint,
  serializeCheckpoint,
} from './checkpoint.js';
export * from './functional/index.js';
export { defaultBias, defaultRng, fanIn, kaimingUniform, manualSeed, uniform } from './init.js';
export * from './layers/index.js';
export * from './losses/index.js';
export {
  type AnyModule,
  assignValue,
  type HostTensor,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  StateDictError,
  type StateDictInput,
  type StateValue,
} from './module.js';
export * from './optim/index.js';
export * from './schedules.js';
export { VERSION } from './version.js';
