import { DataError } from './errors.js';

/**
 * Bounds every decoder checks against what a file *declares* (size, strip and image counts) before it allocates or
 * inflates anything, so a crafted or corrupt file fails in milliseconds instead of exhausting memory or time. The
 * data set's slices are 256 × 256; the defaults leave room for MRI slices up to 8192² while refusing decompression
 * bombs (a 1 MB Deflate stream declaring 20000 × 20000 pixels).
 */
export interface DecodeLimits {
  /** Largest width or height, in pixels. */
  maxSide: number;
  /** Most pixels of one image. */
  maxPixels: number;
  /** Most images (IFDs) followed along a TIFF's chain; the chain must also not loop. */
  maxTiffImages: number;
  /** Most bytes of one patient's decoded slices, images and masks together. */
  maxVolumeBytes: number;
  /**
   * Most voxels of one scanner volume (NIfTI file or DICOM series, all frames): 2²⁷ is a 512³ volume. A gzip member
   * of half a megabyte can hold 500 M zero voxels; a volume is decoded (and its float copy made) only below this.
   */
  maxScanVoxels: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxSide: 8192,
  maxPixels: 2 ** 25,
  maxTiffImages: 256,
  maxVolumeBytes: 2 ** 31,
  maxScanVoxels: 2 ** 27,
});

/** The defaults with the given bounds replaced. */
export function resolveLimits(limits: Partial<DecodeLimits> = {}): DecodeLimits {
  return { ...DEFAULT_DECODE_LIMITS, ...limits };
}

/** Throws a DataError naming `file` when a declared image size breaks the limits (or is not a size at all). */
export function checkDeclaredSize(
  file: string,
  width: number,
  height: number,
  limits: DecodeLimits,
  format: string,
): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new DataError(file, `${format} declares an image of ${width}×${height} pixels`);
  }
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new DataError(
      file,
      `${format} declares ${width}×${height} pixels, more than the decode limit ` +
        `(${limits.maxSide} a side, ${limits.maxPixels} pixels): refused before decoding`,
    );
  }
}

/** Throws when a patient's slices would need more memory than `maxVolumeBytes`. */
export function checkVolumeBytes(
  what: string,
  depth: number,
  height: number,
  width: number,
  limits: DecodeLimits,
): void {
  // RGB image + 1-channel mask, one byte a sample.
  const bytes = depth * height * width * 4;
  if (bytes > limits.maxVolumeBytes) {
    throw new DataError(
      what,
      `${depth} slices of ${width}×${height} need ${bytes} bytes, more than the limit of ${limits.maxVolumeBytes}`,
    );
  }
}
