import { constants, gunzipSync, inflateSync } from 'node:zlib';
import { DataError } from './errors.js';

/**
 * Inflates a zlib stream that may hold at most `max` bytes, stopping as soon as it would hold more: a stream that
 * declares a small image but inflates to gigabytes (a decompression bomb) costs `max` bytes, never more. Truncated
 * or corrupt streams are errors too. `what` names the stream in the DataError (e.g. "strip 3").
 */
export function inflateBounded(
  data: Uint8Array,
  max: number,
  file: string,
  what: string,
  bound = `the ${max} bytes the image can hold`,
): Uint8Array {
  try {
    return inflateSync(data, { maxOutputLength: Math.max(1, max) });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(file, `${what} inflates to more than ${bound}`);
    }
    throw new DataError(file, `corrupt ${what} (${(e as Error).message})`);
  }
}

/** Trailing bytes a gzip member may inflate to beyond what a header declares (padding some writers add). */
const GZIP_SLACK = 65536;

/**
 * Inflates a gzip stream that should hold `need` bytes: more than `need` plus a little slack is refused as soon as
 * it is reached (a decompression bomb costs no more), a truncated or corrupt stream is a DataError naming `file`.
 */
export function gunzipBounded(
  data: Uint8Array,
  need: number,
  file: string,
  what: string,
  bound: string,
): Uint8Array {
  try {
    return gunzipSync(data, { maxOutputLength: Math.max(1, need + GZIP_SLACK) });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(file, `${what} inflates to more than ${bound}`);
    }
    throw new DataError(file, `corrupt or truncated ${what} (${(e as Error).message})`);
  }
}

/**
 * The first bytes (at least `want` when the stream holds them) of a gzip stream, inflating only a few KiB of its
 * start: enough to read a header before deciding how much the whole stream may inflate to.
 */
export function gunzipPrefix(data: Uint8Array, want: number, file: string): Uint8Array {
  // Deflate expands at most ~1032:1, so 8 KiB of input bound the output to under 9 MB.
  const input = data.subarray(0, Math.min(data.length, Math.max(8192, want)));
  try {
    return gunzipSync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: input.length * 1100 });
  } catch (e) {
    throw new DataError(file, `corrupt gzip stream (${(e as Error).message})`);
  }
}
