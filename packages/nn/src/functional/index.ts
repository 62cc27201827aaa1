export { type BatchNorm2dOptions, type BatchNormActivation, batchNorm2d } from './batchnorm.js';
export {
  type ConvAffine,
  type ConvGeometry,
  type ConvImage,
  convForwardRaw,
  convInputGradPartsRaw,
  convInputGradRaw,
  convWeightGradRaw,
} from './conv.js';
export {
  autotuneConvolutions,
  type ConvTiming,
  type ConvTuneOptions,
  type ConvTuningResult,
  tuneConvolutions,
} from './conv-autotune.js';
export {
  type Conv2dBatchNormOptions,
  conv2dBatchNormEval,
  type FoldableBatchNorm,
} from './conv-bn.js';
export { convKernelsFingerprint } from './conv-fingerprint.js';
export {
  type ConvKernel,
  type ConvProblem,
  clearConvTilings,
  convTiling,
  convTilingProblem,
  defaultConvTiling,
  exportConvTilings,
  gemmExtent,
  hasConvTiling,
  importConvTilings,
  importConvTilingsByLayer,
  recordConvProblems,
  setConvTiling,
} from './conv-tiling.js';
export { type ConvTranspose2dOptions, convTranspose2d, convTranspose2dGeometry } from './conv-transpose2d.js';
export {
  convForwardWinograd,
  convInputGradWinograd,
  inputGradGeometry,
  type WinogradTile,
  winogradEligible,
  winogradEligibleFor,
  winogradGeometry,
  winogradTiles,
  winogradTransformFloats,
} from './conv-winograd.js';
export { type Conv2dOptions, conv2d, conv2dConcat, conv2dGeometry, type Pair } from './conv2d.js';
export { dropout } from './dropout.js';
export {
  candidateTilings,
  type GemmTiling,
  gemmGrid,
  parseTilingKey,
  pickGpuTiling,
  pickTiling,
  tilingKey,
  tilingProblem,
  tilingVariants,
  workgroupStorageBytes,
} from './gemm.wgsl.js';
export { denseGemmRaw } from './gemm-dense.js';
export { type AvgPool2dOptions, avgPool2d, maxPool2d, type Pool2dOptions } from './pool.js';
export { type UpsampleMode, type UpsampleOptions, upsample } from './upsample.js';
