/**
 * `bench`: training-step and inference throughput of a model on synthetic data, after a warm-up. Two timings:
 * sustained (steps recorded back to back, the GPU waited for once at the end, as the training loop runs: host
 * recording overlaps GPU work) gives the img/s; synced (the GPU waited for after every step) gives the latency of
 * one step, and its GPU time from timestamp queries where the adapter has them. Also the host time spent recording
 * a step, its dispatches and submits, the peak of GPU memory held by the buffer pool and, with `profile`, the GPU
 * time of each kernel over one extra step.
 */

import { readFileSync } from 'node:fs';
import { createModel, inferenceOf, type SegmentationModel } from '@mriseg/models';
import { Adam, createLoss, importConvTilingsByLayer, recordConvProblems } from '@mriseg/nn';
import {
  initDevice,
  keep,
  noGrad,
  Rng,
  rand,
  runtime,
  StepGraph,
  scope,
  type Tensor,
  tensor,
} from '@mriseg/tensor-wgsl';
import { CliError, UsageError } from '../errors.js';
import {
  type AutotuneMode,
  type AutotuneSummary,
  autotuneEnabled,
  autotuneOrDefaults,
} from '../lib/autotune.js';
import { checkCheckpointFile, checkInputSize, openCheckpoint, readCheckpoint } from '../lib/infer.js';
import { shownPath } from '../lib/paths.js';
import { headsLoss, trainStep } from '../lib/train-step.js';
import type { Value } from '../options/schema.js';

export interface BenchOptions {
  model: string;
  features: number;
  /** Measure this checkpoint's model (its architecture and width; `model` and `features` are then ignored). */
  checkpoint?: string;
  batchSize: number;
  imageSize: number;
  warmup: number;
  iters: number;
  mode: 'train' | 'infer' | 'both';
  loss: string;
  /** After the timed steps, time each kernel of one more training step and inference batch. */
  profile?: boolean;
  /** Tune the convolution tilings before timing ('auto', the default: on a GPU adapter only). */
  autotune?: AutotuneMode;
  /** Replay steps from captures (default true). */
  replay?: boolean;
  /** A tilings file whose choices are pinned by layer before timing. */
  tilings?: string;
  /** Dawn's Null backend: nothing executes, host time is all there is. */
  nullBackend?: boolean;
}

/** One op name's share of a profiled step. */
export interface ProfileRow {
  name: string;
  dispatches: number;
  /** GPU milliseconds of all its dispatches in the step. */
  ms: number;
  /** Percent of the step's summed kernel time. */
  percent: number;
}

export interface BenchResult {
  adapter: string;
  model: string;
  features: number;
  parameters: number;
  batchSize: number;
  imageSize: number;
  /** Whether Dawn guarded the shaders' array indexing (MRISEG_ROBUSTNESS=0 turns it off). */
  robustness: boolean;
  /** Dawn's Null backend: nothing ran on a device; the host figures are what issuing the work costs. */
  nullBackend?: boolean;
  /** How the timed steps ran: replayed from a capture, or eager (and why). */
  replayTrain?: string;
  replayInfer?: string;
  /** Convolution GEMMs pinned from --tilings (matched by layer), of those the step launches. */
  tilingsPinned?: { file: string; pinned: number; gemms: number };
  /** Convolution autotuning before the timed steps (absent when off): GEMMs tuned, seconds it took, and the
   *  summed time of those GEMMs with the default tilings and with the chosen ones. */
  autotune?: Omit<AutotuneSummary, 'results' | 'rejected'> & {
    /** Candidates left out (device error or wrong result), and the first 10 with their reason. */
    rejected: number;
    rejectedFirst: AutotuneSummary['rejected'];
  };
  /** Why autotuning failed (the run then used the default tilings). */
  autotuneError?: string;
  /** Sustained wall time of a training step: steps recorded back to back, one wait at the end. */
  trainStepMs?: number;
  /** Images a second at the sustained step time. */
  trainImgPerS?: number;
  /** Median wall time of a step that waits for the GPU before the next one starts. */
  trainStepSyncedMs?: number;
  /** GPU time of a step from timestamp queries (absent without the feature). */
  trainGpuMs?: number;
  /** CPU time of recording a step (the step's body, in the sustained loop). */
  trainHostMs?: number;
  /** Process CPU time of recording a step: the host cost on a machine busy with other work. */
  trainHostCpuMs?: number;
  trainDispatches?: number;
  /** Queue submits a step, the final wait's included: fractional when steps share a submit. */
  trainSubmits?: number;
  /** Buffer uploads a step (each one submits the work recorded before it). */
  trainUploads?: number;
  inferBatchMs?: number;
  inferImgPerS?: number;
  inferBatchSyncedMs?: number;
  inferGpuMs?: number;
  inferHostMs?: number;
  inferHostCpuMs?: number;
  inferDispatches?: number;
  inferSubmits?: number;
  inferUploads?: number;
  /** Peak of the buffer pool: what it reserves (live + free + held), as PyTorch's max_memory_reserved. */
  peakTrainMiB?: number;
  peakInferMiB?: number;
  /** Peak of the buffers in use, as PyTorch's max_memory_allocated. */
  peakTrainLiveMiB?: number;
  peakInferLiveMiB?: number;
  /** Kernels of one profiled training step, most GPU time first (with `profile`). */
  profileTrain?: ProfileRow[];
  /** Summed kernel time of that step; each kernel ran in its own pass, so it is not the step's GPU time. */
  profileTrainMs?: number;
  profileTrainCopies?: number;
  profileInfer?: ProfileRow[];
  profileInferMs?: number;
  profileInferCopies?: number;
}

interface Timing {
  sustained: number;
  synced: number;
  gpu: number | null;
  host: number;
  /** CPU time of this process in `body` (user + system), which other load on the machine does not inflate. */
  hostCpu: number;
  dispatches: number;
  submits: number;
  uploads: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const MiB = 2 ** 20;

/**
 * Warm-up, then `iters` synced steps (median wall and GPU time), then `iters` steps back to back with one wait
 * at the end: the sustained step time, the host time inside `body`, and the counters a step.
 */
async function timeSteps(warmup: number, iters: number, body: () => void): Promise<Timing> {
  const rt = runtime();
  for (let i = 0; i < warmup; i++) {
    body();
    await rt.sync('bench warm-up');
  }
  const wall: number[] = [];
  const gpu: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    const g = await rt.timeGpu(body);
    wall.push(performance.now() - t0);
    if (g !== null) gpu.push(g);
  }
  await rt.sync('bench');
  const before = { ...rt.counters };
  let host = 0;
  let hostCpu = 0;
  let held = 0;
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) {
    const h0 = performance.now();
    const c0 = process.cpuUsage();
    body();
    host += performance.now() - h0;
    const cpu = process.cpuUsage(c0);
    hostCpu += (cpu.user + cpu.system) / 1000;
    // Nothing waits for the GPU here, so a step that kept its tensors would pile up memory unseen until OOM.
    const m = rt.memory();
    const bytes = m.liveBytes + m.pooledBytes;
    if (i > 0 && bytes > held) {
      throw new Error(
        `bench: GPU memory grew by ${((bytes - held) / MiB).toFixed(2)} MiB between back-to-back steps ` +
          `(${i} and ${i + 1}): a step keeps tensors it should free`,
      );
    }
    held = bytes;
  }
  await rt.sync('bench');
  const sustained = (performance.now() - t0) / iters;
  const per = (k: 'dispatches' | 'submits' | 'uploads') => (rt.counters[k] - before[k]) / iters;
  return {
    sustained,
    synced: median(wall),
    gpu: gpu.length ? median(gpu) : null,
    host: host / iters,
    hostCpu: hostCpu / iters,
    dispatches: per('dispatches'),
    submits: per('submits'),
    uploads: per('uploads'),
  };
}

async function profileStep(body: () => void): Promise<{ rows: ProfileRow[]; ms: number; copies: number }> {
  const rt = runtime();
  await rt.sync('bench');
  rt.startProfile();
  try {
    body();
  } catch (e) {
    await rt.stopProfile().catch(() => undefined);
    throw e;
  }
  const p = await rt.stopProfile();
  const rows = p.ops.map((o) => ({
    name: o.name,
    dispatches: o.dispatches,
    ms: round(o.totalMs, 3),
    percent: round(p.totalMs > 0 ? (100 * o.totalMs) / p.totalMs : 0),
  }));
  return { rows, ms: round(p.totalMs, 3), copies: p.copies };
}

/** What `bench` reports of one phase (a training step or an inference batch), before it gets field names. */
interface PhaseFigures {
  sustainedMs: number;
  imgPerS: number;
  syncedMs: number;
  gpuMs?: number;
  hostMs: number;
  hostCpuMs: number;
  dispatches: number;
  submits: number;
  uploads: number;
  peakMiB: number;
  peakLiveMiB: number;
  profile?: { rows: ProfileRow[]; ms: number; copies: number };
}

/** Times `body` (and profiles one more run with `profile`); the memory peak is that of this phase alone. */
async function measurePhase(o: BenchOptions, body: () => void): Promise<PhaseFigures> {
  const rt = runtime();
  rt.pool.resetPeak();
  const t = await timeSteps(o.warmup, o.iters, body);
  const figures: PhaseFigures = {
    sustainedMs: round(t.sustained),
    imgPerS: round((o.batchSize * 1000) / t.sustained),
    syncedMs: round(t.synced),
    hostMs: round(t.host, 2),
    hostCpuMs: round(t.hostCpu, 2),
    dispatches: round(t.dispatches),
    submits: round(t.submits),
    uploads: round(t.uploads),
    // Read before the profiled run, whose per-kernel passes are not part of the phase being timed.
    peakMiB: round(rt.memory().peakBytes / MiB),
    peakLiveMiB: round(rt.memory().peakLiveBytes / MiB),
  };
  // The null backend's timestamps measure nothing.
  if (t.gpu !== null && !o.nullBackend) figures.gpuMs = round(t.gpu);
  if (o.profile) figures.profile = await profileStep(body);
  return figures;
}

type NumberField = {
  [K in keyof BenchResult]-?: NonNullable<BenchResult[K]> extends number ? K : never;
}[keyof BenchResult];

/** The flat JSON names of one phase's figures: scripts and the READMEs read them, so they must not change. */
interface PhaseFields {
  sustainedMs: NumberField;
  imgPerS: NumberField;
  syncedMs: NumberField;
  gpuMs: NumberField;
  hostMs: NumberField;
  hostCpuMs: NumberField;
  dispatches: NumberField;
  submits: NumberField;
  uploads: NumberField;
  peakMiB: NumberField;
  peakLiveMiB: NumberField;
  profile: 'profileTrain' | 'profileInfer';
  profileMs: NumberField;
  profileCopies: NumberField;
}

const TRAIN_FIELDS: PhaseFields = {
  sustainedMs: 'trainStepMs',
  imgPerS: 'trainImgPerS',
  syncedMs: 'trainStepSyncedMs',
  gpuMs: 'trainGpuMs',
  hostMs: 'trainHostMs',
  hostCpuMs: 'trainHostCpuMs',
  dispatches: 'trainDispatches',
  submits: 'trainSubmits',
  uploads: 'trainUploads',
  peakMiB: 'peakTrainMiB',
  peakLiveMiB: 'peakTrainLiveMiB',
  profile: 'profileTrain',
  profileMs: 'profileTrainMs',
  profileCopies: 'profileTrainCopies',
};

const INFER_FIELDS: PhaseFields = {
  sustainedMs: 'inferBatchMs',
  imgPerS: 'inferImgPerS',
  syncedMs: 'inferBatchSyncedMs',
  gpuMs: 'inferGpuMs',
  hostMs: 'inferHostMs',
  hostCpuMs: 'inferHostCpuMs',
  dispatches: 'inferDispatches',
  submits: 'inferSubmits',
  uploads: 'inferUploads',
  peakMiB: 'peakInferMiB',
  peakLiveMiB: 'peakInferLiveMiB',
  profile: 'profileInfer',
  profileMs: 'profileInferMs',
  profileCopies: 'profileInferCopies',
};

/** Writes in this order because it is the order of the keys in the printed JSON. */
function recordPhase(r: BenchResult, f: PhaseFields, p: PhaseFigures): void {
  r[f.sustainedMs] = p.sustainedMs;
  r[f.imgPerS] = p.imgPerS;
  r[f.syncedMs] = p.syncedMs;
  if (p.gpuMs !== undefined) r[f.gpuMs] = p.gpuMs;
  r[f.hostMs] = p.hostMs;
  r[f.hostCpuMs] = p.hostCpuMs;
  r[f.dispatches] = p.dispatches;
  r[f.submits] = p.submits;
  r[f.uploads] = p.uploads;
  r[f.peakMiB] = p.peakMiB;
  r[f.peakLiveMiB] = p.peakLiveMiB;
  if (p.profile) {
    r[f.profile] = p.profile.rows;
    r[f.profileMs] = p.profile.ms;
    r[f.profileCopies] = p.profile.copies;
  }
}

/** The inverse of `recordPhase`, for printing: a phase that did not run reads as all undefined. */
function phaseOf(r: BenchResult, f: PhaseFields): Partial<PhaseFigures> {
  const rows = r[f.profile];
  return {
    sustainedMs: r[f.sustainedMs],
    imgPerS: r[f.imgPerS],
    syncedMs: r[f.syncedMs],
    gpuMs: r[f.gpuMs],
    hostMs: r[f.hostMs],
    hostCpuMs: r[f.hostCpuMs],
    dispatches: r[f.dispatches],
    submits: r[f.submits],
    uploads: r[f.uploads],
    peakMiB: r[f.peakMiB],
    peakLiveMiB: r[f.peakLiveMiB],
    profile: rows && { rows, ms: r[f.profileMs] ?? 0, copies: r[f.profileCopies] ?? 0 },
  };
}

function syntheticBatch(o: BenchOptions, rng: Rng): { x: Tensor; y: Tensor } {
  const n = o.batchSize * o.imageSize * o.imageSize;
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) mask[i] = rng.uniform() < 0.1 ? 1 : 0;
  return {
    x: keep(rand([o.batchSize, 3, o.imageSize, o.imageSize], rng, -1, 1)),
    y: keep(tensor(mask, [o.batchSize, 1, o.imageSize, o.imageSize])),
  };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const rt = await initDevice(o.nullBackend ? { dawnOptions: ['backend=null'] } : {});
  if (o.nullBackend && !/null/i.test(`${rt.report.description} ${rt.report.device} ${rt.report.vendor}`))
    throw new CliError(
      `bench --backend null: this process already runs on ${rt.report.description || rt.report.vendor}; run bench in a process of its own`,
    );
  if (o.profile && !rt.hasFeature('timestamp-query')) {
    // Said before the timed steps rather than after minutes of them.
    throw new CliError(
      `bench --profile needs the WebGPU feature 'timestamp-query', which this adapter (${rt.report.description || rt.report.vendor}) does not offer`,
    );
  }
  const rng = new Rng(0);
  const model: SegmentationModel = o.checkpoint
    ? openCheckpoint(o.checkpoint).model
    : createModel(o.model, { features: o.features, rng });
  const { x, y } = syntheticBatch(o, rng);
  const result: BenchResult = {
    adapter:
      [rt.report.vendor, rt.report.architecture, rt.report.description].filter(Boolean).join(' ') ||
      (o.nullBackend ? 'Dawn null' : 'unnamed adapter'),
    model: model.architecture,
    features: (model.config() as { features: number }).features,
    parameters: model.numParameters(),
    batchSize: o.batchSize,
    imageSize: o.imageSize,
    robustness: rt.robustness,
    ...(o.nullBackend ? { nullBackend: true } : {}),
  };
  const graph = new StepGraph({ enabled: o.replay ?? true });
  try {
    if (o.tilings) result.tilingsPinned = pinTilingsByLayer(o.tilings, model, x, y, o.loss);
    if (!o.nullBackend && autotuneEnabled(o.autotune ?? 'auto')) {
      const s = await autotuneOrDefaults(model, 3, o.imageSize, o.batchSize);
      if ('error' in s) result.autotuneError = s.error;
      else
        result.autotune = {
          gemms: s.gemms,
          reused: s.reused,
          cache: s.cache,
          ...(s.cacheSkipped ? { cacheSkipped: s.cacheSkipped } : {}),
          ...(s.cacheError ? { cacheError: s.cacheError } : {}),
          seconds: round(s.seconds),
          beforeMs: round(s.beforeMs, 3),
          afterMs: round(s.afterMs, 3),
          chosen: s.chosen,
          skipped: s.skipped,
          cutShort: s.cutShort,
          budgetSeconds: s.budgetSeconds,
          rejected: s.rejected.length,
          rejectedFirst: s.rejected.slice(0, 10),
        };
    }
    if (o.mode !== 'infer') {
      const opt = new Adam(model.parameters(), { lr: 1e-4 });
      const parts = {
        model,
        optimizer: opt,
        loss: headsLoss(createLoss(o.loss)),
        clipGrad: 0,
        params: model.parameters(),
      };
      model.train();
      // The loss is not read back (as in training between readbacks): freed with the step.
      const step = () => graph.run('train', () => trainStep(parts, x, y)).dispose();
      recordPhase(result, TRAIN_FIELDS, await measurePhase(o, step));
      result.replayTrain = replayNote(graph, 'train');
      // The training step's reserved buffers are not the inference batch's.
      graph.dispose();
      opt.zeroGrad();
      opt.dispose();
    }
    if (o.mode !== 'train') {
      model.eval();
      rt.pool.trim();
      const batch = () => {
        // The logits are freed at once: a sustained loop of batches that nothing reads.
        scope(() => {
          graph.run('infer', () => noGrad(() => model.forward(x)));
        });
      };
      recordPhase(result, INFER_FIELDS, await measurePhase(o, batch));
      result.replayInfer = replayNote(graph, 'infer');
    }
  } finally {
    graph.dispose();
    x.dispose();
    y.dispose();
    model.dispose();
  }
  return result;
}

/** How a phase's steps ran, in words. */
function replayNote(graph: StepGraph, key: string): string {
  const s = graph.status(key);
  if (s.mode === 'replaying') return `replayed (${s.dispatches} dispatches a step)`;
  return `eager${s.reason ? `: ${s.reason}` : ''}`;
}

/**
 * Pins the tilings a tilings file (as autotuning saves it) chose for the layers of this model's training step,
 * matched by layer (importConvTilingsByLayer). Returns how many of the step's GEMMs got one.
 */
function pinTilingsByLayer(file: string, model: SegmentationModel, x: Tensor, y: Tensor, loss: string) {
  let entries: Record<string, string>;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { tilings?: unknown };
    if (typeof parsed.tilings !== 'object' || parsed.tilings === null)
      throw new Error('it has no "tilings" object');
    entries = parsed.tilings as Record<string, string>;
  } catch (e) {
    throw new CliError(`${shownPath(file)}: not a tilings file (${(e as Error).message})`);
  }
  const lossFn = headsLoss(createLoss(loss));
  const problems = recordConvProblems(() =>
    scope(() => {
      lossFn(model.forwardHeads(x), y).backward();
      noGrad(() => model.forward(x));
    }),
  );
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  return {
    file: shownPath(file),
    pinned: importConvTilingsByLayer(entries, problems),
    gemms: problems.length,
  };
}

/** `bench` from the command line: the options, or a checkpoint's model at the input size it records. */
export async function benchCommand(v: Record<string, Value>): Promise<number> {
  const checkpoint = v.checkpoint as string | null;
  let imageSize = v['image-size'] as number | null;
  if (checkpoint !== null) {
    for (const k of ['model', 'features'] as const)
      if (v[k] !== null)
        throw new UsageError(`--${k} comes from the checkpoint; leave it out with --checkpoint`, 'bench');
    checkCheckpointFile(checkpoint);
    const r = inferenceOf(readCheckpoint(checkpoint), shownPath(checkpoint));
    if (r.note && !v.json) console.log(`note: ${r.note}`);
    if (imageSize === null) checkInputSize(r.spec.inputSize, checkpoint);
    imageSize ??= r.spec.inputSize;
  }
  const o: BenchOptions = {
    model: (v.model as string | null) ?? 'unet',
    features: (v.features as number | null) ?? 32,
    ...(checkpoint !== null ? { checkpoint } : {}),
    batchSize: v['batch-size'] as number,
    imageSize: imageSize ?? 256,
    warmup: v.warmup as number,
    iters: v.iters as number,
    mode: v.mode as BenchOptions['mode'],
    loss: v.loss as string,
    profile: v.profile as boolean,
    autotune: v.autotune as AutotuneMode,
    replay: v.replay === 'on',
    ...(v.tilings !== null ? { tilings: v.tilings as string } : {}),
    nullBackend: v.backend === 'null',
  };
  if (o.nullBackend && o.profile)
    throw new UsageError('--profile times kernels on the device; the null backend runs none', 'bench');
  const r = await runBench(o);
  console.log(v.json ? JSON.stringify(r) : formatBench(r));
  return 0;
}

const round = (v: number, digits = 1) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

const TOP_KERNELS = 15;

/** The kernels taking the most GPU time, the rest summed in one "other" row. */
function kernelTable(title: string, rows: ProfileRow[], ms: number, copies: number): string[] {
  const dispatches = rows.reduce((s, r) => s + r.dispatches, 0);
  const shown = rows.slice(0, TOP_KERNELS);
  const rest = rows.slice(TOP_KERNELS);
  const lines = shown.map((r) => [r.name, r.dispatches, r.ms, r.percent] as const);
  if (rest.length > 0) {
    const restMs = rest.reduce((s, r) => s + r.ms, 0);
    lines.push([
      `other (${rest.length} kernels)`,
      rest.reduce((s, r) => s + r.dispatches, 0),
      round(restMs, 3),
      round(ms > 0 ? (100 * restMs) / ms : 0),
    ]);
  }
  const width = Math.max(24, ...lines.map(([name]) => name.length));
  const row = (a: string, b: string, c: string, d: string) =>
    `  ${a.padEnd(width)} ${b.padStart(6)} ${c.padStart(9)} ${d.padStart(6)}`;
  return [
    `${title}: ${dispatches} dispatches, ${copies} copies, ${ms} ms of kernels (each in its own timed pass)`,
    row('kernel', 'calls', 'GPU ms', '%'),
    ...lines.map(([name, n, t, p]) => row(name, String(n), t.toFixed(3), p.toFixed(1))),
  ];
}

export function formatBench(r: BenchResult): string {
  const rows: [string, string][] = [
    [
      'adapter',
      `${r.adapter}${r.robustness ? '' : ' (robustness off)'}${r.nullBackend ? " (Dawn's null backend: nothing runs; the GPU figures are not the work's)" : ''}`,
    ],
    ['model', `${r.model} f${r.features} (${r.parameters.toLocaleString('en')} parameters)`],
    ['input', `batch ${r.batchSize} × 3 × ${r.imageSize}²`],
  ];
  if (r.tilingsPinned)
    rows.push([
      'tilings',
      `${r.tilingsPinned.pinned} of ${r.tilingsPinned.gemms} conv GEMMs pinned from ${r.tilingsPinned.file} (by layer)`,
    ]);
  if (r.replayTrain || r.replayInfer)
    rows.push([
      'replay',
      [r.replayTrain && `train ${r.replayTrain}`, r.replayInfer && `inference ${r.replayInfer}`]
        .filter(Boolean)
        .join('; '),
    ]);
  if (r.autotuneError) rows.push(['autotune', `failed (${r.autotuneError}); default tilings`]);
  if (r.autotune)
    rows.push([
      'autotune',
      `${r.autotune.gemms} conv GEMMs in ${r.autotune.seconds} s: ${r.autotune.beforeMs} → ${r.autotune.afterMs} ms summed${r.autotune.reused ? `; ${r.autotune.reused} tilings reused from ${r.autotune.cache}` : ''}${r.autotune.cacheSkipped ? `; tilings file not reused (${r.autotune.cacheSkipped})` : ''}${r.autotune.cacheError ? `; ${r.autotune.cacheError}` : ''}${r.autotune.rejected ? `; ${r.autotune.rejected} candidates rejected` : ''}${r.autotune.skipped || r.autotune.cutShort ? `; time budget ran out: ${r.autotune.skipped} GEMMs untuned, ${r.autotune.cutShort} in part` : ''}`,
    ]);
  const phases = [
    {
      p: phaseOf(r, TRAIN_FIELDS),
      name: 'train step',
      per: '',
      note: ' (Adam + loss)',
      kernels: 'train step kernels',
    },
    {
      p: phaseOf(r, INFER_FIELDS),
      name: 'inference',
      per: ' a batch',
      note: '',
      kernels: 'inference kernels',
    },
  ];
  for (const { p, name, per, note } of phases) {
    if (p.sustainedMs === undefined) continue;
    rows.push([
      name,
      `${p.sustainedMs} ms${per} = ${p.imgPerS} img/s sustained${note}, peak ${p.peakLiveMiB} MiB in use (${p.peakMiB} reserved)`,
    ]);
    rows.push([
      '',
      `synced ${p.syncedMs} ms${p.gpuMs !== undefined ? `, GPU ${p.gpuMs} ms` : ''}; host ${p.hostMs} ms (CPU ${p.hostCpuMs} ms) ` +
        `recording ${p.dispatches} dispatches, ${p.submits} submits, ${p.uploads} uploads`,
    ]);
  }
  const lines = rows.map(([k, v]) => `${k.padEnd(11)} ${v}`);
  for (const { p, kernels } of phases) {
    if (p.profile) lines.push('', ...kernelTable(kernels, p.profile.rows, p.profile.ms, p.profile.copies));
  }
  return lines.join('\n');
}
