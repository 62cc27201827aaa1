/**
 * The browser-safe part of @mriseg/data (`@mriseg/data/browser`): decoding and validating slices from bytes,
 * the reference preprocessing and its helpers, with no file system, worker threads or caches.
 *
 * `decodeTiff` validates Deflate strips with `inflateSync` from `node:zlib`: a browser bundle must map `node:zlib`
 * to an implementation of `inflateSync`/`deflateSync` (the viewer aliases it to pako).
 */
export { nearestIndices, prefilterQuadratic, quadraticTaps, SPLINE_PAD } from './bspline.js';
export { DataError, type WarningSink } from './errors.js';
export { decodePng, encodePng } from './png.js';
export {
  type PreprocessInfo,
  type PreprocessOptions,
  preprocess,
  REFERENCE_PREPROCESS,
  resolvePreprocess,
  type Volume,
} from './preprocess.js';
export type { Raster } from './raster.js';
export type { RawPatient } from './reader.js';
export { resizeNearest, resizeQuadratic } from './resize.js';
export { sliceAreas } from './sampler.js';
export { percentiles } from './select.js';
export { decodeTiff, SUPPORTED_TIFF_COMPRESSIONS } from './tiff.js';
