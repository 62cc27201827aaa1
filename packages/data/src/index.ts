export {
  type AugmentOptions,
  type AugmentParams,
  augmentSlice,
  drawAugmentParams,
  REFERENCE_AUGMENT,
} from './augment.js';
export { nearestIndices, prefilterQuadratic, quadraticTaps, SPLINE_PAD } from './bspline.js';
export {
  CACHE_FORMAT,
  type CacheLookup,
  cacheKey,
  cachePath,
  cacheSecret,
  readCachedVolume,
  writeCachedVolume,
} from './cache.js';
export { type LoadedDataset, type LoadOptions, loadDataset, readDataset } from './dataset.js';
export { DataError, defaultWarningSink, type WarningSink } from './errors.js';
export {
  type FileStamp,
  type ImageFormat,
  type PatientFiles,
  type ScanOptions,
  type SliceFiles,
  type SliceFolder,
  scanDataset,
  scanPatient,
  scanSliceFolder,
} from './layout.js';
export {
  checkDeclaredSize,
  checkVolumeBytes,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  resolveLimits,
} from './limits.js';
export { type Batch, BatchLoader, type LoaderOptions, volumeBatches } from './loader.js';
export { binariseMask, type MaskDecision, MaskValueTally } from './mask-values.js';
export {
  generatePhantomPatient,
  type PhantomDatasetOptions,
  type PhantomOptions,
  phantomId,
  writePatientFolder,
  writePhantomDataset,
} from './phantom.js';
export { decodePng, encodePng } from './png.js';
export { defaultWorkerUrl, type PoolOptions, WorkerPool } from './pool.js';
export {
  MAX_PREPROCESS_SIZE,
  type PreprocessInfo,
  type PreprocessOptions,
  preprocess,
  REFERENCE_PREPROCESS,
  resolvePreprocess,
  type Volume,
} from './preprocess.js';
export { checkRasterShape, type Raster } from './raster.js';
export {
  decodeImageBytes,
  decodeImageFile,
  type RawPatient,
  type ReadOptions,
  readFileBytes,
  readPatient,
  readPatientBytes,
} from './reader.js';
export { resizeNearest, resizeQuadratic } from './resize.js';
export { type OriginalFrame, type PreprocessedGeometry, restoreMask } from './restore.js';
export {
  type MaskedVolume,
  ReferenceSampler,
  referenceSliceWeights,
  type Sampler,
  type SliceRef,
  sliceAreas,
  UniformSampler,
} from './sampler.js';
export { deriveRng, seedFromString } from './seed.js';
export { percentiles } from './select.js';
export { type GroupOptions, groupSlices, parseSliceName, type SliceGroup, type SliceName } from './slices.js';
export { assertOutsideSource, isWithin, realPathOf } from './source-guard.js';
export {
  makeSplit,
  REFERENCE_VALIDATION_IDS,
  type Split,
  type SplitSpec,
  tumourVolumes,
  writeSplitManifest,
} from './split.js';
export type { AugmentItem, SharedVolume } from './tasks.js';
export { decodeTiff, encodeTiff, SUPPORTED_TIFF_COMPRESSIONS, type TiffWriteOptions } from './tiff.js';
export { applyHorizontalPredictor, compressLzw, compressPackBits } from './tiff-compress.js';
