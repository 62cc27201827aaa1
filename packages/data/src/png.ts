import { decode, encode } from 'fast-png';
import { DataError } from './errors.js';
import { inflateBounded } from './inflate.js';
import { checkDeclaredSize, DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js';
import type { Raster } from './raster.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples a pixel of each PNG colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** ICC profiles are a few KB; a compressed one inflating past this is refused (fast-png inflates it unbounded). */
const MAX_ICC_BYTES = 4 * 2 ** 20;

/**
 * Walks a PNG's chunks before fast-png sees it: every chunk inside the file, the header first, the declared size
 * within `limits`, 8-bit samples, and the image data (and any ICC profile) inflating to no more than the declared
 * size can hold, so a decompression bomb stops after that many bytes.
 */
function checkPng(bytes: Uint8Array, file: string, limits: DecodeLimits): void {
  const n = bytes.byteLength;
  if (n < 8 || !SIGNATURE.every((b, i) => bytes[i] === b))
    throw new DataError(file, 'not a PNG file (bad signature)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  const idat: Uint8Array[] = [];
  let maxImageBytes = -1;
  let at = 8;
  for (;;) {
    if (at + 12 > n)
      throw new DataError(file, `truncated or corrupt PNG: chunk at byte ${at} runs past the end`);
    const length = dv.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const body = at + 8;
    if (body + length + 4 > n) {
      throw new DataError(
        file,
        `truncated or corrupt PNG: ${type} chunk of ${length} bytes runs past the end`,
      );
    }
    if (maxImageBytes < 0) {
      if (type !== 'IHDR' || length < 13)
        throw new DataError(file, 'corrupt PNG: the first chunk is not IHDR');
      const width = dv.getUint32(body);
      const height = dv.getUint32(body + 4);
      const depth = bytes[body + 8];
      const colourType = bytes[body + 9];
      const interlaced = bytes[body + 12] !== 0;
      checkDeclaredSize(file, width, height, limits, 'PNG');
      if (depth !== 8) throw new DataError(file, `bit depth ${depth}: only 8 bits a sample is supported`);
      const samples = SAMPLES[colourType];
      if (samples === undefined) throw new DataError(file, `corrupt PNG: colour type ${colourType}`);
      // A filter byte a row; Adam7 splits rows into at most 15 passes' worth of rows per 8 (bounded by 2 a row + 7).
      const rows = interlaced ? 2 * height + 7 : height;
      maxImageBytes = height * width * samples + rows;
    } else if (type === 'IDAT') {
      idat.push(bytes.subarray(body, body + length));
    } else if (type === 'iCCP') {
      const chunk = bytes.subarray(body, body + length);
      const nul = chunk.indexOf(0);
      if (nul < 0 || nul + 2 > length) throw new DataError(file, 'corrupt PNG: iCCP chunk without a profile');
      inflateBounded(
        chunk.subarray(nul + 2),
        MAX_ICC_BYTES,
        file,
        'PNG ICC profile',
        `${MAX_ICC_BYTES} bytes`,
      );
    } else if (type === 'IEND') {
      break;
    }
    at = body + length + 4;
  }
  if (idat.length === 0) throw new DataError(file, 'corrupt PNG: no image data (IDAT)');
  const total = idat.reduce((s, c) => s + c.byteLength, 0);
  const stream = new Uint8Array(total);
  let o = 0;
  for (const c of idat) {
    stream.set(c, o);
    o += c.byteLength;
  }
  inflateBounded(stream, maxImageBytes, file, 'PNG image data');
}

/**
 * Decodes an 8-bit grey or RGB PNG (the dataset's layout converted to PNG). Palette, alpha and 16-bit are refused;
 * the declared size is checked against `limits` before anything is inflated.
 */
export function decodePng(
  bytes: Uint8Array,
  file: string,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Raster {
  checkPng(bytes, file, limits);
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new DataError(file, `truncated or corrupt PNG (${(e as Error).message})`);
  }
  if (png.palette) throw new DataError(file, 'indexed-colour PNG is not supported (grey or RGB only)');
  if (png.depth !== 8) throw new DataError(file, `bit depth ${png.depth}: only 8 bits a sample is supported`);
  const size = png.width * png.height * png.channels;
  if (!(png.data instanceof Uint8Array) || png.data.length < size) {
    throw new DataError(file, `PNG decoded to ${png.data.length} samples, ${size} expected`);
  }
  return { width: png.width, height: png.height, channels: png.channels, data: png.data.subarray(0, size) };
}

export function encodePng(raster: Raster): Uint8Array {
  return encode({
    width: raster.width,
    height: raster.height,
    channels: raster.channels,
    depth: 8,
    data: raster.data,
  });
}
