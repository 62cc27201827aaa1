import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import type { PatientFiles } from './layout.js';
import type { PreprocessInfo, PreprocessOptions, Volume } from './preprocess.js';
import type { ReadOptions } from './reader.js';

/** Bump when the preprocessing code or the entry layout changes: old entries then no longer match. */
export const CACHE_FORMAT = 'mriseg-volume-v3';
const MAGIC = new TextEncoder().encode('MRIVOL2\n');
const MAC_BYTES = 32;
const SECRET_FILE = '.mriseg-cache-secret';
/** One patient's entry is tens of MB; anything past this is not an entry of ours and is not read. */
const MAX_ENTRY_BYTES = 2 ** 31 - 1;

/**
 * The cache key of one patient: a sha256 over the bytes of every source file as they were read (with each file's
 * name), the preprocessing and reading settings and the format version. Keyed on content, not on sizes and
 * modification times: a mask rewritten with the same size and mtime gets a new key, a copied data set keeps its
 * entries. The worker computes it from the very bytes it decodes on a miss.
 */
export function cacheKey(
  files: PatientFiles,
  bytesOf: (path: string) => Uint8Array,
  preprocess: Required<PreprocessOptions>,
  read: ReadOptions,
): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      format: CACHE_FORMAT,
      id: files.id,
      preprocess,
      read: { maskValues: read.maskValues ?? 'binarise', expectedSize: read.expectedSize ?? null },
    }),
  );
  for (const s of files.slices) {
    for (const f of [s.image, s.mask]) {
      const digest = createHash('sha256').update(bytesOf(f.path)).digest('hex');
      h.update(`\n${s.number}\t${basename(f.path)}\t${digest}`);
    }
  }
  return h.digest('hex');
}

/** Entries of different settings live side by side; the same settings overwrite the patient's old entry. */
export function cachePath(dir: string, id: string, preprocess: Required<PreprocessOptions>): string {
  const settings = createHash('sha256').update(JSON.stringify(preprocess)).digest('hex').slice(0, 12);
  return join(dir, `${id}.${settings}.mrivol`);
}

/**
 * The cache folder's secret (32 random bytes, made on first use, readable by its owner only). Every entry carries
 * an HMAC under it, so an entry edited by anything but this code — a valid gzip with other numbers in it, a file
 * copied from another cache — fails verification and is rebuilt.
 */
export function cacheSecret(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, SECRET_FILE);
  const existing = readSecret(path);
  if (existing !== null) return existing;
  // Made complete under a temporary name and linked into place: another process sees all of it or none.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  const made = readSecret(path);
  if (made === null) throw new Error(`${path}: cannot make the cache secret`);
  return made;
}

/** The secret in `path`, or null when there is none; a damaged one is removed (its entries are then rebuilt). */
function readSecret(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(text)) return text;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
  }
  rmSync(path, { recursive: true, force: true });
  return null;
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

function mac(secret: string, bytes: Uint8Array): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'hex')).update(bytes).digest();
}

/**
 * Layout: magic, u32 header length, JSON header, gzip of (float32 image byte-shuffled into 4 byte planes, mask),
 * HMAC-SHA256 of everything before it. Shuffling puts the float exponents together, which compresses better.
 * Synchronous: it runs in the worker threads, one patient a task. Atomic (temporary file + rename).
 */
export function writeCachedVolume(path: string, dir: string, key: string, secret: string, v: Volume): void {
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
  const signed = MAGIC.length + 4 + json.length + body.byteLength;
  const out = new Uint8Array(signed + MAC_BYTES);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  out.set(body, MAGIC.length + 4 + json.length);
  out.set(mac(secret, out.subarray(0, signed)), signed);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, out);
}

/** A cache lookup: the volume, or why there is none (`problem` is set when an entry was there and was discarded). */
export type CacheLookup = { volume: Volume; problem: null } | { volume: null; problem: string | null };

const miss = (problem: string | null): CacheLookup => ({ volume: null, problem });

/**
 * Reads and verifies an entry: it must be a regular file of ours (a directory or link at its name is removed),
 * carry a valid HMAC under `secret`, belong to patient `id` and have the expected `key`, and unpack to exactly the
 * sizes its header states (the gunzip is bounded by them). A damaged or tampered entry is removed and reported in
 * `problem`; a stale one (another key) is left to be overwritten. Never throws for a bad entry.
 */
export function readCachedVolume(path: string, key: string, secret: string, id: string): CacheLookup {
  let size: number;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) {
      rmSync(path, { recursive: true, force: true });
      return miss(
        `${path}: not a regular file (${st.isDirectory() ? 'a directory' : 'a link or device'}); removed`,
      );
    }
    size = st.size;
  } catch {
    return miss(null);
  }
  const discard = (why: string) => {
    rmSync(path, { force: true });
    return miss(`${path}: ${why}; discarded and rebuilt`);
  };
  if (size > MAX_ENTRY_BYTES || size < MAGIC.length + 4 + MAC_BYTES)
    return discard(`${size} bytes, not a cache entry`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return discard(`unreadable (${(e as Error).message})`);
  }
  if (!MAGIC.every((b, i) => bytes[i] === b)) return discard('not a cache entry of this version');
  const signed = bytes.byteLength - MAC_BYTES;
  const expected = mac(secret, bytes.subarray(0, signed));
  if (!timingSafeEqual(expected, bytes.subarray(signed))) {
    return discard('failed verification (edited, damaged or written under another cache secret)');
  }
  try {
    const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
    const start = MAGIC.length + 4;
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + len))) as Header;
    if (header.format !== CACHE_FORMAT || header.key !== key) return miss(null);
    if (header.id !== id) return discard(`holds patient ${header.id}, not ${id}`);
    const n = header.depth * 3 * header.height * header.width;
    const m = header.depth * header.height * header.width;
    if (!Number.isSafeInteger(n) || header.payload !== 4 * n + m) return discard('inconsistent sizes');
    const payload = new Uint8Array(
      gunzipSync(bytes.subarray(start + len, signed), { maxOutputLength: Math.max(1, header.payload) }),
    );
    if (payload.byteLength !== header.payload) return discard('payload of the wrong size');
    const image = new Float32Array(n);
    const img = new Uint8Array(image.buffer);
    for (let b = 0; b < 4; b++) {
      const off = b * n;
      for (let i = 0; i < n; i++) img[4 * i + b] = payload[off + i];
    }
    const mask = payload.slice(4 * n);
    for (let i = 0; i < m; i++) if (mask[i] > 1) return discard('mask values other than 0/1');
    return {
      volume: {
        id: header.id,
        sliceNumbers: header.sliceNumbers,
        depth: header.depth,
        height: header.height,
        width: header.width,
        image,
        mask,
        info: header.info,
      },
      problem: null,
    };
  } catch (e) {
    return discard(`corrupt (${(e as Error).message})`);
  }
}
