import { DataError } from './errors.js';

/** A decoded 2-D image: 8-bit samples, interleaved (row-major, `channels` samples a pixel). */
export interface Raster {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/**
 * Throws a DataError naming `file` when a decoded slice is not `width`×`height` with `channels` samples (3 for an
 * image, 1 for a mask); `reference` says where the expected size came from.
 */
export function checkRasterShape(
  r: Raster,
  file: string,
  height: number,
  width: number,
  channels: number,
  reference: string,
): void {
  if (r.height !== height || r.width !== width) {
    throw new DataError(
      file,
      `wrong size ${r.width}×${r.height}, ${width}×${height} expected (${reference})`,
    );
  }
  if (r.channels !== channels) {
    throw new DataError(
      file,
      `wrong channel count ${r.channels}, ${channels} expected (${channels === 3 ? 'RGB image' : 'grey mask'})`,
    );
  }
}
