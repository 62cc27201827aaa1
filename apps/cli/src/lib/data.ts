/** Loading data for the commands: the demo phantom set or a Kaggle-layout folder, preprocessed and cached. */
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  loadDataset,
  type PreprocessOptions,
  type Volume,
  type WorkerPool,
  writePhantomDataset,
} from '@mriseg/data';
import type { TrainConfig } from '../config.js';
import { cacheRoot } from '../env.js';
import { CliError } from '../errors.js';
import { preprocessingOptions } from './pipeline.js';

/** Phantom settings of the demo: 128² slices (preprocessed down to the demo's 64²), 14–20 slices a patient. */
export const DEMO_PHANTOM = { size: 128, slices: [14, 20] as [number, number], seed: 7 };

/**
 * The synthetic demo data set in the Kaggle layout (TIFF), written once into the cache folder and reused.
 * Written into a temporary folder and renamed, so an interrupted first run leaves nothing half-made behind.
 */
export function ensureDemoData(patients: number, log: (s: string) => void = () => {}): string {
  const root = join(
    cacheRoot(),
    'demo',
    `phantom-s${DEMO_PHANTOM.size}-p${patients}-seed${DEMO_PHANTOM.seed}`,
  );
  if (existsSync(join(root, '.complete'))) return root;
  log(`writing the synthetic demo data set (${patients} phantom patients) to ${root}`);
  const tmp = `${root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writePhantomDataset(tmp, {
    patients,
    seed: DEMO_PHANTOM.seed,
    size: DEMO_PHANTOM.size,
    slices: DEMO_PHANTOM.slices,
  });
  writeFileSync(join(tmp, '.complete'), '');
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  return root;
}

export interface LoadedVolumes {
  root: string;
  volumes: Volume[];
  ms: number;
  cached: number;
}

/** Fails early when a data folder given on the command line is not there. */
export function checkDataFolder(flag: string, path: string): void {
  if (!existsSync(path)) throw new CliError(`${flag} ${path}: no such folder (looked for ${resolve(path)})`);
  if (!statSync(path).isDirectory()) throw new CliError(`${flag} ${path}: not a folder`);
}

/** Preprocessed volumes (the reference pipeline with `preprocess`'s options), through the on-disk cache. */
export async function loadVolumes(
  data: string | null,
  o: {
    preprocess: PreprocessOptions;
    cache: string | null;
    pool: WorkerPool;
    demoPatients: number;
    log: (s: string) => void;
  },
): Promise<LoadedVolumes> {
  if (data !== null) checkDataFolder('--data', data);
  const root = data ?? ensureDemoData(o.demoPatients, o.log);
  const cacheDir = o.cache ?? join(cacheRoot(), 'volumes');
  // Warnings (a cache entry that cannot be written on a full disk, a mask stored as 0/1) cost nothing of the run:
  // one line each on stderr, the run goes on.
  const r = await loadDataset(root, {
    cacheDir,
    pool: o.pool,
    preprocess: o.preprocess,
    onWarning: (w) => console.error(`mriseg: warning: ${w}`),
  });
  return { root, volumes: r.volumes, ms: r.ms, cached: r.cached };
}

/** The preprocessing options beyond the reference that a run asked for (recorded in its checkpoints). */
export const preprocessingOf = (c: Pick<TrainConfig, 'bias-correct' | 'skull-strip'>) =>
  preprocessingOptions({ biasCorrect: c['bias-correct'], skullStrip: c['skull-strip'] });

/**
 * The volumes a training configuration trains on: its data (or the demo set), at its size and with its
 * preprocessing, through its cache.
 */
export function loadTrainingVolumes(
  c: Pick<TrainConfig, 'data' | 'image-size' | 'cache' | 'demo-patients' | 'bias-correct' | 'skull-strip'>,
  pool: WorkerPool,
  log: (s: string) => void,
): Promise<LoadedVolumes> {
  return loadVolumes(c.data, {
    preprocess: { size: c['image-size'], ...preprocessingOf(c) },
    cache: c.cache,
    pool,
    demoPatients: c['demo-patients'],
    log,
  });
}
