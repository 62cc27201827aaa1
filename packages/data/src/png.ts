import { decode, encode } from 'fast-png';
import { DataError } from './errors.js';
import type { Raster } from './raster.js';

/** Decodes an 8-bit grey or RGB PNG (the dataset's layout converted to PNG). Palette, alpha and 16-bit are refused. */
export function decodePng(bytes: Uint8Array, file: string): Raster {
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
