/**
 * The functions of `node:zlib` that @mriseg/data uses, on pako, for the browser bundle (vite.config.ts aliases
 * `node:zlib` here). inflate/deflate work on zlib streams and gunzip/gzip on gzip members, as node's do;
 * `maxOutputLength` stops inflating as soon as the output would exceed it and throws a RangeError with node's code
 * `ERR_BUFFER_TOO_LARGE`; `finishFlush: constants.Z_SYNC_FLUSH` returns what a partial stream inflates to.
 */
import { deflate, gzip, Inflate } from 'pako';

export const constants = { Z_SYNC_FLUSH: 2, Z_FINISH: 4 };

interface InflateOptions {
  maxOutputLength?: number;
  finishFlush?: number;
}

export function inflateSync(data: Uint8Array, options: InflateOptions = {}): Uint8Array {
  return inflateWith(data, options, 15);
}

export function gunzipSync(data: Uint8Array, options: InflateOptions = {}): Uint8Array {
  return inflateWith(data, options, 16 + 15);
}

export function gzipSync(data: Uint8Array): Uint8Array {
  return gzip(data);
}

function inflateWith(data: Uint8Array, options: InflateOptions, windowBits: number): Uint8Array {
  const max = options.maxOutputLength ?? Number.POSITIVE_INFINITY;
  const partial = options.finishFlush === constants.Z_SYNC_FLUSH;
  const inflater = new Inflate({ chunkSize: 64 * 1024, windowBits });
  const chunks: Uint8Array[] = [];
  let total = 0;
  inflater.onData = (chunk: Uint8Array) => {
    total += chunk.length;
    if (total > max) {
      throw Object.assign(new RangeError(`Cannot create a Buffer larger than ${max} bytes`), {
        code: 'ERR_BUFFER_TOO_LARGE',
      });
    }
    chunks.push(chunk);
  };
  inflater.push(data, partial ? constants.Z_SYNC_FLUSH : true);
  // pako reports a stream that ends early as Z_BUF_ERROR (-5) without an exception (expected for a partial one).
  if (inflater.err && !(partial && inflater.err === -5))
    throw new Error(
      inflater.msg || (inflater.err === -5 ? 'unexpected end of file' : `zlib error ${inflater.err}`),
    );
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function deflateSync(data: Uint8Array): Uint8Array {
  return deflate(data);
}
