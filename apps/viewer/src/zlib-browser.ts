/**
 * The two functions of `node:zlib` that @mriseg/data uses, on pako, for the browser bundle (vite.config.ts aliases
 * `node:zlib` here). Both work on zlib streams, as node's do; `maxOutputLength` stops inflating as soon as the
 * output would exceed it and throws a RangeError with node's code `ERR_BUFFER_TOO_LARGE`.
 */
import { deflate, Inflate } from 'pako';

export function inflateSync(data: Uint8Array, options: { maxOutputLength?: number } = {}): Uint8Array {
  const max = options.maxOutputLength ?? Number.POSITIVE_INFINITY;
  const inflater = new Inflate({ chunkSize: 64 * 1024 });
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
  inflater.push(data, true);
  // pako reports a stream that ends early as Z_BUF_ERROR (-5) without an exception.
  if (inflater.err)
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
