import { readFileSync } from 'node:fs';
import { DataError, type WarningSink } from './errors.js';
import type { PatientFiles } from './layout.js';
import { checkVolumeBytes, type DecodeLimits, resolveLimits } from './limits.js';
import { binariseMask, MaskValueTally } from './mask-values.js';
import { decodePng } from './png.js';
import { checkRasterShape, type Raster } from './raster.js';
import { decodeTiff } from './tiff.js';

export interface ReadOptions {
  /**
   * Mask values other than 0/255 and 0/1: 'binarise' (≥ 128 → 1, with a warning) or 'fail'. Default 'binarise'.
   * Masks stored as 0/1 are read as such (see mask-values.ts); a patient mixing 0/1 and 0/255 masks is an error.
   */
  maskValues?: 'binarise' | 'fail';
  /** Require this in-plane size (the dataset is 256 × 256); by default any size, the same for every slice. */
  expectedSize?: { height: number; width: number };
  /** Decoder bounds (declared size, TIFF images, bytes a patient); DEFAULT_DECODE_LIMITS by default. */
  limits?: Partial<DecodeLimits>;
}

/** A patient as read from disk: the slices in numeric order, nothing dropped or changed. */
export interface RawPatient {
  id: string;
  sliceNumbers: number[];
  depth: number;
  height: number;
  width: number;
  /** (depth, height, width, 3), 8-bit, interleaved as in the files. */
  image: Uint8Array;
  /** (depth, height, width), 0 or 1. */
  mask: Uint8Array;
}

/** A file's bytes; read errors become DataErrors naming the file. */
export function readFileBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DataError(path, `cannot read (${(e as Error).message})`);
  }
}

export function decodeImageBytes(
  bytes: Uint8Array,
  path: string,
  format: 'tif' | 'png',
  limits?: Partial<DecodeLimits>,
): Raster {
  const l = resolveLimits(limits);
  return format === 'png' ? decodePng(bytes, path, l) : decodeTiff(bytes, path, l);
}

export function decodeImageFile(path: string, format: 'tif' | 'png', limits?: Partial<DecodeLimits>): Raster {
  return decodeImageBytes(readFileBytes(path), path, format, limits);
}

/** Reads and validates every slice of one patient in this thread (the worker pool calls this per patient). */
export function readPatient(files: PatientFiles, options: ReadOptions = {}, warn?: WarningSink): RawPatient {
  return readPatientBytes(files, readFileBytes, options, warn);
}

/**
 * readPatient over bytes from `bytesOf(path)` (the cache reads each file once, hashes it and decodes the same
 * bytes). Masks are collected raw and binarised once the patient's encoding is known (mask-values.ts).
 */
export function readPatientBytes(
  files: PatientFiles,
  bytesOf: (path: string) => Uint8Array,
  options: ReadOptions = {},
  warn?: WarningSink,
): RawPatient {
  const depth = files.slices.length;
  if (depth === 0) throw new DataError(files.dir, 'empty patient folder');
  const limits = resolveLimits(options.limits);
  let height = options.expectedSize?.height ?? 0;
  let width = options.expectedSize?.width ?? 0;
  let image = new Uint8Array(0);
  let mask = new Uint8Array(0);
  const tally = new MaskValueTally();
  const reference = options.expectedSize ? 'the expected size' : "the patient's first slice";
  files.slices.forEach((s, z) => {
    const img = decodeImageBytes(bytesOf(s.image.path), s.image.path, files.format, limits);
    if (height === 0) {
      height = img.height;
      width = img.width;
    }
    if (z === 0) {
      checkVolumeBytes(files.dir, depth, height, width, limits);
      image = new Uint8Array(depth * height * width * 3);
      mask = new Uint8Array(depth * height * width);
    }
    checkRasterShape(img, s.image.path, height, width, 3, reference);
    const msk = decodeImageBytes(bytesOf(s.mask.path), s.mask.path, files.format, limits);
    checkRasterShape(msk, s.mask.path, height, width, 1, reference);
    image.set(img.data, z * height * width * 3);
    mask.set(msk.data, z * height * width);
    tally.add(s.mask.path, msk.data);
  });
  const decision = tally.decide(files.id, options.maskValues);
  binariseMask(mask, decision.threshold);
  if (decision.warning) warn?.(decision.warning);
  return { id: files.id, sliceNumbers: files.slices.map((s) => s.number), depth, height, width, image, mask };
}
