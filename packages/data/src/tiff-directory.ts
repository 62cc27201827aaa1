import { DataError } from './errors.js';
import type { DecodeLimits } from './limits.js';

/** Bytes a value of each TIFF field type (6.0 types 1–13); entries of other types are skipped, as the spec says. */
const TYPE_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
};

/** The numeric tags the decoder reads; every other tag is skipped without being read. */
const READ_TAGS = new Set([256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 339]);

const TAG_NAMES: Record<number, string> = {
  256: 'ImageWidth',
  257: 'ImageLength',
  258: 'BitsPerSample',
  259: 'Compression',
  262: 'PhotometricInterpretation',
  273: 'StripOffsets',
  277: 'SamplesPerPixel',
  278: 'RowsPerStrip',
  279: 'StripByteCounts',
  284: 'PlanarConfiguration',
  317: 'Predictor',
  339: 'SampleFormat',
};

export interface TiffDirectory {
  littleEndian: boolean;
  /** The first image's numeric tags that the decoder uses (id → values). */
  tags: Map<number, number[]>;
  /** Images along the IFD chain (the first is decoded). */
  images: number;
}

const tagName = (id: number) => `tag ${id}${TAG_NAMES[id] ? ` (${TAG_NAMES[id]})` : ''}`;

/**
 * Reads the header and the first image file directory of a classic TIFF without trusting anything it declares:
 * every directory and every value array must lie inside the file, the chain of directories must end (no loop)
 * within `limits.maxTiffImages`, and only the tags the decoder needs are materialised. A value count of 2^30 in
 * a 200 KB file is an error here, not an allocation.
 */
export function readTiffDirectory(bytes: Uint8Array, file: string, limits: DecodeLimits): TiffDirectory {
  const n = bytes.byteLength;
  if (n < 8) throw new DataError(file, `truncated or corrupt TIFF: only ${n} bytes`);
  const le = bytes[0] === 0x49 && bytes[1] === 0x49;
  const be = bytes[0] === 0x4d && bytes[1] === 0x4d;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  if ((!le && !be) || dv.getUint16(2, le) !== 42) {
    throw new DataError(file, 'not a TIFF file (bad signature; BigTIFF is not supported)');
  }
  const first = dv.getUint32(4, le);
  const seen = new Set<number>();
  let tags: Map<number, number[]> | null = null;
  let at = first;
  while (at !== 0) {
    if (seen.has(at)) {
      throw new DataError(file, `corrupt TIFF: the chain of image directories loops back to byte ${at}`);
    }
    if (seen.size >= limits.maxTiffImages) {
      throw new DataError(file, `TIFF holds more than ${limits.maxTiffImages} images (the decode limit)`);
    }
    if (at < 8 || at + 2 > n) {
      throw new DataError(
        file,
        `truncated or corrupt TIFF: ${seen.size === 0 ? 'first' : 'next'} IFD at byte ${at} of a ${n}-byte file`,
      );
    }
    seen.add(at);
    const entries = dv.getUint16(at, le);
    const end = at + 2 + entries * 12;
    if (end + 4 > n) {
      throw new DataError(
        file,
        `truncated or corrupt TIFF: IFD with ${entries} entries runs past the end of the file`,
      );
    }
    if (tags === null) tags = readEntries(dv, file, at + 2, entries, le);
    at = dv.getUint32(end, le);
  }
  return { littleEndian: le, tags: tags!, images: seen.size };
}

function readEntries(
  dv: DataView,
  file: string,
  start: number,
  entries: number,
  le: boolean,
): Map<number, number[]> {
  const n = dv.byteLength;
  const tags = new Map<number, number[]>();
  for (let i = 0; i < entries; i++) {
    const e = start + 12 * i;
    const id = dv.getUint16(e, le);
    const type = dv.getUint16(e + 2, le);
    const count = dv.getUint32(e + 4, le);
    const size = TYPE_SIZE[type];
    if (!READ_TAGS.has(id) || size === undefined) continue;
    if (type !== 1 && type !== 3 && type !== 4) {
      throw new DataError(file, `TIFF ${tagName(id)} has field type ${type}; BYTE, SHORT or LONG expected`);
    }
    const bytes = count * size;
    const at = bytes <= 4 ? e + 8 : dv.getUint32(e + 8, le);
    if (at + bytes > n) {
      throw new DataError(
        file,
        `truncated or corrupt TIFF: ${tagName(id)} declares ${count} values at byte ${at}, past the end of the ${n}-byte file`,
      );
    }
    const values = new Array<number>(count);
    for (let k = 0; k < count; k++) {
      const p = at + k * size;
      values[k] = type === 1 ? dv.getUint8(p) : type === 3 ? dv.getUint16(p, le) : dv.getUint32(p, le);
    }
    tags.set(id, values);
  }
  return tags;
}
