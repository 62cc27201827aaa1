export { type BatchNorm2dOptions, type BatchNormActivation, batchNorm2d } from './batchnorm.js';
export {
  autotuneConvolutions,
  type ConvTiming,
  type ConvTuneOptions,
  type ConvTuningResult,
  tuneConvolutions,
} from './conv/autotune.js';
export {
  type ConvAffine,
  type ConvImage,
  convForwardRaw,
  convInputGradPartsRaw,
  convInputGradRaw,
  convWeightGradRaw,
} from './conv/direct.js';
export { convKernelsFingerprint } from './conv/fingerprint.js';
export {
  type ConvGeometry,
  type ConvKernel,
  type ConvProblem,
  gemmExtent,
  inputGradGeometry,
  type WinogradTile,
  winogradEligible,
  winogradEligibleFor,
  winogradGeometry,
  winogradTiles,
  winogradTransformFloats,
} from './conv/geometry.js';
export {
  clearConvTilings,
  convTiling,
  convTilingProblem,
  defaultConvTiling,
  exportConvTilings,
  hasConvTiling,
  importConvTilings,
  importConvTilingsByLayer,
  recordConvProblems,
  setConvTiling,
} from './conv/tilings.js';
export { convForwardWinograd, convInputGradWinograd } from './conv/winograd.js';
export {
  type Conv2dBatchNormOptions,
  conv2dBatchNormEval,
  type FoldableBatchNorm,
} from './conv-bn.js';

export { type ConvTranspose2dOptions, convTranspose2d, convTranspose2dGeometry } from './conv-transpose2d.js';

export { type Conv2dOptions, conv2d, conv2dConcat, conv2dGeometry, type Pair } from './conv2d.js';
export { dropout } from './dropout.js';
export {
  type GemmTiling,
  gemmGrid,
  parseTilingKey,
  tilingKey,
  tilingProblem,
  workgroupStorageBytes,
} from './gemm.wgsl.js';
export { denseGemmRaw } from './gemm-dense.js';
export { candidateTilings, pickGpuTiling, pickTiling, tilingVariants } from './gemm-tilings.js';
export { type AvgPool2dOptions, avgPool2d, maxPool2d, type Pool2dOptions } from './pool.js';
export { type UpsampleMode, type UpsampleOptions, upsample } from './upsample.js';
