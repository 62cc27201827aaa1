/** Where things live (cache, data worker script) and what the run happened on (adapter, versions, commit). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '@mriseg/data';
import { VERSION as NN_VERSION } from '@mriseg/nn';
import { runtime } from '@mriseg/tensor-wgsl';
import { VERSION } from './version.js';

/** ~/.cache/mriseg (or $MRISEG_CACHE, or $XDG_CACHE_HOME/mriseg). */
export function cacheRoot(): string {
  if (process.env.MRISEG_CACHE) return process.env.MRISEG_CACHE;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'mriseg');
}

/**
 * The data package's worker script as this build ships it: `cli.worker.mjs` beside the single-file bundle,
 * `cli.worker.js` beside dist/bin.js; null when running from the TypeScript sources (the pool then runs its
 * tasks in this thread).
 */
export function dataWorkerUrl(): URL | null {
  const here = new URL('.', import.meta.url);
  if (here.protocol !== 'file:') return null;
  for (const name of ['cli.worker.mjs', 'cli.worker.js']) {
    const url = new URL(name, here);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return null;
}

/** A worker pool for decoding and augmentation: `workers` threads (−1: cores − 1), in-process without a worker script. */
export function makePool(workers: number): WorkerPool {
  const url = dataWorkerUrl();
  const n = workers < 0 ? Math.max(1, availableParallelism() - 1) : workers;
  return url ? new WorkerPool({ workers: n, workerUrl: url }) : new WorkerPool({ workers: 0 });
}

function gitCommit(): string | null {
  const dir = dirname(fileURLToPath(import.meta.url));
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    return `${out.toString().trim()}${dirty.toString().trim() ? ' (modified)' : ''}`;
  } catch {
    return null;
  }
}

export interface Environment {
  mriseg: string;
  nn: string;
  node: string;
  platform: string;
  host: string;
  cpus: number;
  adapter: string;
  isCpuAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
  vulkanIcd: string | null;
  commit: string | null;
  dataWorkers: string;
  startedAt: string;
  argv: string[];
}

export function environment(pool: WorkerPool | null): Environment {
  const r = runtime().report;
  return {
    mriseg: VERSION,
    nn: NN_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    host: hostname(),
    cpus: availableParallelism(),
    adapter: [r.vendor, r.architecture, r.device, r.description].filter(Boolean).join(' ').trim(),
    isCpuAdapter: r.isCpu,
    features: r.features,
    limits: r.limits,
    vulkanIcd: process.env.VK_ICD_FILENAMES ?? null,
    commit: gitCommit(),
    dataWorkers: pool ? `${pool.mode}, ${pool.size}` : 'none',
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
  };
}
