import { type AugmentParams, augmentSlice } from './augment.js';
import { cacheKey, readCachedVolume, writeCachedVolume } from './cache.js';
import { DataError } from './errors.js';
import type { PatientFiles } from './layout.js';
import { type PreprocessOptions, preprocess, type Volume } from './preprocess.js';
import { type RawPatient, type ReadOptions, readFileBytes, readPatientBytes } from './reader.js';

/** Slices of a volume held in shared memory by every worker (no copy per task). */
export interface SharedVolume {
  depth: number;
  height: number;
  width: number;
  image: Float32Array;
  mask: Uint8Array;
}

export interface AugmentItem {
  volume: number;
  slice: number;
  /** null: copy the slice unchanged (validation, or augmentation off). */
  params: AugmentParams | null;
}

/** The work a pool runs, in a worker thread or (fallback) in the calling thread. */
export type Task =
  | {
      kind: 'load';
      files: PatientFiles;
      read: ReadOptions;
      preprocess: Required<PreprocessOptions> | null;
      /** Preprocessed-volume cache entry to try first and to write after a rebuild (see cache.ts). */
      cache?: { dir: string; path: string; secret: string };
    }
  | { kind: 'register'; registry: number; volumes: SharedVolume[] }
  | { kind: 'unregister'; registry: number }
  | { kind: 'augment'; registry: number; items: AugmentItem[] };

export interface LoadResult {
  volume: Volume | null;
  raw: RawPatient | null;
  warnings: string[];
  /** The volume came from the cache. */
  cached: boolean;
}

export interface AugmentResult {
  /** (n, 3, h, w). */
  image: Float32Array;
  /** (n, 1, h, w), 0 or 1. */
  mask: Float32Array;
}

export type TaskResult = LoadResult | AugmentResult | null;

/** Per-thread state: the volumes registered by loaders. */
export class TaskState {
  readonly registries = new Map<number, SharedVolume[]>();
}

/**
 * Moves a volume's arrays into SharedArrayBuffers (one copy, made in the worker): posting them back costs nothing,
 * and a BatchLoader later shares the very same memory with every thread instead of copying ~3 GB.
 */
function toShared(v: Volume): Volume {
  const image = new Float32Array(new SharedArrayBuffer(v.image.byteLength));
  image.set(v.image);
  const mask = new Uint8Array(new SharedArrayBuffer(v.mask.byteLength));
  mask.set(v.mask);
  return { ...v, image, mask };
}

export function runTask(task: Task, state: TaskState): { result: TaskResult; transfer: ArrayBuffer[] } {
  switch (task.kind) {
    case 'load': {
      const warnings: string[] = [];
      const warn = (m: string) => warnings.push(m);
      // Each file is read once: hashed for the cache key and, on a miss, decoded from the same bytes.
      const read = new Map<string, Uint8Array>();
      const bytesOf = (path: string) => {
        let b = read.get(path);
        if (!b) {
          b = readFileBytes(path);
          read.set(path, b);
        }
        return b;
      };
      if (!task.preprocess) {
        const raw = readPatientBytes(task.files, bytesOf, task.read, warn);
        return {
          result: { volume: null, raw, warnings, cached: false },
          transfer: [raw.image.buffer as ArrayBuffer, raw.mask.buffer as ArrayBuffer],
        };
      }
      const c = task.cache;
      const key = c ? cacheKey(task.files, bytesOf, task.preprocess, task.read) : '';
      if (c) {
        const hit = readCachedVolume(c.path, key, c.secret, task.files.id);
        if (hit.problem) warn(`cache entry ${hit.problem}`);
        if (hit.volume) {
          return {
            result: { volume: toShared(hit.volume), raw: null, warnings, cached: true },
            transfer: [],
          };
        }
      }
      const volume = preprocess(readPatientBytes(task.files, bytesOf, task.read, warn), task.preprocess);
      if (c) {
        try {
          writeCachedVolume(c.path, c.dir, key, c.secret, volume);
        } catch (e) {
          // A full disk or a read-only cache costs the cache, not the run.
          warn(`${c.path}: cannot write the cache entry (${(e as Error).message}); continuing without it`);
        }
      }
      return { result: { volume: toShared(volume), raw: null, warnings, cached: false }, transfer: [] };
    }
    case 'register':
      state.registries.set(task.registry, task.volumes);
      return { result: null, transfer: [] };
    case 'unregister':
      state.registries.delete(task.registry);
      return { result: null, transfer: [] };
    case 'augment': {
      const vols = state.registries.get(task.registry);
      if (!vols) throw new Error(`augment: volumes ${task.registry} are not registered in this thread`);
      const first = vols[task.items[0]?.volume ?? 0];
      const h = first?.height ?? 0;
      const w = first?.width ?? 0;
      const plane = h * w;
      const n = task.items.length;
      const image = new Float32Array(n * 3 * plane);
      const mask = new Float32Array(n * plane);
      task.items.forEach((it, k) => {
        const v = vols[it.volume];
        if (!v || it.slice < 0 || it.slice >= v.depth)
          throw new Error(`augment: no slice ${it.slice} in volume ${it.volume}`);
        if (v.height !== h || v.width !== w) {
          throw new DataError(
            `volume ${it.volume}`,
            `slice size ${v.width}×${v.height} differs from ${w}×${h} in one batch`,
          );
        }
        const src = v.image.subarray(it.slice * 3 * plane, (it.slice + 1) * 3 * plane);
        const srcMask = v.mask.subarray(it.slice * plane, (it.slice + 1) * plane);
        const outImg = image.subarray(k * 3 * plane, (k + 1) * 3 * plane);
        const outMask = mask.subarray(k * plane, (k + 1) * plane);
        if (it.params) augmentSlice(src, srcMask, 3, h, w, it.params, outImg, outMask);
        else {
          outImg.set(src);
          for (let i = 0; i < plane; i++) outMask[i] = srcMask[i];
        }
      });
      return { result: { image, mask }, transfer: [image.buffer, mask.buffer] };
    }
  }
}
