/**
 * Autotuning the convolutions of a model before training or benchmarking (`--autotune auto|on|off`): one
 * forward and backward pass at the training shape finds every convolution GEMM, then each is timed with its
 * candidate tilings on the device (@mriseg/nn `autotuneConvolutions`). 'auto' tunes on a GPU and not on a CPU
 * driver, where compiling the candidates would take minutes and the result matters little. Tilings tuned before
 * on the same device (driver included) for the same kernel code are read from a file and the new ones written
 * back (tuningCachePath), so that only a machine's first run pays for tuning. The time spent tuning is capped
 * (DEFAULT_AUTOTUNE_SECONDS, or MRISEG_AUTOTUNE_SECONDS; the GEMMs not reached keep their default tilings, and
 * the largest are tuned first).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SegmentationModel } from '@mriseg/models';
import { autotuneConvolutions, type ConvTuningResult, clearConvTilings, tilingKey } from '@mriseg/nn';
import { loadConvTilings, saveConvTilings } from '@mriseg/nn/node';
import { add, noGrad, Rng, rand, runtime, sum, type Tensor } from '@mriseg/tensor-wgsl';
import { cacheRoot } from '../env.js';

import type { AutotuneMode } from '../options/commands.js';

export type { AutotuneMode };

export function autotuneEnabled(mode: AutotuneMode): boolean {
  return mode === 'on' || (mode === 'auto' && !runtime().report.isCpu);
}

/**
 * The file tuned tilings are kept in: $MRISEG_TUNING_CACHE, else one per device under the cache root
 * (`~/.cache/mriseg/tilings/<device>.json`); null when MRISEG_TUNING_CACHE=off.
 */
export function tuningCachePath(): string | null {
  const v = process.env.MRISEG_TUNING_CACHE;
  if (v === 'off') return null;
  if (v) return v;
  const r = runtime().report;
  const device = [r.vendor, r.architecture, r.device, r.description]
    .filter(Boolean)
    .join(' ')
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 120);
  return join(cacheRoot(), 'tilings', `${device || 'device'}.json`);
}

export interface AutotuneSummary {
  /** GEMMs timed now. */
  gemms: number;
  /** Tilings taken from the tilings file instead. */
  reused: number;
  /** The tilings file (tuningCachePath), and why an existing one was not used. */
  cache: string | null;
  cacheSkipped?: string;
  /** Why the tilings could not be saved (the run still uses them). */
  cacheError?: string;
  seconds: number;
  /** Summed time of the tuned GEMMs with the tilings they had before, and with the chosen ones. */
  beforeMs: number;
  afterMs: number;
  /** How many GEMMs chose each tiling (tiling key → count). */
  chosen: Record<string, number>;
  /** Candidates left out because the device rejected them or their result was wrong. */
  rejected: { kernel: string; tiling: string; reason: string }[];
  /** GEMMs left with their default tilings, and GEMMs whose candidates were not all timed, for lack of time. */
  skipped: number;
  cutShort: number;
  /** The cap on tuning time (DEFAULT_AUTOTUNE_SECONDS or MRISEG_AUTOTUNE_SECONDS). */
  budgetSeconds: number;
  results: ConvTuningResult[];
}

/**
 * Tunes the convolutions of a training step at batch `batchSize` (and of inference at `inferBatchSize` when it
 * differs). The model runs in eval mode so that BatchNorm running statistics are not touched; its parameters'
 * gradients are cleared afterwards and its train/eval mode restored.
 */
export async function autotuneModel(
  model: SegmentationModel,
  inChannels: number,
  imageSize: number,
  batchSize: number,
  inferBatchSize = batchSize,
): Promise<AutotuneSummary> {
  const t0 = performance.now();
  const wasTraining = model.training;
  const rng = new Rng(0x7e57);
  model.eval();
  const input = (n: number): Tensor => rand([n, inChannels, imageSize, imageSize], rng, -1, 1);
  let results: ConvTuningResult[];
  // Tilings tuned by an earlier run on this device are reused, and only new GEMMs are timed.
  const cache = tuningCachePath();
  const loaded = cache ? loadConvTilings(cache) : { pinned: 0 };
  const reused = loaded.pinned;
  const cacheSkipped = loaded.skipped === 'no such file' ? undefined : loaded.skipped;
  let cacheError: string | undefined;
  const budgetSeconds = autotuneBudget();
  let skipped = 0;
  try {
    results = await autotuneConvolutions(
      () => {
        // Every head's convolutions take part, as in a deep-supervision training step.
        const heads = model.forwardHeads(input(batchSize));
        let total = sum(heads[0]);
        for (const h of heads.slice(1)) total = add(total, sum(h));
        total.backward();
        if (inferBatchSize !== batchSize) noGrad(() => model.forward(input(inferBatchSize)));
      },
      { skipPinned: cache !== null, budgetSeconds, onSkipped: () => skipped++ },
    );
    // The tilings chosen stand for this run even when they cannot be kept for the next.
    if (cache)
      try {
        mkdirSync(dirname(cache), { recursive: true });
        saveConvTilings(cache);
      } catch (e) {
        cacheError = `could not save ${cache}: ${(e as Error).message}`;
      }
    // The tuning operands would otherwise stay in the buffer pool, held for the rest of the run.
    await runtime().sync('autotune');
    runtime().pool.trim();
  } finally {
    for (const p of model.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
    if (wasTraining) model.train();
  }
  const chosen: Record<string, number> = {};
  for (const r of results) {
    const key = tilingKey(r.best.tiling);
    chosen[key] = (chosen[key] ?? 0) + 1;
  }
  const rejected = results.flatMap((r) =>
    r.rejected.map((x) => ({ kernel: r.kernel, tiling: tilingKey(x.tiling), reason: x.reason })),
  );
  const beforeMs = results.reduce((s, r) => s + r.before.ms, 0);
  const afterMs = results.reduce((s, r) => s + r.best.ms, 0);
  return {
    gemms: results.length,
    reused,
    cache,
    ...(cacheSkipped ? { cacheSkipped } : {}),
    ...(cacheError ? { cacheError } : {}),
    seconds: (performance.now() - t0) / 1000,
    beforeMs,
    afterMs,
    chosen,
    rejected,
    skipped,
    cutShort: results.filter((r) => r.cutShort).length,
    budgetSeconds,
    results,
  };
}

/**
 * Seconds of tuning before a run when MRISEG_AUTOTUNE_SECONDS does not say: training should start within a few
 * minutes, and the largest GEMMs, tuned first, are where the time goes. The next run (tilings file) tunes only
 * the GEMMs this one did not reach.
 */
export const DEFAULT_AUTOTUNE_SECONDS = 180;

/** MRISEG_AUTOTUNE_SECONDS as a number of seconds (DEFAULT_AUTOTUNE_SECONDS when unset); else a usage error. */
export function autotuneBudget(): number {
  const text = process.env.MRISEG_AUTOTUNE_SECONDS;
  if (text === undefined || text === '') return DEFAULT_AUTOTUNE_SECONDS;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0)
    throw new Error(`MRISEG_AUTOTUNE_SECONDS must be a number of seconds ≥ 0, not "${text}"`);
  return v;
}

export function formatAutotune(s: AutotuneSummary): string {
  const reused = s.reused > 0 ? ` (${s.reused} tilings reused from ${s.cache})` : '';
  const stale = s.cacheSkipped ? ` (not reused: ${s.cacheSkipped})` : '';
  const unsaved = s.cacheError ? `; ${s.cacheError}` : '';
  const rejected = s.rejected.length
    ? `; ${s.rejected.length} candidate tilings rejected (first: ${s.rejected[0].kernel} ${s.rejected[0].tiling}: ${s.rejected[0].reason})`
    : '';
  const budget =
    s.skipped || s.cutShort
      ? `; the ${s.budgetSeconds} s budget (MRISEG_AUTOTUNE_SECONDS) ran out: ${s.skipped} GEMMs kept their default tilings, ${s.cutShort} were tuned in part`
      : '';
  return `autotune: ${s.gemms} convolution GEMMs in ${s.seconds.toFixed(1)} s${reused}${stale}; ${s.beforeMs.toFixed(2)} → ${s.afterMs.toFixed(2)} ms (${(s.beforeMs / Math.max(s.afterMs, 1e-9)).toFixed(2)}× the default tilings)${rejected}${budget}${unsaved}`;
}

/**
 * autotuneModel, but a failure (a driver that rejects timing, a device error while tuning) leaves the default
 * tilings in place and returns its message: tuning only chooses among equally correct kernels, so a run can go
 * on without it, saying so.
 */
export async function autotuneOrDefaults(
  ...args: Parameters<typeof autotuneModel>
): Promise<AutotuneSummary | { error: string }> {
  try {
    return await autotuneModel(...args);
  } catch (e) {
    clearConvTilings();
    return { error: (e as Error).message };
  }
}
