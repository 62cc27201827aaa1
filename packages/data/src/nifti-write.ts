/**
 * Writing NIfTI-1/NIfTI-2 files (nifti-reader-js reads only). A mask written for a NIfTI input keeps that file's
 * version and spatial header (pixdim, qform and sform with their codes, units), so it lies on the same voxels in
 * every viewer; a volume without one (a DICOM series) gets an sform and qform made from its affine.
 */
import { gzipSync } from 'node:zlib';
import { type Affine, affineToQuaternion } from './affine.js';
import type { NiftiSpace } from './scan-volume.js';

export type NiftiWriteType = 'uint8' | 'int16' | 'float32';

const CODES: Record<NiftiWriteType, { code: number; bytes: number }> = {
  uint8: { code: 2, bytes: 1 },
  int16: { code: 4, bytes: 2 },
  float32: { code: 16, bytes: 4 },
};

export interface NiftiWriteOptions {
  /** Stored type. Default uint8 (masks). */
  datatype?: NiftiWriteType;
  /** gzip the file (`.nii.gz`). Default true. */
  gzip?: boolean;
  /** descrip (80 characters at most). */
  description?: string;
  /** intent_code; 1002 (NIFTI_INTENT_LABEL) suits a mask. Default 0. */
  intentCode?: number;
  /** 4th dimension (frames). Default 1. */
  frames?: number;
}

/** A NIfTI spatial header (sform and qform, scanner-based, millimetres) made from an affine. */
export function niftiSpaceFromAffine(affine: Affine, version: 1 | 2 = 1): NiftiSpace {
  const q = affineToQuaternion(affine);
  return {
    version,
    pixdim: [q.qfac, ...q.pixdim, 1, 1, 1, 1],
    qformCode: 1,
    sformCode: 1,
    quatern: q.quatern,
    qoffset: q.offset,
    srow: [affine[0].slice(0, 4), affine[1].slice(0, 4), affine[2].slice(0, 4)],
    xyztUnits: 2,
    dimInfo: 0,
  };
}

function putString(bytes: Uint8Array, at: number, max: number, s: string): void {
  for (let i = 0; i < Math.min(max - 1, s.length); i++) bytes[at + i] = s.charCodeAt(i) & 0x7f;
}

/** The header bytes (348 + 4 or 540 + 4, extension flag 0) for data of `dims`. */
function header(
  space: NiftiSpace,
  dims: readonly [number, number, number],
  frames: number,
  type: { code: number; bytes: number },
  o: NiftiWriteOptions,
): Uint8Array {
  const v1 = space.version === 1;
  const size = v1 ? 348 : 540;
  const bytes = new Uint8Array(size + 4);
  const dv = new DataView(bytes.buffer);
  const dim = [frames > 1 ? 4 : 3, dims[0], dims[1], dims[2], frames, 1, 1, 1];
  const pixdim = [...space.pixdim];
  while (pixdim.length < 8) pixdim.push(1);
  if (!(pixdim[0] === 1 || pixdim[0] === -1)) pixdim[0] = 1;
  if (v1) {
    dv.setInt32(0, 348, true);
    bytes[38] = 'r'.charCodeAt(0);
    bytes[39] = space.dimInfo & 0xff;
    dim.forEach((d, i) => void dv.setInt16(40 + 2 * i, d, true));
    dv.setInt16(68, o.intentCode ?? 0, true);
    dv.setInt16(70, type.code, true);
    dv.setInt16(72, type.bytes * 8, true);
    pixdim.forEach((p, i) => void dv.setFloat32(76 + 4 * i, p, true));
    dv.setFloat32(108, size + 4, true);
    dv.setFloat32(112, 1, true);
    dv.setFloat32(116, 0, true);
    bytes[123] = space.xyztUnits & 0xff;
    putString(bytes, 148, 80, o.description ?? '');
    dv.setInt16(252, space.qformCode, true);
    dv.setInt16(254, space.sformCode, true);
    space.quatern.forEach((q, i) => void dv.setFloat32(256 + 4 * i, q, true));
    space.qoffset.forEach((q, i) => void dv.setFloat32(268 + 4 * i, q, true));
    space.srow.forEach(
      (row, r) => void row.forEach((v, c) => void dv.setFloat32(280 + 16 * r + 4 * c, v, true)),
    );
    putString(bytes, 344, 4, 'n+1');
  } else {
    dv.setInt32(0, 540, true);
    bytes.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, type.code, true);
    dv.setInt16(14, type.bytes * 8, true);
    dim.forEach((d, i) => void dv.setBigInt64(16 + 8 * i, BigInt(d), true));
    pixdim.forEach((p, i) => void dv.setFloat64(104 + 8 * i, p, true));
    dv.setBigInt64(168, BigInt(size + 4), true);
    dv.setFloat64(176, 1, true);
    dv.setFloat64(184, 0, true);
    putString(bytes, 240, 80, o.description ?? '');
    dv.setInt32(344, space.qformCode, true);
    dv.setInt32(348, space.sformCode, true);
    space.quatern.forEach((q, i) => void dv.setFloat64(352 + 8 * i, q, true));
    space.qoffset.forEach((q, i) => void dv.setFloat64(376 + 8 * i, q, true));
    space.srow.forEach(
      (row, r) => void row.forEach((v, c) => void dv.setFloat64(400 + 32 * r + 8 * c, v, true)),
    );
    dv.setInt32(500, space.xyztUnits, true);
    dv.setInt32(504, o.intentCode ?? 0, true);
    bytes[524] = space.dimInfo & 0xff;
  }
  return bytes;
}

/**
 * A NIfTI file of `data` (x fastest, as ScanVolume) on the grid `space` describes: the header, then the values in
 * the stored type (scl_slope 1, scl_inter 0), gzip-compressed unless `gzip: false`.
 */
export function encodeNifti(
  data: ArrayLike<number>,
  dims: readonly [number, number, number],
  space: NiftiSpace,
  options: NiftiWriteOptions = {},
): Uint8Array {
  const frames = options.frames ?? 1;
  const n = dims[0] * dims[1] * dims[2] * frames;
  if (data.length !== n)
    throw new Error(`encodeNifti: ${data.length} values for ${dims.join('×')}×${frames} voxels`);
  const type = CODES[options.datatype ?? 'uint8'];
  const head = header(space, dims, frames, type, options);
  const out = new Uint8Array(head.length + n * type.bytes);
  out.set(head);
  const dv = new DataView(out.buffer, head.length);
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (type.code === 2) dv.setUint8(i, v);
    else if (type.code === 4) dv.setInt16(2 * i, v, true);
    else dv.setFloat32(4 * i, v, true);
  }
  return (options.gzip ?? true) ? new Uint8Array(gzipSync(out)) : out;
}
