import { deflateSync } from 'node:zlib';
import { DataError } from './errors.js';
import { checkDeclaredSize, DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js';
import type { Raster } from './raster.js';
import { applyHorizontalPredictor, compressLzw, compressPackBits } from './tiff-compress.js';
import { readTiffDirectory } from './tiff-directory.js';
import { decodeStrip, undoHorizontalPredictor } from './tiff-strips.js';

/** Compressions decoded here. Others are refused by name (utif decodes 32946, old-style Deflate, to zeros). */
export const SUPPORTED_TIFF_COMPRESSIONS: readonly number[] = [1, 5, 8, 32773];

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  2: 'CCITT RLE',
  3: 'CCITT G3',
  4: 'CCITT G4',
  5: 'LZW',
  6: 'old JPEG',
  7: 'JPEG',
  8: 'Deflate',
  32773: 'PackBits',
  32946: 'old-style Deflate',
  34712: 'JPEG 2000',
};

/**
 * Decodes an 8-bit, strip-organised TIFF (first image) into an interleaved raster. Nothing the file declares is
 * trusted: the directory is read with every count and offset bounded by the file (`readTiffDirectory`), the
 * declared size is checked against `limits` before anything is allocated, and each strip is decoded with a bound on
 * its output (`decodeStrip`). Unsupported layouts (compression, predictor, bit depth, planar configuration,
 * photometric interpretation, tiles) are refused by name. `file` names the file in errors.
 */
export function decodeTiff(
  bytes: Uint8Array,
  file: string,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Raster {
  const n = bytes.byteLength;
  const { tags } = readTiffDirectory(bytes, file, limits);
  const tag = (id: number) => tags.get(id);
  const width = tag(256)?.[0];
  const height = tag(257)?.[0];
  if (!width || !height) throw new DataError(file, 'TIFF has no image width/height');
  checkDeclaredSize(file, width, height, limits, 'TIFF');
  const compression = tag(259)?.[0] ?? 1;
  if (!SUPPORTED_TIFF_COMPRESSIONS.includes(compression)) {
    const name = COMPRESSION_NAMES[compression] ?? 'unknown';
    throw new DataError(
      file,
      `unsupported TIFF compression ${compression} (${name}); supported: none, LZW, Deflate (8), PackBits`,
    );
  }
  const predictor = tag(317)?.[0] ?? 1;
  if (predictor !== 1 && predictor !== 2) {
    throw new DataError(file, `unsupported TIFF predictor ${predictor} (only 1 = none and 2 = horizontal)`);
  }
  const channels = tag(277)?.[0] ?? 1;
  const bits = tag(258) ?? [1];
  if (bits.length !== channels && bits.length !== 1) {
    throw new DataError(file, `TIFF declares ${channels} samples a pixel but ${bits.length} bit depths`);
  }
  if (!bits.every((b) => b === 8)) {
    throw new DataError(file, `bit depth ${bits.join(',')}: only 8 bits a sample is supported`);
  }
  if (channels < 1 || channels > 4) {
    throw new DataError(file, `TIFF declares ${channels} samples a pixel (1 to 4 are read)`);
  }
  const sampleFormat = tag(339);
  if (sampleFormat && !sampleFormat.every((f) => f === 1)) {
    throw new DataError(
      file,
      `sample format ${sampleFormat.join(',')}: only unsigned integers are supported`,
    );
  }
  if ((tag(284)?.[0] ?? 1) !== 1) {
    throw new DataError(file, 'planar configuration 2 (separate planes) is not supported');
  }
  if (tag(322) || tag(324)) throw new DataError(file, 'tiled TIFF is not supported (strips only)');
  const photometric = tag(262)?.[0];
  if (photometric !== undefined && photometric !== 1 && photometric !== 2) {
    throw new DataError(
      file,
      `photometric interpretation ${photometric} is not supported (1 = grey, black is zero; 2 = RGB)`,
    );
  }
  const offsets = tag(273);
  if (!offsets || offsets.length === 0) throw new DataError(file, 'TIFF has no strip offsets');
  const rowBytes = width * channels;
  const declaredRows = tag(278)?.[0] ?? height;
  if (declaredRows < 1) throw new DataError(file, `TIFF declares ${declaredRows} rows a strip`);
  const rowsPerStrip = Math.min(declaredRows, height);
  let counts = tag(279);
  if (!counts) {
    if (compression !== 1 || offsets.length !== 1) throw new DataError(file, 'TIFF has no strip byte counts');
    counts = [height * rowBytes];
  }
  if (counts.length !== offsets.length) {
    throw new DataError(file, `TIFF has ${offsets.length} strip offsets but ${counts.length} byte counts`);
  }
  const strips = Math.ceil(height / rowsPerStrip);
  if (offsets.length < strips) {
    throw new DataError(file, `TIFF has ${offsets.length} strips, ${strips} needed for ${height} rows`);
  }
  for (let i = 0; i < strips; i++) {
    const rows = Math.min(rowsPerStrip, height - i * rowsPerStrip);
    // The dataset's last strip declares a full strip but holds only the rows left: require only what is read.
    const need = compression === 1 ? Math.min(counts[i], rows * rowBytes) : counts[i];
    if (compression === 1 && counts[i] < rows * rowBytes) {
      throw new DataError(file, `strip ${i} holds ${counts[i]} bytes, ${rows * rowBytes} needed`);
    }
    if (offsets[i] + need > n) {
      throw new DataError(
        file,
        `truncated TIFF: strip ${i} needs bytes ${offsets[i]}..${offsets[i] + need} of a ${n}-byte file`,
      );
    }
  }
  // Room for whole strips: a writer may pad the last one to its full height.
  const stripBytes = rowsPerStrip * rowBytes;
  const out = new Uint8Array(strips * stripBytes);
  for (let i = 0; i < strips; i++) {
    const rows = Math.min(rowsPerStrip, height - i * rowsPerStrip);
    const src = bytes.subarray(offsets[i], Math.min(n, offsets[i] + counts[i]));
    const target = out.subarray(i * stripBytes, (i + 1) * stripBytes);
    decodeStrip(compression, src, target, { need: rows * rowBytes, max: stripBytes }, file, i);
  }
  const data = out.subarray(0, height * rowBytes);
  if (predictor === 2) undoHorizontalPredictor(data, rowBytes, channels);
  return { width, height, channels, data };
}

export interface TiffWriteOptions {
  /** Rows a strip (the real dataset uses 11 for images, 32 for masks). */
  rowsPerStrip?: number;
  /** 1 (none, as the dataset), 5 (LZW), 8 (Deflate, zlib stream a strip) or 32773 (PackBits). */
  compression?: 1 | 5 | 8 | 32773;
  /** 2: horizontal differencing before compression. Default 1 (none). */
  predictor?: 1 | 2;
  /** Replace or add tags (id → values). Meant for crafting invalid files in tests. */
  overrideTags?: Record<number, number[]>;
  /**
   * Strip payloads written as given instead of compressing `data` (crafting files whose strips disagree with
   * their tags, e.g. a small stream declaring a huge image). `data` is then not read.
   */
  stripBytes?: Uint8Array[];
}

/**
 * A little-endian strip TIFF writer for 8-bit grey (1 sample) or RGB (3 samples) rasters, uncompressed (as the
 * dataset) or with any compression the reader takes: utif's own encoder writes RGBA only.
 */
export function encodeTiff(raster: Raster, options: TiffWriteOptions = {}): Uint8Array {
  const { width, height, channels, data } = raster;
  if (!options.stripBytes && data.byteLength % height !== 0)
    throw new Error('encodeTiff: data length is not a whole number of rows');
  const rowBytes = data.byteLength / height;
  const rps = Math.max(1, Math.min(options.rowsPerStrip ?? height, height));
  const strips = Math.ceil(height / rps);
  const stripOffsets: number[] = [];
  const stripCounts: number[] = [];
  const dataStart = 8;
  const stripData: Uint8Array[] = [];
  const predicted = options.predictor === 2 ? applyHorizontalPredictor(data, rowBytes, channels) : data;
  for (let s = 0; s < strips && !options.stripBytes; s++) {
    const raw = predicted.subarray(s * rps * rowBytes, Math.min(height, (s + 1) * rps) * rowBytes);
    stripData.push(compressStrip(raw, options.compression ?? 1));
  }
  stripData.push(...(options.stripBytes ?? []));
  let at0 = dataStart;
  for (const sd of stripData) {
    stripOffsets.push(at0);
    stripCounts.push(sd.byteLength);
    at0 += sd.byteLength;
  }
  const dataBytes = at0 - dataStart;
  const tags = new Map<number, number[]>([
    [256, [width]],
    [257, [height]],
    [258, new Array(channels).fill(8)],
    [259, [options.compression ?? 1]],
    [262, [channels === 3 ? 2 : 1]],
    [273, stripOffsets],
    [277, [channels]],
    [278, [rps]],
    [279, stripCounts],
    [284, [1]],
    ...(options.predictor === 2 ? ([[317, [2]]] as [number, number[]][]) : []),
  ]);
  for (const [k, v] of Object.entries(options.overrideTags ?? {})) tags.set(Number(k), v);
  const ids = [...tags.keys()].sort((a, b) => a - b);
  const longTags = new Set([273, 279]);
  let ifdOffset = dataStart + dataBytes;
  ifdOffset += ifdOffset & 1;
  const ifdSize = 2 + ids.length * 12 + 4;
  let extra = ifdOffset + ifdSize;
  const total =
    extra +
    ids.reduce((acc, id) => {
      const v = tags.get(id)!;
      const size = (longTags.has(id) || v.some((x) => x > 65535) ? 4 : 2) * v.length;
      return acc + (size > 4 ? size + (size & 1) : 0);
    }, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  dv.setUint16(2, 42, true);
  dv.setUint32(4, ifdOffset, true);
  stripData.forEach((sd, i) => {
    out.set(sd, stripOffsets[i]);
  });
  dv.setUint16(ifdOffset, ids.length, true);
  let at = ifdOffset + 2;
  for (const id of ids) {
    const v = tags.get(id)!;
    const long = longTags.has(id) || v.some((x) => x > 65535);
    const size = (long ? 4 : 2) * v.length;
    dv.setUint16(at, id, true);
    dv.setUint16(at + 2, long ? 4 : 3, true);
    dv.setUint32(at + 4, v.length, true);
    let target = at + 8;
    if (size > 4) {
      dv.setUint32(at + 8, extra, true);
      target = extra;
      extra += size + (size & 1);
    }
    v.forEach((x, i) => {
      if (long) dv.setUint32(target + 4 * i, x, true);
      else dv.setUint16(target + 2 * i, x, true);
    });
    at += 12;
  }
  dv.setUint32(at, 0, true);
  return out;
}

function compressStrip(raw: Uint8Array, compression: number): Uint8Array {
  if (compression === 5) return compressLzw(raw);
  if (compression === 8) return deflateSync(raw);
  if (compression === 32773) return compressPackBits(raw);
  return raw;
}
