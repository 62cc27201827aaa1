/**
 * NIfTI-1 and NIfTI-2 volumes (`.nii`, `.nii.gz`), read from bytes. nifti-reader-js parses the header fields; the
 * checks a hostile file needs are here and run before anything is allocated or inflated: the header's sizes and
 * offsets against the file's length and the decode limits, the data type, the dimensions. The affine is the one
 * nibabel's `img.affine` gives (sform when its code is set, else qform, else the scanner-less default).
 */
import { NIFTI1, NIFTI2 } from 'nifti-reader-js';
import { type Affine, affineSpacing } from './affine.js';
import { DataError } from './errors.js';
import { gunzipBounded, gunzipPrefix } from './inflate.js';
import { type DecodeLimits, resolveLimits } from './limits.js';
import type { NiftiSpace, ScanVolume } from './scan-volume.js';

/** NIfTI data type codes this reader converts, with their byte size and name. */
const DATATYPES: Record<number, { bytes: number; name: string }> = {
  2: { bytes: 1, name: 'uint8' },
  4: { bytes: 2, name: 'int16' },
  8: { bytes: 4, name: 'int32' },
  16: { bytes: 4, name: 'float32' },
  64: { bytes: 8, name: 'float64' },
  256: { bytes: 1, name: 'int8' },
  512: { bytes: 2, name: 'uint16' },
  768: { bytes: 4, name: 'uint32' },
};

const UNSUPPORTED_TYPES: Record<number, string> = {
  1: 'binary',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

const GZIP = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Millimetres per spatial unit of xyzt_units (unknown is taken as millimetres, as every reader does). */
function unitToMm(xyztUnits: number): number {
  const u = xyztUnits & 0x07;
  return u === 1 ? 1000 : u === 3 ? 0.001 : 1;
}

/** True when the bytes start like a NIfTI file (either version, either byte order, plain or gzip). */
export function looksLikeNifti(bytes: Uint8Array): boolean {
  if (GZIP(bytes)) return true;
  if (bytes.length < 4) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 4);
  return [348, 540].some((n) => dv.getInt32(0, true) === n || dv.getInt32(0, false) === n);
}

/** The header's version and byte order from sizeof_hdr. */
function sniff(file: string, head: Uint8Array): { version: 1 | 2; little: boolean; size: number } {
  if (head.length < 4) throw new DataError(file, `${head.length} bytes: too short for a NIfTI header`);
  const dv = new DataView(head.buffer, head.byteOffset, head.length);
  for (const little of [true, false]) {
    const n = dv.getInt32(0, little);
    if (n === 348) return { version: 1, little, size: 348 };
    if (n === 540) return { version: 2, little, size: 540 };
  }
  throw new DataError(
    file,
    `not a NIfTI file: sizeof_hdr is ${dv.getInt32(0, true)} (348 for NIfTI-1, 540 for NIfTI-2)`,
  );
}

/** nibabel's affine for a header without sform or qform: the zooms, x flipped, centred on the volume. */
function baseAffine(dims: number[], zooms: number[]): Affine {
  const o = [0, 1, 2].map((a) => (dims[a] - 1) / 2);
  return [
    [-zooms[0], 0, 0, o[0] * zooms[0]],
    [0, zooms[1], 0, -o[1] * zooms[1]],
    [0, 0, zooms[2], -o[2] * zooms[2]],
    [0, 0, 0, 1],
  ];
}

function readSrow(dv: DataView, version: 1 | 2, little: boolean): [number[], number[], number[]] {
  const rows: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(
        version === 1
          ? dv.getFloat32(280 + (r * 4 + c) * 4, little)
          : dv.getFloat64(400 + (r * 4 + c) * 8, little),
      );
    }
    rows.push(row);
  }
  return rows as [number[], number[], number[]];
}

/** The parsed, checked header: what readNifti needs to find and convert the voxels. */
interface Header {
  version: 1 | 2;
  little: boolean;
  headerSize: number;
  dims: [number, number, number];
  frames: number;
  datatype: number;
  voxOffset: number;
  slope: number;
  inter: number;
  space: NiftiSpace;
}

function parseHeader(file: string, head: Uint8Array, limits: DecodeLimits): Header {
  const { version, little, size } = sniff(file, head);
  if (head.length < size)
    throw new DataError(
      file,
      `truncated: ${head.length} bytes, less than the ${size}-byte NIfTI-${version} header`,
    );
  // A copy: `head` may be a view into a larger (pooled) buffer, and the parser reads its ArrayBuffer from byte 0.
  const raw = new Uint8Array(head.subarray(0, size)).buffer;
  let h: NIFTI1 | NIFTI2;
  try {
    h = version === 1 ? new NIFTI1() : new NIFTI2();
    h.readHeader(raw);
  } catch (e) {
    throw new DataError(file, `unreadable NIfTI-${version} header (${(e as Error).message})`);
  }
  // NIfTI-2's magic continues after "n+2\0" with \r\n\032\n, which the parser's string drops the NUL of.
  const magic = h.magic.slice(0, 3);
  if (magic === 'ni1' || magic === 'ni2')
    throw new DataError(
      file,
      `a header of a .hdr/.img pair (magic "${magic}"); convert it to a single .nii file`,
    );
  if (magic !== 'n+1' && magic !== 'n+2')
    throw new DataError(file, `bad NIfTI magic "${magic}" (expected "n+${version}")`);
  const nd = h.dims[0];
  if (!Number.isInteger(nd) || nd < 1 || nd > 7)
    throw new DataError(file, `dim[0] is ${nd}: the number of dimensions must be 1 to 7`);
  const sizes: number[] = [];
  for (let a = 1; a <= nd; a++) {
    const n = h.dims[a];
    if (!Number.isSafeInteger(n) || n < 1)
      throw new DataError(file, `dim[${a}] is ${n}: every dimension must be at least 1`);
    sizes.push(n);
  }
  for (let a = 4; a < sizes.length; a++)
    if (sizes[a] > 1)
      throw new DataError(
        file,
        `dim[${a + 1}] is ${sizes[a]}: volumes of more than 4 dimensions are not supported`,
      );
  const dims: [number, number, number] = [sizes[0] ?? 1, sizes[1] ?? 1, sizes[2] ?? 1];
  const frames = sizes[3] ?? 1;
  for (const n of dims)
    if (n > limits.maxSide)
      throw new DataError(
        file,
        `declares ${dims.join('×')} voxels, more than the decode limit of ${limits.maxSide} a side: refused before decoding`,
      );
  const type = DATATYPES[h.datatypeCode];
  if (!type) {
    const known = UNSUPPORTED_TYPES[h.datatypeCode];
    throw new DataError(
      file,
      `data type ${h.datatypeCode}${known ? ` (${known})` : ''} is not supported (uint8, int8, int16, uint16, int32, uint32, float32, float64)`,
    );
  }
  if (h.numBitsPerVoxel !== type.bytes * 8)
    throw new DataError(
      file,
      `bitpix ${h.numBitsPerVoxel} does not match data type ${type.name} (${type.bytes * 8} bits)`,
    );
  const voxels = dims[0] * dims[1] * dims[2] * frames;
  const shape = `${dims.join('×')}${frames > 1 ? `×${frames}` : ''}`;
  if (voxels > limits.maxScanVoxels)
    throw new DataError(
      file,
      `declares ${shape} voxels (${voxels}), more than the limit of ${limits.maxScanVoxels}: refused before decoding`,
    );
  // The float32 copy is what lives on; the stored bytes are a transient.
  if (voxels * 4 > limits.maxVolumeBytes)
    throw new DataError(
      file,
      `declares ${shape} voxels (${voxels * 4} bytes as float32), more than the limit of ${limits.maxVolumeBytes} bytes: refused before decoding`,
    );
  const minOffset = size + 4;
  let voxOffset = h.vox_offset;
  // Some writers leave vox_offset at 0 in single files; the data then follows the header and extension flag.
  if (voxOffset === 0) voxOffset = minOffset;
  if (!Number.isSafeInteger(voxOffset) || voxOffset < minOffset)
    throw new DataError(
      file,
      `vox_offset ${h.vox_offset} is not a whole number of bytes at or after the header's end (${minOffset})`,
    );
  const dv = new DataView(raw);
  const srow = readSrow(dv, version, little);
  const slopeOk = Number.isFinite(h.scl_slope) && h.scl_slope !== 0;
  return {
    version,
    little,
    headerSize: size,
    dims,
    frames,
    datatype: h.datatypeCode,
    voxOffset,
    slope: slopeOk ? h.scl_slope : 1,
    inter: slopeOk && Number.isFinite(h.scl_inter) ? h.scl_inter : 0,
    space: {
      version,
      pixdim: [...h.pixDims],
      qformCode: h.qform_code,
      sformCode: h.sform_code,
      quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
      qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
      srow,
      xyztUnits: h.xyzt_units,
      dimInfo: h.dim_info,
    },
  };
}

/** The affine nibabel gives (`get_best_affine`), in millimetres. */
export function niftiAffine(space: NiftiSpace, dims: readonly number[]): Affine {
  const scale = unitToMm(space.xyztUnits);
  let a: Affine;
  if (space.sformCode > 0) {
    a = [...space.srow.map((r) => [...r]), [0, 0, 0, 1]];
  } else if (space.qformCode > 0) {
    const p = space.pixdim;
    a = new NIFTI1().convertNiftiQFormToNiftiSForm(
      space.quatern[0],
      space.quatern[1],
      space.quatern[2],
      space.qoffset[0],
      space.qoffset[1],
      space.qoffset[2],
      p[1],
      p[2],
      p[3],
      p[0] < 0 ? -1 : 1,
    );
  } else {
    const zooms = [1, 2, 3].map((i) => (space.pixdim[i] > 0 ? space.pixdim[i] : 1));
    a = baseAffine([...dims], zooms);
  }
  if (scale !== 1) for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) a[r][c] *= scale;
  if (!a.every((row) => row.every(Number.isFinite)))
    throw new Error(`the ${space.sformCode > 0 ? 'sform' : 'qform'} holds a non-finite number`);
  return a;
}

/** The stored values as float32, byte order and scaling applied. */
function convert(bytes: Uint8Array, h: Header, count: number): Float32Array {
  const { bytes: size } = DATATYPES[h.datatype];
  // A copy (Buffer#slice is a view): aligned for the typed array, and free to be byte-swapped.
  const copy = new Uint8Array(bytes.subarray(h.voxOffset, h.voxOffset + count * size));
  const hostLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (size > 1 && h.little !== hostLittle) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  const b = copy.buffer;
  const typed: ArrayLike<number> =
    h.datatype === 2
      ? copy
      : h.datatype === 4
        ? new Int16Array(b)
        : h.datatype === 8
          ? new Int32Array(b)
          : h.datatype === 16
            ? new Float32Array(b)
            : h.datatype === 64
              ? new Float64Array(b)
              : h.datatype === 256
                ? new Int8Array(b)
                : h.datatype === 512
                  ? new Uint16Array(b)
                  : new Uint32Array(b);
  const out = new Float32Array(count);
  if (h.slope === 1 && h.inter === 0) for (let i = 0; i < count; i++) out[i] = typed[i];
  else for (let i = 0; i < count; i++) out[i] = typed[i] * h.slope + h.inter;
  return out;
}

/**
 * Reads a NIfTI-1 or NIfTI-2 volume from its bytes (gzip-compressed or not): 3-D, or 4-D with one volume a frame.
 * `file` names the source in errors; every problem is a DataError naming it.
 */
export function readNifti(bytes: Uint8Array, file: string, limits?: Partial<DecodeLimits>): ScanVolume {
  const l = resolveLimits(limits);
  const gz = GZIP(bytes);
  // A compressed file's header comes from inflating a little of its start, so the declared size is checked before
  // the whole stream is inflated (and then bounds it).
  const head = gz ? gunzipPrefix(bytes, 544, file) : bytes;
  const h = parseHeader(file, head, l);
  const count = h.dims[0] * h.dims[1] * h.dims[2] * h.frames;
  const need = h.voxOffset + count * DATATYPES[h.datatype].bytes;
  const body = gz
    ? gunzipBounded(bytes, need, file, 'gzip stream', `the ${need} bytes the header declares`)
    : bytes;
  if (h.voxOffset >= body.length)
    throw new DataError(
      file,
      `vox_offset ${h.voxOffset} lies past the end of the file (${body.length} bytes${gz ? ' inflated' : ''})`,
    );
  if (body.length < need)
    throw new DataError(
      file,
      `truncated: the header declares ${count} ${DATATYPES[h.datatype].name} voxels from byte ${h.voxOffset} (${need} bytes), the ${gz ? 'inflated ' : ''}file holds ${body.length}`,
    );
  let affine: Affine;
  try {
    affine = niftiAffine(h.space, h.dims);
  } catch (e) {
    throw new DataError(file, (e as Error).message);
  }
  const spacing = affineSpacing(affine);
  if (!spacing.every((s) => s > 0))
    throw new DataError(file, `the affine has a zero column: voxel spacing ${spacing.join(' × ')} mm`);
  return {
    source: file,
    format: h.version === 1 ? 'nifti1' : 'nifti2',
    dims: h.dims,
    frames: h.frames,
    data: convert(body, h, count),
    dtype: DATATYPES[h.datatype].name,
    affine,
    spacing,
    nifti: h.space,
  };
}
