/**
 * Strip decompression for the TIFF reader: none, LZW, Deflate and PackBits, each bounded by the bytes the strip can
 * hold. Written here rather than taken from utif because utif's decoders trust the file: its LZW loops forever on a
 * stream without an end code, its inflate has no output bound, and short strips are silently zero-filled. Here a
 * strip that decodes to fewer bytes than its rows need, or to more than a full strip, is an error naming it.
 */
import { DataError } from './errors.js';
import { inflateBounded } from './inflate.js';

export interface StripTarget {
  /** Bytes the strip must produce (its rows × the row length). */
  need: number;
  /** Most bytes it may produce (a full strip: writers may pad the last one). */
  max: number;
}

/** Decodes one strip's `src` bytes with `compression` into `out` (room for `max` bytes). */
export function decodeStrip(
  compression: number,
  src: Uint8Array,
  out: Uint8Array,
  target: StripTarget,
  file: string,
  strip: number,
): void {
  const what = `TIFF image data in strip ${strip}`;
  // Raw or inflated bytes: the rows the strip needs (a padded last strip holds more).
  const copy = (bytes: Uint8Array) => {
    const n = Math.min(bytes.byteLength, target.need);
    out.set(bytes.subarray(0, n));
    return n;
  };
  let got: number;
  switch (compression) {
    case 1:
      got = copy(src);
      break;
    case 5:
      got = decodeLzw(src, out, target.max, file, what);
      break;
    case 8:
      got = copy(inflateBounded(src, target.max, file, what));
      break;
    case 32773:
      got = decodePackBits(src, out, target.max, file, what);
      break;
    default:
      throw new DataError(file, `unsupported TIFF compression ${compression}`);
  }
  if (got < target.need) {
    throw new DataError(file, `corrupt ${what}: it decodes to ${got} bytes, ${target.need} needed`);
  }
}

const CLEAR = 256;
const END = 257;
const MAX_CODES = 4096;

/**
 * TIFF LZW (MSB-first codes of 9–12 bits, "early change": the width grows one code before the table fills, as
 * libtiff writes). Stops at the end code; a stream that runs out without one, an undefined code, a table that
 * overflows without a Clear, or output beyond `max` are errors.
 */
function decodeLzw(src: Uint8Array, out: Uint8Array, max: number, file: string, what: string): number {
  const prefix = new Int16Array(MAX_CODES);
  const suffix = new Uint8Array(MAX_CODES);
  const head = new Uint8Array(MAX_CODES);
  const length = new Uint16Array(MAX_CODES);
  for (let i = 0; i < 256; i++) {
    suffix[i] = i;
    head[i] = i;
    length[i] = 1;
  }
  const limit = Math.min(max, out.byteLength);
  const totalBits = src.byteLength * 8;
  let bitPos = 0;
  let width = 9;
  let next = 258;
  let previous = -1;
  let at = 0;
  const emit = (code: number) => {
    const len = length[code];
    if (at + len > limit) throw new DataError(file, `${what} (LZW) decodes to more than ${limit} bytes`);
    for (let i = at + len - 1, c = code; i >= at; i--, c = prefix[c]) out[i] = suffix[c];
    at += len;
  };
  for (;;) {
    if (bitPos + width > totalBits) {
      // libtiff accepts a strip that ends without the end code once its rows are complete.
      return at;
    }
    let code = 0;
    for (let b = 0; b < width; b++, bitPos++)
      code = (code << 1) | ((src[bitPos >>> 3] >>> (7 - (bitPos & 7))) & 1);
    if (code === END) return at;
    if (code === CLEAR) {
      width = 9;
      next = 258;
      previous = -1;
      continue;
    }
    if (previous < 0) {
      if (code > 255) throw new DataError(file, `corrupt ${what}: LZW code ${code} follows a Clear code`);
      emit(code);
      previous = code;
      continue;
    }
    if (code > next) throw new DataError(file, `corrupt ${what}: undefined LZW code ${code}`);
    if (next >= MAX_CODES) throw new DataError(file, `corrupt ${what}: LZW table full without a Clear code`);
    // The new entry is the previous string plus the first byte of this one (of itself when code === next).
    prefix[next] = previous;
    suffix[next] = code === next ? head[previous] : head[code];
    head[next] = head[previous];
    length[next] = length[previous] + 1;
    next++;
    emit(code);
    previous = code;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
}

/** PackBits (Apple): a header byte n, then n + 1 literal bytes (n ≥ 0) or one byte repeated 1 − n times (n < 0). */
function decodePackBits(src: Uint8Array, out: Uint8Array, max: number, file: string, what: string): number {
  const limit = Math.min(max, out.byteLength);
  let i = 0;
  let at = 0;
  while (i < src.byteLength) {
    const n = (src[i++] << 24) >> 24;
    if (n === -128) continue;
    const count = n >= 0 ? n + 1 : 1 - n;
    if (at + count > limit)
      throw new DataError(file, `${what} (PackBits) decodes to more than ${limit} bytes`);
    if (n >= 0) {
      if (i + count > src.byteLength) throw new DataError(file, `corrupt ${what}: PackBits run past its end`);
      out.set(src.subarray(i, i + count), at);
      i += count;
    } else {
      if (i >= src.byteLength) throw new DataError(file, `corrupt ${what}: PackBits run past its end`);
      out.fill(src[i++], at, at + count);
    }
    at += count;
  }
  return at;
}

/** Undoes TIFF predictor 2 (horizontal differencing) on 8-bit samples, row by row. */
export function undoHorizontalPredictor(data: Uint8Array, rowBytes: number, channels: number): void {
  for (let row = 0; row < data.byteLength; row += rowBytes) {
    for (let i = row + channels; i < row + rowBytes; i++) data[i] = (data[i] + data[i - channels]) & 255;
  }
}
