/**
 * The two functions of `node:zlib` that @mriseg/data's TIFF code uses, on pako, for the browser bundle
 * (vite.config.ts aliases `node:zlib` here). Both work on zlib streams, as node's do.
 */
import { deflate, inflate } from 'pako';

export function inflateSync(data: Uint8Array): Uint8Array {
  // pako returns undefined (no exception) for a stream that ends early.
  const out = inflate(data) as Uint8Array | undefined;
  if (!out) throw new Error('unexpected end of file');
  return out;
}

export function deflateSync(data: Uint8Array): Uint8Array {
  return deflate(data);
}
