import { inflateSync } from 'node:zlib';
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
