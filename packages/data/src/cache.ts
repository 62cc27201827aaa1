import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import type { PatientFiles } from './layout.js';
import type { PreprocessInfo, PreprocessOptions, Volume } from './preprocess.js';
import type { ReadOptions } from './reader.js';

/** Bump when the preprocessing code changes its output: old entries then no longer match. */
export const CACHE_FORMAT = 'mriseg-volume-v1';
const MAGIC = new TextEncoder().encode('MRIVOL1\n');

/**
 * The cache key of one patient: every source file's name, size and mtime plus the settings and the format
 * version. Any change to a file or a setting gives another key, so a stale entry is never used.
 */
export function cacheKey(
  files: PatientFiles,
  preprocess: Required<PreprocessOptions>,
  read: ReadOptions,
): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({ format: CACHE_FORMAT, preprocess, read: { maskValues: read.maskValues ?? 'binarise' } }),
  );
  for (const s of files.slices) {
    for (const f of [s.image, s.mask]) h.update(`\n${f.path}\t${f.size}\t${f.mtimeMs}`);
  }
  return h.digest('hex');
}

/** Entries of different settings live side by side; the same settings overwrite the patient's old entry. */
export function cachePath(dir: string, id: string, preprocess: Required<PreprocessOptions>): string {
  const settings = createHash('sha256').update(JSON.stringify(preprocess)).digest('hex').slice(0, 12);
  return join(dir, `${id}.${settings}.mrivol`);
}

interface Header {
  format: string;
  key: string;
  id: string;
  sliceNumbers: number[];
  depth: number;
  height: number;
  width: number;
  info: PreprocessInfo;
  payload: number;
}

/**
 * Layout: magic, u32 header length, JSON header, gzip of (float32 image byte-shuffled into 4 byte planes, mask).
 * Shuffling puts the float exponents together, which compresses better; gzip's CRC-32 catches corruption.
 * Synchronous: it runs in the worker threads, one patient a task.
 */
export function writeCachedVolume(path: string, dir: string, key: string, v: Volume): void {
  const img = new Uint8Array(v.image.buffer, v.image.byteOffset, v.image.byteLength);
  const n = v.image.length;
  const payload = new Uint8Array(img.byteLength + v.mask.byteLength);
  for (let b = 0; b < 4; b++) {
    const off = b * n;
    for (let i = 0; i < n; i++) payload[off + i] = img[4 * i + b];
  }
  payload.set(v.mask, img.byteLength);
  const body = gzipSync(payload, { level: 1 });
  const header: Header = {
    format: CACHE_FORMAT,
    key,
    id: v.id,
    sliceNumbers: v.sliceNumbers,
    depth: v.depth,
    height: v.height,
    width: v.width,
    info: v.info,
    payload: payload.byteLength,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + json.length + body.byteLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  out.set(body, MAGIC.length + 4 + json.length);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, out);
}

/**
 * Reads an entry; null when it is missing, stale (another key) or damaged in any way (the damaged file is
 * removed). Never throws for a bad entry: the caller rebuilds it.
 */
export function readCachedVolume(path: string, key: string): Volume | null {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    return null;
  }
  try {
    if (bytes.byteLength < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b))
      throw new Error('magic');
    const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
    const header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + len)),
    ) as Header;
    if (header.format !== CACHE_FORMAT || header.key !== key) return null;
    const payload = new Uint8Array(gunzipSync(bytes.subarray(MAGIC.length + 4 + len)));
    const n = header.depth * 3 * header.height * header.width;
    const m = header.depth * header.height * header.width;
    if (payload.byteLength !== header.payload || payload.byteLength !== 4 * n + m) throw new Error('size');
    const image = new Float32Array(n);
    const img = new Uint8Array(image.buffer);
    for (let b = 0; b < 4; b++) {
      const off = b * n;
      for (let i = 0; i < n; i++) img[4 * i + b] = payload[off + i];
    }
    const mask = payload.slice(4 * n);
    for (let i = 0; i < m; i++) if (mask[i] > 1) throw new Error('mask');
    return {
      id: header.id,
      sliceNumbers: header.sliceNumbers,
      depth: header.depth,
      height: header.height,
      width: header.width,
      image,
      mask,
      info: header.info,
    };
  } catch {
    rmSync(path, { force: true });
    return null;
  }
}
