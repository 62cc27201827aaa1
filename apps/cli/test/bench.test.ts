import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel } from '@mriseg/models';
import { clearConvTilings, exportConvTilings, recordConvProblems, setConvTiling } from '@mriseg/nn';
import { initDevice, Rng, rand, runtime, scope, sum } from '@mriseg/tensor-wgsl';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BenchOptions, formatBench, type ProfileRow, runBench } from '../src/commands/bench.js';
import { autotuneOrDefaults, DEFAULT_AUTOTUNE_SECONDS } from '../src/lib/autotune.js';
import { main } from '../src/main.js';

let out: string[];
let cacheRoot = '';
const savedCache = process.env.MRISEG_CACHE;
beforeEach(() => {
  // Tuned tilings go to the cache root by default: each test gets its own, none touches the user's.
  cacheRoot = mkdtempSync(join(tmpdir(), 'mriseg-bench-cache-'));
  process.env.MRISEG_CACHE = cacheRoot;
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(cacheRoot, { recursive: true, force: true });
  if (savedCache === undefined) delete process.env.MRISEG_CACHE;
  else process.env.MRISEG_CACHE = savedCache;
});

/** One inference batch of a 2-feature U-Net on 32² images: the cheapest bench that still runs every kind of layer. */
const TINY_INFER: BenchOptions = {
  model: 'unet',
  features: 2,
  batchSize: 1,
  imageSize: 32,
  warmup: 0,
  iters: 1,
  mode: 'infer',
  loss: 'dice',
};

describe('bench', () => {
  it('measures a training step and inference of a tiny model, with GPU time where timestamps exist', async () => {
    await initDevice();
    const timestamps = runtime().hasFeature('timestamp-query');
    const live = runtime().memory().liveBuffers;
    const options: BenchOptions = {
      model: 'unet',
      features: 2,
      batchSize: 2,
      imageSize: 32,
      warmup: 1,
      iters: 2,
      mode: 'both',
      loss: 'dice',
      profile: true,
    };
    if (!timestamps) {
      await expect(runBench(options)).rejects.toThrow(/'timestamp-query'/);
      options.profile = false;
    }
    const r = await runBench(options);
    expect(r.parameters).toBe(30_751);
    expect(r.trainStepMs).toBeGreaterThan(0);
    expect(r.trainImgPerS).toBeCloseTo((2 * 1000) / r.trainStepMs!, -1);
    expect(r.inferImgPerS).toBeCloseTo((2 * 1000) / r.inferBatchMs!, -1);
    expect(r.peakTrainMiB).toBeGreaterThan(0);
    expect(r.trainStepSyncedMs).toBeGreaterThan(0);
    expect(r.inferBatchSyncedMs).toBeGreaterThan(0);
    // Recording is part of the sustained wall time of a step, so it cannot exceed it.
    expect(r.trainHostMs).toBeGreaterThan(0);
    expect(r.trainHostMs!).toBeLessThanOrEqual(r.trainStepMs! + 0.1);
    expect(r.inferHostMs!).toBeLessThanOrEqual(r.inferBatchMs! + 0.1);
    expect(r.trainDispatches).toBeGreaterThan(r.inferDispatches!);
    expect(r.inferDispatches).toBeGreaterThan(0);
    expect(r.trainSubmits).toBeGreaterThan(0);
    expect(r.trainUploads).toBeGreaterThanOrEqual(0);
    if (timestamps) {
      expect(r.trainGpuMs).toBeGreaterThanOrEqual(0);
      expect(r.trainGpuMs!).toBeLessThanOrEqual(r.trainStepSyncedMs! + 1);
    } else expect(r.trainGpuMs).toBeUndefined();
    const text = formatBench(r);
    expect(text).toMatch(/train step\s+[\d.]+ ms = [\d.]+ img\/s sustained/);
    expect(text).toMatch(
      /synced [\d.]+ ms.*host [\d.]+ ms \(CPU [\d.]+ ms\) recording [\d.]+ dispatches, [\d.]+ submits/,
    );
    // One warm-up and two synced steps, then the sustained steps are replays of the captured step.
    expect(r.replayTrain).toMatch(/^replayed \(\d+ dispatches a step\)$/);
    expect(r.replayInfer).toMatch(/^replayed/);
    expect(text).toMatch(/replay\s+train replayed/);
    expect(r.trainHostCpuMs).toBeGreaterThan(0);
    expect(r.peakTrainLiveMiB!).toBeLessThanOrEqual(r.peakTrainMiB!);
    // The model, optimizer state and batch are all freed afterwards.
    expect(runtime().memory().liveBuffers).toBe(live);
    if (!timestamps) return;

    // The profiled step dispatches exactly what a timed step does, and its shares add up.
    const train = r.profileTrain!;
    const infer = r.profileInfer!;
    const calls = (rows: ProfileRow[]) => rows.reduce((s, row) => s + row.dispatches, 0);
    expect(calls(train)).toBe(r.trainDispatches);
    expect(calls(infer)).toBe(r.inferDispatches);
    for (const rows of [train, infer]) {
      expect(rows.reduce((s, row) => s + row.percent, 0)).toBeCloseTo(100, -1);
      for (const row of rows) expect(Number.isFinite(row.ms) && row.ms >= 0).toBe(true);
      expect(rows.map((row) => row.ms)).toEqual(rows.map((row) => row.ms).sort((a, b) => b - a));
    }
    expect(train.map((row) => row.name)).toEqual(
      expect.arrayContaining(['conv2d', 'conv2d_weight_grad', 'adam_step']),
    );
    expect(infer.map((row) => row.name)).toContain('conv2d');
    expect(infer.map((row) => row.name)).not.toContain('adam_step');
    expect(r.profileTrainMs).toBeGreaterThan(0);
    // The printed table stops at 15 kernels and sums the rest.
    const table = text.slice(text.indexOf('train step kernels'), text.indexOf('inference kernels')).trim();
    expect(table.split('\n')).toHaveLength(2 + Math.min(train.length, 16));
    if (train.length > 15) expect(table).toMatch(new RegExp(`other \\(${train.length - 15} kernels\\)`));
  });

  it('--tilings pins, by layer, the tilings a file chose at another batch and image size', async () => {
    await initDevice();
    const dir = mkdtempSync(join(tmpdir(), 'mriseg-tilings-'));
    try {
      // A tilings file for the same model at batch 4, 64², every GEMM with the plainest small tile.
      const model = createModel('unet', { features: 2 });
      const x = rand([4, 3, 64, 64], new Rng(1), -1, 1);
      const problems = recordConvProblems(() => scope(() => sum(model.forward(x)).backward()));
      for (const p of problems) setConvTiling(p.kernel, p.geometry, { BM: 16, BN: 16, BK: 8, TM: 1, TN: 1 });
      const file = join(dir, 'tilings.json');
      writeFileSync(file, JSON.stringify({ tilings: exportConvTilings() }));
      clearConvTilings();
      model.dispose();
      x.dispose();
      const r = await runBench({ ...TINY_INFER, batchSize: 2, tilings: file, autotune: 'off' });
      // Every GEMM of the small run found its layer: training step and inference convolutions alike.
      expect(r.tilingsPinned!.gemms).toBeGreaterThan(10);
      expect(r.tilingsPinned!.pinned).toBe(r.tilingsPinned!.gemms);
      expect(formatBench(r)).toMatch(
        /tilings\s+\d+ of \d+ conv GEMMs pinned from .*tilings\.json \(by layer\)/,
      );
      writeFileSync(file, '{"format": 1}');
      await expect(runBench({ ...TINY_INFER, tilings: file })).rejects.toThrow(
        /tilings\.json: not a tilings file/,
      );
    } finally {
      clearConvTilings();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the command prints JSON and rejects bad numbers', async () => {
    const argv = [
      'bench',
      '--model',
      'resunet',
      '--features',
      '2',
      '--batch-size',
      '1',
      '--image-size',
      '32',
      '--iters',
      '1',
      '--warmup',
      '0',
      '--mode',
      'infer',
    ];
    expect(await main([...argv, '--json'])).toBe(0);
    const r = JSON.parse(out.join('\n'));
    expect(r.model).toBe('resunet');
    expect(r.trainStepMs).toBeUndefined();
    expect(r.inferImgPerS).toBeGreaterThan(0);
    expect(r.inferBatchSyncedMs).toBeGreaterThan(0);
    expect(r.inferDispatches).toBeGreaterThan(0);
    expect(r.profileInfer).toBeUndefined();
    if (runtime().hasFeature('timestamp-query')) {
      out = [];
      expect(await main([...argv, '--profile', '--json'])).toBe(0);
      const p = JSON.parse(out.join('\n'));
      expect(p.profileTrain).toBeUndefined();
      expect(p.profileInfer.reduce((s: number, row: ProfileRow) => s + row.dispatches, 0)).toBe(
        p.inferDispatches,
      );
    }
    expect(await main(['bench', '--batch-size', '0'])).toBe(2);
    expect(await main(['bench', '--mode', 'fast'])).toBe(2);
    expect(await main(['bench', '--autotune', 'maybe'])).toBe(2);
  });

  it('autotunes the convolutions first when asked (auto leaves a CPU driver alone)', async () => {
    await initDevice();
    const options: BenchOptions = { ...TINY_INFER, autotune: 'auto' };
    const cpu = runtime().report.isCpu;
    const auto = await runBench(options);
    expect(auto.autotune === undefined).toBe(cpu);
    const tuned = await runBench({ ...options, autotune: 'on' });
    // 23 convolutions: forward, input gradient and weight gradient of each but the first (no input gradient),
    // less the 4 levels where encoder and decoder conv2 have one geometry (3 GEMMs each).
    expect(tuned.autotune!.gemms).toBe(3 * 23 - 1 - 4 * 3);
    expect(tuned.autotune).toMatchObject({
      budgetSeconds: DEFAULT_AUTOTUNE_SECONDS,
      skipped: 0,
      cutShort: 0,
    });
    expect(tuned.autotune!.afterMs).toBeLessThanOrEqual(tuned.autotune!.beforeMs);
    expect(tuned.autotune!.afterMs).toBeGreaterThan(0);
    expect(formatBench(tuned)).toMatch(/autotune\s+56 conv GEMMs in [\d.]+ s: [\d.]+ → [\d.]+ ms summed/);
    expect(tuned.inferImgPerS).toBeGreaterThan(0);
    // What tuning allocated is released before anything is measured.
    if (cpu) expect(tuned.peakInferMiB).toBe(auto.peakInferMiB);
  }, 300_000);

  it('MRISEG_TUNING_CACHE: the first run writes the tilings, the next reuses them and times nothing', async () => {
    await initDevice();
    const dir = mkdtempSync(join(tmpdir(), 'mriseg-bench-'));
    const file = join(dir, 'tilings.json');
    process.env.MRISEG_TUNING_CACHE = file;
    try {
      clearConvTilings();
      const options: BenchOptions = { ...TINY_INFER, autotune: 'on' };
      const first = await runBench(options);
      expect(first.autotune).toMatchObject({ gemms: 56, reused: 0 });
      expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).tilings)).toHaveLength(56);
      clearConvTilings();
      const second = await runBench(options);
      expect(second.autotune).toMatchObject({ gemms: 0, reused: 56 });
      expect(formatBench(second)).toMatch(/56 tilings reused/);
    } finally {
      delete process.env.MRISEG_TUNING_CACHE;
      clearConvTilings();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without MRISEG_TUNING_CACHE the tilings are kept per device under the cache root; =off keeps none', async () => {
    await initDevice();
    const options: BenchOptions = { ...TINY_INFER, autotune: 'on' };
    try {
      clearConvTilings();
      const first = await runBench(options);
      const dir = join(cacheRoot, 'tilings');
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^[a-z0-9.-]+\.json$/);
      expect(first.autotune).toMatchObject({ gemms: 56, reused: 0, cache: join(dir, files[0]) });
      clearConvTilings();
      const second = await runBench(options);
      expect(second.autotune).toMatchObject({ gemms: 0, reused: 56 });
      expect(formatBench(second)).toContain(`56 tilings reused from ${join(dir, files[0])}`);
      // A file for other kernel code is not used, and the output says why.
      const file = join(dir, files[0]);
      const json = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, JSON.stringify({ ...json, kernels: 'other' }));
      clearConvTilings();
      const third = await runBench(options);
      expect(third.autotune).toMatchObject({ gemms: 56, reused: 0 });
      expect(formatBench(third)).toMatch(
        /tilings file not reused \(.*another version of the convolution kernels\)/,
      );
      rmSync(dir, { recursive: true });
      process.env.MRISEG_TUNING_CACHE = 'off';
      clearConvTilings();
      const off = await runBench(options);
      expect(off.autotune).toMatchObject({ gemms: 56, reused: 0, cache: null });
      expect(existsSync(dir)).toBe(false);
    } finally {
      delete process.env.MRISEG_TUNING_CACHE;
      clearConvTilings();
    }
  });

  it('a tilings file that cannot be written costs the next run its reuse, not this run its tuning', async () => {
    await initDevice();
    const blocker = join(cacheRoot, 'not-a-folder');
    writeFileSync(blocker, 'a file where a folder should be');
    process.env.MRISEG_TUNING_CACHE = join(blocker, 'tilings.json');
    try {
      clearConvTilings();
      const r = await runBench({ ...TINY_INFER, autotune: 'on' });
      expect(r.autotuneError).toBeUndefined();
      expect(r.autotune).toMatchObject({ gemms: 56, reused: 0 });
      expect(r.autotune!.cacheError).toMatch(/^could not save .*not-a-folder/);
      expect(formatBench(r)).toMatch(/could not save/);
    } finally {
      delete process.env.MRISEG_TUNING_CACHE;
      clearConvTilings();
    }
  });

  it('MRISEG_AUTOTUNE_SECONDS caps the tuning: GEMMs not reached keep their defaults, and the output says so', async () => {
    await initDevice();
    clearConvTilings();
    try {
      process.env.MRISEG_AUTOTUNE_SECONDS = '0';
      const r = await runBench({ ...TINY_INFER, autotune: 'on' });
      expect(r.autotune).toMatchObject({ gemms: 0, skipped: 56, cutShort: 0, budgetSeconds: 0 });
      expect(formatBench(r)).toMatch(/time budget ran out: 56 GEMMs untuned, 0 in part/);
      process.env.MRISEG_AUTOTUNE_SECONDS = 'soon';
      const bad = await runBench({ ...TINY_INFER, autotune: 'on' });
      expect(bad.autotuneError).toMatch(
        /MRISEG_AUTOTUNE_SECONDS must be a number of seconds ≥ 0, not "soon"/,
      );
    } finally {
      delete process.env.MRISEG_AUTOTUNE_SECONDS;
      clearConvTilings();
    }
  });

  it('a failed autotune leaves the default tilings and says why', async () => {
    await initDevice();
    const model = createModel('unet', { features: 2 });
    try {
      // 20 is not a multiple of 16: the U-Net refuses the input (its skip connections cannot line up).
      const r = await autotuneOrDefaults(model, 3, 20, 1);
      expect('error' in r && r.error).toMatch(
        /unet: input .*: height 20 and width 20 must be multiples of 16/,
      );
      expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    } finally {
      model.dispose();
    }
  });
});
