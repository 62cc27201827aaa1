/**
 * The browser-safe part of @mriseg/data (`@mriseg/data/browser`): decoding and validating slices from bytes,
 * the reference preprocessing and its helpers (bias-field correction and skull stripping among its options), with no file system, worker threads or caches.
 *
 * The decoders inflate with `inflateSync` from `node:zlib` (with its `maxOutputLength` bound): a browser bundle must
 * map `node:zlib` to an implementation of `inflateSync`/`deflateSync` that honours it (the viewer's uses pako).
 */
export {
  type BiasCorrectionOptions,
  type BiasField,
  correctBiasField,
  DEFAULT_BIAS_CORRECTION,
  estimateBiasField,
} from './bias-field.js';
export { nearestIndices, prefilterQuadratic, quadraticTaps, SPLINE_PAD } from './bspline.js';
export { DataError, type WarningSink } from './errors.js';
export {
  checkDeclaredSize,
  checkVolumeBytes,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  resolveLimits,
} from './limits.js';
export { binariseMask, type MaskDecision, MaskValueTally } from './mask-values.js';
export { decodePng, encodePng } from './png.js';
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
export { sliceAreas } from './sampler.js';
export { percentiles } from './select.js';
export {
  brainMask,
  convexHullPerSlice,
  DEFAULT_SKULL_STRIP,
  resolveSkullStrip,
  type SkullStripOptions,
} from './skull-strip.js';
export { type GroupOptions, groupSlices, parseSliceName, type SliceGroup, type SliceName } from './slices.js';
export { decodeTiff, SUPPORTED_TIFF_COMPRESSIONS } from './tiff.js';
