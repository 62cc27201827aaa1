import { readFileSync } from 'node:fs';
import { DataError, type WarningSink } from './errors.js';
import type { PatientFiles } from './layout.js';
import { decodePng } from './png.js';
import type { Raster } from './raster.js';
import { decodeTiff } from './tiff.js';

export interface ReadOptions {
  /** Mask values other than 0/255: 'binarise' (≥ 128 → 1, with a warning) or 'fail'. Default 'binarise'. */
  maskValues?: 'binarise' | 'fail';
  /** Require this in-plane size (the dataset is 256 × 256); by default any size, the same for every slice. */
  expectedSize?: { height: number; width: number };
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

export function decodeImageFile(path: string, format: 'tif' | 'png'): Raster {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(path, `cannot read (${(e as Error).message})`);
  }
  return format === 'png' ? decodePng(bytes, path) : decodeTiff(bytes, path);
}

/** Reads and validates every slice of one patient in this thread (the worker pool calls this per patient). */
export function readPatient(files: PatientFiles, options: ReadOptions = {}, warn?: WarningSink): RawPatient {
  const depth = files.slices.length;
  if (depth === 0) throw new DataError(files.dir, 'empty patient folder');
  let height = options.expectedSize?.height ?? 0;
  let width = options.expectedSize?.width ?? 0;
  let image = new Uint8Array(0);
  let mask = new Uint8Array(0);
  let oddMasks = 0;
  let firstOdd = '';
  files.slices.forEach((s, z) => {
    const img = decodeImageFile(s.image.path, files.format);
    const msk = decodeImageFile(s.mask.path, files.format);
    if (height === 0) {
      height = img.height;
      width = img.width;
    }
    if (z === 0) {
      image = new Uint8Array(depth * height * width * 3);
      mask = new Uint8Array(depth * height * width);
    }
    checkShape(img, s.image.path, height, width, 3, options.expectedSize !== undefined);
    checkShape(msk, s.mask.path, height, width, 1, options.expectedSize !== undefined);
    image.set(img.data, z * height * width * 3);
    const out = mask.subarray(z * height * width, (z + 1) * height * width);
    const src = msk.data;
    let odd = 0;
    for (let i = 0; i < out.length; i++) {
      const v = src[i];
      if (v !== 0 && v !== 255) odd++;
      out[i] = v >= 128 ? 1 : 0;
    }
    if (odd > 0) {
      if (options.maskValues === 'fail') {
        throw new DataError(s.mask.path, `mask has ${odd} pixels with values other than 0 and 255`);
      }
      if (oddMasks === 0) firstOdd = s.mask.path;
      oddMasks++;
    }
  });
  if (oddMasks > 0) {
    warn?.(
      `${firstOdd}: mask values other than 0/255 (in ${oddMasks} mask file(s) of ${files.id}); binarised at 128`,
    );
  }
  return { id: files.id, sliceNumbers: files.slices.map((s) => s.number), depth, height, width, image, mask };
}

function checkShape(r: Raster, path: string, h: number, w: number, channels: number, fixed: boolean): void {
  if (r.height !== h || r.width !== w) {
    const what = fixed ? 'the expected size' : "the patient's first slice";
    throw new DataError(path, `wrong size ${r.width}×${r.height}, ${w}×${h} expected (${what})`);
  }
  if (r.channels !== channels) {
    throw new DataError(
      path,
      `wrong channel count ${r.channels}, ${channels} expected (${channels === 3 ? 'RGB image' : 'grey mask'})`,
    );
  }
}
