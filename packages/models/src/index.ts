/**
 * @mriseg/models — U-Net, Attention U-Net, UNet++ and ResU-Net on @mriseg/nn, with PyTorch parameter names.
 * All models return logits. Checkpoint files: `@mriseg/models/node`.
 */

export { initDevice, sigmoid } from '@mriseg/tensor-wgsl';
export { AttentionGate, AttentionUNet } from './attention-unet.js';
export { convBlock, type ModelOptions, NamedSequential, SegmentationModel } from './blocks.js';
export { releaseInference } from './inference-graph.js';
export {
  inferenceOf,
  LGG_CHANNELS,
  PREPROCESS_OPTION_KEYS,
  preprocessOptionsOf,
  REFERENCE_INFERENCE,
  REFERENCE_PREPROCESSING,
  type ResolvedInference,
} from './inference-spec.js';
export {
  exportOnnx,
  ONNX_INPUT,
  ONNX_LOGITS,
  ONNX_PROBABILITIES,
  type OnnxExportOptions,
  onnxFromStateDict,
  type UNetPlusPlusHead,
} from './onnx/export.js';
export type { BatchNormExport } from './onnx/graph.js';
export { decodeOnnxModel, type OnnxModel } from './onnx/schema.js';
export { type PredictOptions, predictVolume, sigmoidArray, type VolumeInput } from './predict.js';
export {
  type CreateModelOptions,
  createModel,
  MODEL_NAMES,
  type ModelName,
  modelFromConfig,
} from './registry.js';
export { ResidualBlock, ResUNet } from './resunet.js';
export { configFromStateDict } from './state-dict-config.js';
export { UNet } from './unet.js';
export { UNetPlusPlus, type UNetPlusPlusOptions } from './unet-plus-plus.js';
