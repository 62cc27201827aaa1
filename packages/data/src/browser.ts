/**
 * The browser-safe part of @mriseg/data (`@mriseg/data/browser`): decoding and validating slices from bytes,
 * the reference preprocessing and its helpers (bias-field correction and skull stripping among its options), with no file system, worker threads or caches.
 *
 * The decoders inflate with `inflateSync` from `node:zlib` (with its `maxOutputLength` bound): a browser bundle must
 * map `node:zlib` to an implementation of `inflateSync`/`deflateSync`/`gunzipSync`/`gzipSync` that honours it (the
 * viewer's uses pako; `gunzipSync` must also honour `finishFlush: constants.Z_SYNC_FLUSH` on a partial stream).
 */

export {
  type Affine,
  affineDifference,
  affineSpacing,
  affineToQuaternion,
  axisCodes,
  formatAffine,
  identityAffine,
  orientationCode,
} from './affine.js';
export {
  type AugmentOptions,
  type AugmentParams,
  augmentSlice,
  drawAugmentParams,
  REFERENCE_AUGMENT,
} from './augment.js';
export {
  type BiasCorrectionOptions,
  type BiasField,
  correctBiasField,
  DEFAULT_BIAS_CORRECTION,
  estimateBiasField,
} from './bias-field.js';
export { nearestIndices, prefilterQuadratic, quadraticTaps, SPLINE_PAD } from './bspline.js';
export {
  CHANNEL_KEYS,
  type ChannelKey,
  type ChannelMap,
  type Channels,
  channelsFrom,
  channelsFromOne,
  guessChannelMap,
  matchesDescription,
  parseChannelMap,
} from './channels.js';
export {
  assembleSeries,
  type DicomInstance,
  groupBySeries,
  isDicomPart10,
  PATIENT_STUDY_TAGS,
  parseDicomInstance,
  tagName,
} from './dicom.js';
export { encodeDicomSeg, packBits, readDicomSeg, SEG_SOP_CLASS, type SegOptions } from './dicom-seg.js';
export {
  type DicomAttr,
  type DicomItem,
  type DicomValue,
  encodeAttributes,
  encodePart10,
  newUid,
} from './dicom-write.js';
export { DataError, type WarningSink } from './errors.js';
export {
  checkDeclaredSize,
  checkVolumeBytes,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  resolveLimits,
} from './limits.js';
export { binariseMask, type MaskDecision, MaskValueTally } from './mask-values.js';
export { looksLikeNifti, niftiAffine, readNifti } from './nifti.js';
export {
  encodeNifti,
  type NiftiWriteOptions,
  type NiftiWriteType,
  niftiSpaceFromAffine,
} from './nifti-write.js';
export { decodePng, encodePng } from './png.js';
export type { ScanPatient } from './preprocess.js';
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
export type { RawPatient } from './reader.js';
export { resizeNearest, resizeQuadratic } from './resize.js';
export {
  type OriginalFrame,
  type PreprocessedGeometry,
  restoreMask,
  restoreVolume,
} from './restore.js';
export { sliceAreas } from './sampler.js';
export {
  caseFromChannels,
  caseFromFiles,
  caseFromSeries,
  caseFromVolume,
  caseName,
  type DicomFolder,
  describeSeries,
  dicomFolderFrom,
  isNiftiPath,
  type LoadedCase,
  type ScanFileBytes,
  scanFromBytes,
} from './scan-case.js';
export { maskAsNifti, type ScanGrid, toSourceVoxels } from './scan-output.js';
export {
  gridDifference,
  type ModelAxis,
  type ModelFrame,
  modelFrameOf,
  type ScanPatientResult,
  scanToModel,
  toModelOrientation,
  toSourceGrid,
} from './scan-to-model.js';
export {
  type DicomSeries,
  type DicomSlice,
  frameOf,
  type NiftiSpace,
  type ScanVolume,
  voxelCount,
} from './scan-volume.js';
export { percentiles } from './select.js';
export {
  brainMask,
  combineChannels,
  convexHullPerSlice,
  DEFAULT_SKULL_STRIP,
  resolveSkullStrip,
  type SkullStripOptions,
} from './skull-strip.js';
export { type GroupOptions, groupSlices, parseSliceName, type SliceGroup, type SliceName } from './slices.js';
export { decodeTiff, encodeTiff, SUPPORTED_TIFF_COMPRESSIONS, type TiffWriteOptions } from './tiff.js';
