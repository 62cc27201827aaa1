import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePhantomDataset } from '@mriseg/data';
import { afterEach, beforeEach, vi } from 'vitest';

/** A tiny phantom data set in the Kaggle layout (5 patients of 6–8 slices at 64²) and a private cache folder. */
export function tinyDataset(): { root: string; data: string; cache: string } {
  const root = mkdtempSync(join(tmpdir(), 'mriseg-cli-'));
  const data = join(root, 'kaggle');
  mkdirSync(data);
  writePhantomDataset(data, { patients: 5, size: 64, slices: [6, 8], seed: 3 });
  const cache = join(root, 'cache');
  process.env.MRISEG_CACHE = cache;
  return { root, data, cache };
}

/** Flags of a train run small enough for the CPU driver: f2 U-Net, 32², 4 steps an epoch. */
export function tinyTrainArgs(data: string, out: string, extra: string[] = []): string[] {
  return [
    '--data',
    data,
    '--out',
    out,
    '--features',
    '2',
    '--image-size',
    '32',
    '--batch-size',
    '4',
    '--epoch-size',
    '16',
    '--epochs',
    '2',
    '--split',
    'random:1:2',
    '--val-batch-size',
    '16',
    '--workers',
    '0',
    '--log-every',
    '3',
    '--seed',
    '5',
    '--lr',
    '0.003',
    ...extra,
  ];
}

/** What the commands print through console.log (`out`) and console.error (`err`), collected afresh for each test. */
export function captureConsole(): { out: string[]; err: string[] } {
  const io = { out: [] as string[], err: [] as string[] };
  beforeEach(() => {
    io.out = [];
    io.err = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void io.out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void io.err.push(a.join(' ')));
  });
  afterEach(() => vi.restoreAllMocks());
  return io;
}
