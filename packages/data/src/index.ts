// The browser-safe part (decoders, limits, naming rules, preprocessing: browser.ts) and what needs Node.

export {
  type AugmentOptions,
  type AugmentParams,
  augmentSlice,
  drawAugmentParams,
  REFERENCE_AUGMENT,
} from './augment.js';
export * from './browser.js';
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
export { defaultWarningSink } from './errors.js';
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
export { type Batch, BatchLoader, type LoaderOptions, volumeBatches } from './loader.js';
export {
  generatePhantomPatient,
  type PhantomDatasetOptions,
  type PhantomOptions,
  phantomId,
  writePatientFolder,
  writePhantomDataset,
} from './phantom.js';
export { defaultWorkerUrl, type PoolOptions, WorkerPool } from './pool.js';
export {
  decodeImageBytes,
  decodeImageFile,
  type ReadOptions,
  readFileBytes,
  readPatient,
  readPatientBytes,
} from './reader.js';
export {
  type MaskedVolume,
  ReferenceSampler,
  referenceSliceWeights,
  type Sampler,
  type SliceRef,
  UniformSampler,
} from './sampler.js';
export { type CaseInput, loadCase, readDicomFolder, readScanFile, readTruth } from './scan-files.js';
export { deriveRng, seedFromString } from './seed.js';
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
export { encodeTiff, type TiffWriteOptions } from './tiff.js';
export { applyHorizontalPredictor, compressLzw, compressPackBits } from './tiff-compress.js';
