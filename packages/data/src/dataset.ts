import { cachePath, cacheSecret } from './cache.js';
import { defaultWarningSink, type WarningSink } from './errors.js';
import { type PatientFiles, scanDataset } from './layout.js';
import { WorkerPool } from './pool.js';
import { type PreprocessOptions, resolvePreprocess, type Volume } from './preprocess.js';
import type { RawPatient, ReadOptions } from './reader.js';
import { assertOutsideSource } from './source-guard.js';
import type { LoadResult } from './tasks.js';

export interface LoadOptions {
  /** Only these patients. */
  patients?: readonly string[];
  /** Gaps in a patient's slice numbers: 'fail' (default) or 'allow'. */
  gaps?: 'fail' | 'allow';
  read?: ReadOptions;
  /** Preprocessing steps; the reference by default. */
  preprocess?: PreprocessOptions;
  /** Cache folder for preprocessed volumes; none by default. Never inside the source folder. */
  cacheDir?: string;
  /** A pool to use (left open); otherwise one is made for this call and closed after it. */
  pool?: WorkerPool;
  /** Worker threads for a pool made here (see PoolOptions.workers). */
  workers?: number;
  onWarning?: WarningSink;
  onProgress?: (done: number, total: number, id: string) => void;
}

export interface LoadedDataset {
  volumes: Volume[];
  /** How many came from the cache and how many were decoded and preprocessed. */
  cached: number;
  built: number;
  ms: number;
}

/**
 * Reads (in parallel, one patient a task), validates and preprocesses a Kaggle-layout folder, with an optional
 * on-disk cache. Volumes are returned in sorted patient-ID order.
 */
export async function loadDataset(root: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  const t0 = performance.now();
  const files = scanDataset(root, { patients: options.patients, gaps: options.gaps });
  // Real paths, so that a cache reached through a symbolic link into the data (or a linked patient folder) is
  // refused too.
  if (options.cacheDir)
    assertOutsideSource(options.cacheDir, [root, ...files.map((f) => f.dir)], 'cache folder');
  const pre = resolvePreprocess(options.preprocess);
  const read = options.read ?? {};
  const warn = options.onWarning ?? defaultWarningSink;
  const pool = options.pool ?? new WorkerPool({ workers: options.workers });
  let cached = 0;
  let built = 0;
  let done = 0;
  try {
    const { dir, secret } = openCache(options.cacheDir, warn);
    const volumes: Volume[] = new Array(files.length);
    // Largest patients first: one task a patient, so this keeps the threads evenly busy to the end.
    const order = files.map((_, i) => i).sort((a, b) => files[b].slices.length - files[a].slices.length);
    await Promise.all(
      order.map(async (i) => {
        const f = files[i];
        const cache = dir ? { dir, path: cachePath(dir, f.id, pre), secret } : undefined;
        const r = await pool.run<LoadResult>({ kind: 'load', files: f, read, preprocess: pre, cache });
        r.warnings.forEach(warn);
        if (r.cached) cached++;
        else built++;
        volumes[i] = r.volume!;
        options.onProgress?.(++done, files.length, f.id);
      }),
    );
    return { volumes, cached, built, ms: performance.now() - t0 };
  } finally {
    if (!options.pool) await pool.close();
  }
}

/** Reads patients without preprocessing (decode and validation only), in parallel. */
export async function readDataset(
  root: string,
  options: Pick<LoadOptions, 'patients' | 'gaps' | 'read' | 'pool' | 'workers' | 'onWarning'> = {},
): Promise<RawPatient[]> {
  const files: PatientFiles[] = scanDataset(root, { patients: options.patients, gaps: options.gaps });
  const pool = options.pool ?? new WorkerPool({ workers: options.workers });
  const warn = options.onWarning ?? defaultWarningSink;
  try {
    return await Promise.all(
      files.map(async (f) => {
        const r = await pool.run<LoadResult>({
          kind: 'load',
          files: f,
          read: options.read ?? {},
          preprocess: null,
        });
        r.warnings.forEach(warn);
        return r.raw!;
      }),
    );
  } finally {
    if (!options.pool) await pool.close();
  }
}

/** The cache folder and its secret, or no cache (with a warning) when the folder cannot be made or written. */
function openCache(dir: string | undefined, warn: WarningSink): { dir?: string; secret: string } {
  if (!dir) return { secret: '' };
  try {
    return { dir, secret: cacheSecret(dir) };
  } catch (e) {
    warn(`${dir}: cannot use the cache folder (${(e as Error).message}); continuing without a cache`);
    return { secret: '' };
  }
}
