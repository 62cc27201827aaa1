/** A decoded 2-D image: 8-bit samples, interleaved (row-major, `channels` samples a pixel). */
export interface Raster {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}
