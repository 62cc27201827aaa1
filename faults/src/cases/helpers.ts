/** Shapes shared by many cases: a phantom data set with one crafted file, read as the commands read it. */
import { join } from 'node:path';
import { loadDataset } from '@mriseg/data';
import { PATIENT, phantomData, replaceSlice, slicePath } from '../fixtures/dataset.js';
import type { CaseContext, Category, FaultCase, Summary } from '../types.js';

export const SIZE = 32;
export const SLICES = 5;

/** Loads the input as train/evaluate do (scan, decode, preprocess at 32², cache in the work folder). */
export async function loadInput(
  ctx: CaseContext,
  options: Parameters<typeof loadDataset>[1] = {},
): Promise<Summary> {
  const warnings: string[] = [];
  const r = await loadDataset(ctx.input, {
    cacheDir: join(ctx.work, 'cache'),
    workers: 0,
    preprocess: { size: 32 },
    onWarning: (w) => warnings.push(w),
    ...options,
  });
  return {
    patients: r.volumes.map((v) => v.id),
    depth: r.volumes.map((v) => v.depth),
    tumour: r.volumes.map((v) => v.mask.reduce((a, b) => a + b, 0)),
    built: r.built,
    cached: r.cached,
    warnings,
  };
}

export interface HostileFile {
  id: string;
  title: string;
  item: number;
  make: (ctx: CaseContext) => Uint8Array | Promise<Uint8Array>;
  problem: RegExp;
  /** Replace the mask of the slice instead of its image. */
  mask?: boolean;
  /** The data set's format (the crafted file's): TIFF by default. */
  format?: 'tif' | 'png';
  slow?: boolean;
}

/** A case that swaps slice 3 of the first patient of a phantom set for a crafted file and loads the set. */
export function hostileSlice(category: Category, h: HostileFile, run = loadInput, patients = 1): FaultCase {
  return {
    id: `${category}/${h.id}`,
    category,
    title: h.title,
    item: h.item,
    slow: h.slow,
    setup: async (ctx) => {
      phantomData(ctx.input, patients, SIZE, SLICES, h.format);
      replaceSlice(ctx.input, 3, await h.make(ctx), h.mask, PATIENT, h.format);
    },
    run,
    expect: { name: 'DataError', problem: h.problem, file: (ctx) => hostilePath(ctx, h) },
  };
}

/** The crafted file of a HostileFile case. */
export function hostilePath(ctx: CaseContext, h: HostileFile): string {
  return slicePath(ctx.input, 3, h.mask, PATIENT, h.format);
}

/** A summary check: `want` fields equal, by JSON. */
export function fields(want: Summary): (s: Summary) => string | null {
  return (s) => {
    for (const [k, v] of Object.entries(want)) {
      if (JSON.stringify(s[k]) !== JSON.stringify(v))
        return `${k} is ${JSON.stringify(s[k])}, ${JSON.stringify(v)} expected`;
    }
    return null;
  };
}

/**
 * A case on a one-patient phantom set that `change` alters once written; the set is then loaded as train/evaluate
 * load it, unless `run` says otherwise.
 */
export function layoutCase(
  id: string,
  title: string,
  change: (ctx: CaseContext) => void | Promise<void>,
  expect: FaultCase['expect'],
  run: FaultCase['run'] = loadInput,
  item = 8,
): FaultCase {
  return {
    id: `data/${id}`,
    category: 'data',
    title,
    item,
    setup: async (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      await change(ctx);
    },
    run,
    expect,
  };
}
