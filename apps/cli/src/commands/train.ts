/**
 * `train`: the training loop. Every epoch: progress with img/s and ETA, train loss, validation loss and mean DSC
 * (the reference metric), best/last checkpoints (atomic), a metrics.jsonl line. Ctrl-C writes a resumable
 * checkpoint; a NaN/Inf loss stops the run and leaves the last good checkpoint in place.
 *
 * In three parts, each on its own: `setUp` (options, run folder, data, split, model, optimizer — no step taken),
 * `runEpochs` (the loop, one `trainStep` a batch, lib/train-step.ts) and `validate` (loss and reference DSC of
 * the validation patients).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  assertOutsideSource,
  type Batch,
  BatchLoader,
  ReferenceSampler,
  type Sampler,
  type Split,
  scanDataset,
  UniformSampler,
  type Volume,
  type WorkerPool,
  writeSplitManifest,
} from '@mriseg/data';
import { binaryVolume, confusion, diceFromConfusion, referenceDsc, volume } from '@mriseg/metrics';
import {
  createModel,
  LGG_CHANNELS,
  predictVolume,
  REFERENCE_PREPROCESSING,
  type SegmentationModel,
} from '@mriseg/models';
import {
  Adam,
  AdamW,
  CosineWarmupLR,
  createLoss,
  ExponentialLR,
  ExponentialMovingAverage,
  type InferenceSpec,
  type LossOptions,
  MultiStepLR,
  PolyLR,
  ReduceLROnPlateau,
  type Scheduler,
  SGD,
  StepLR,
} from '@mriseg/nn';
import { saveCheckpoint } from '@mriseg/nn/node';
import { initDevice, memory, noGrad, Rng, StepGraph, scope, sigmoid, type Tensor } from '@mriseg/tensor-wgsl';
import { augmentOptions, type ParsedTrainArgs, resolveTrainConfig, type TrainConfig } from '../config.js';
import { environment, makePool } from '../env.js';
import { CliError, UsageError } from '../errors.js';
import { autotuneEnabled, autotuneOrDefaults, formatAutotune } from '../lib/autotune.js';
import { checkDataFolder, ensureDemoData, loadTrainingVolumes, preprocessingOf } from '../lib/data.js';
import { appendLine, writeError, writeFileSafe } from '../lib/files.js';
import {
  readCheckpoint,
  readTrainMeta,
  stateDictMismatch,
  TRAIN_META_KEY,
  type TrainMeta,
  type TrainState,
  unshared,
} from '../lib/infer.js';
import { commandLine, shownPath } from '../lib/paths.js';
import { imageOf, pipelineOf } from '../lib/pipeline.js';
import { formatDuration, Progress } from '../lib/progress.js';
import { type EpochRecord, writeReport } from '../lib/report.js';
import { runStamp } from '../lib/run-dir.js';
import { ownRunFolder, readMetrics, reconcileMetrics } from '../lib/run-folder.js';
import type { RunLock } from '../lib/run-lock.js';
import { makePatientSplit, selectSplit } from '../lib/split.js';
import { headsLoss, type LossBatch, LossLog, type StepParts, TrainSteps } from '../lib/train-step.js';
import { plural } from '../lib/words.js';
import { TRAIN } from '../options/commands.js';
import { type ParsedOptions, parseCommandArgs } from '../options/parse.js';
import { coerce, findOption } from '../options/schema.js';
import { parseScheduleSpec } from '../options/specs.js';

export interface TrainHooks {
  /** Called after every optimizer step (tests use it to simulate Ctrl-C). */
  onStep?: (step: number) => void;
  log?: (line: string) => void;
}

/** Exit codes besides 0, 1 (error) and the usage error's 2. */
export const EXIT_NAN = 3;
/** 128 + the signal's number, as a shell reports a process ended by it: SIGINT (Ctrl-C) and SIGTERM. */
export const EXIT_INTERRUPTED = 130;
export const EXIT_TERMINATED = 143;

const exitCodeOf = (signal: NodeJS.Signals) => (signal === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED);

/**
 * Ctrl-C (SIGINT) and SIGTERM — what batch schedulers (Slurm, Kubernetes) send before they kill a job — are
 * handled alike. During the epochs the current step finishes and a resumable checkpoint is written; before and
 * after them there is nothing to save and the process ends at once. A second signal always ends it at once. Either
 * way the run folder's lock is released.
 */
class StopRequests {
  /** The first signal received while deferred. */
  signal: NodeJS.Signals | null = null;
  /** Whether a signal waits for the loop (true) or ends the process now. */
  deferred = false;
  constructor(private readonly release: () => void) {}
  private readonly handler = (sig: NodeJS.Signals) => {
    if (this.deferred && this.signal === null) {
      this.signal = sig;
      return;
    }
    this.release();
    process.exit(exitCodeOf(this.signal ?? sig));
  };
  install(): void {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }
  remove(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

export function lossOptions(c: TrainConfig): LossOptions {
  const o: LossOptions = {};
  if (c.smooth !== null) o.smooth = c.smooth;
  if (c['bce-weight'] !== null) o.bceWeight = c['bce-weight'];
  if (c['dice-weight'] !== null) o.diceWeight = c['dice-weight'];
  if (c.alpha !== null) o.alpha = c.alpha;
  if (c.beta !== null) o.beta = c.beta;
  if (c.gamma !== null) o.gamma = c.gamma;
  if (c['pos-weight'] !== null) o.posWeight = c['pos-weight'];
  return o;
}

/** Samples `n` slices an epoch from another sampler (repeating its draws when n is larger). */
class FixedLengthSampler implements Sampler {
  constructor(
    private readonly inner: Sampler,
    readonly epochLength: number,
  ) {}
  epoch(rng: Rng) {
    const out = this.inner.epoch(rng).slice(0, this.epochLength);
    while (out.length < this.epochLength)
      out.push(...this.inner.epoch(rng).slice(0, this.epochLength - out.length));
    return out;
  }
}

function makeOptimizer(c: TrainConfig, model: SegmentationModel) {
  const params = model.parameters();
  if (c.optimizer === 'sgd')
    return new SGD(params, {
      lr: c.lr,
      momentum: c.momentum,
      weightDecay: c['weight-decay'],
      nesterov: c.momentum > 0,
    });
  if (c.optimizer === 'adamw') return new AdamW(params, { lr: c.lr, weightDecay: c['weight-decay'] });
  return new Adam(params, { lr: c.lr, weightDecay: c['weight-decay'] });
}

/** The schedule and whether it advances every step (true) or every epoch (false). */
function makeScheduler(
  c: TrainConfig,
  opt: ReturnType<typeof makeOptimizer>,
  stepsPerEpoch: number,
): { scheduler: Scheduler | null; perStep: boolean } {
  const s = parseScheduleSpec(c.schedule);
  const total = c.epochs * stepsPerEpoch;
  const warmupSteps = Math.round(c.warmup * stepsPerEpoch);
  switch (s.kind) {
    case 'none':
      if (warmupSteps > 0) return { scheduler: new LinearWarmupLR(opt, warmupSteps), perStep: true };
      return { scheduler: null, perStep: false };
    case 'step':
      return { scheduler: new StepLR(opt, s.size, s.gamma), perStep: false };
    case 'multistep':
      return { scheduler: new MultiStepLR(opt, s.milestones, s.gamma), perStep: false };
    case 'exp':
      return { scheduler: new ExponentialLR(opt, s.gamma), perStep: false };
    case 'cosine':
      return {
        scheduler: new CosineWarmupLR(opt, {
          warmupSteps,
          totalSteps: Math.max(total, warmupSteps + 1),
          minLr: s.minLr,
        }),
        perStep: true,
      };
    case 'poly':
      return { scheduler: new PolyLR(opt, total, s.exponent), perStep: true };
    case 'plateau':
      return {
        scheduler: new ReduceLROnPlateau(opt, { mode: 'max', patience: s.patience, factor: s.factor }),
        perStep: false,
      };
  }
}

/** A linear warm-up to the base lr, then constant (`--warmup` without a schedule). */
class LinearWarmupLR extends CosineWarmupLR {
  constructor(opt: ReturnType<typeof makeOptimizer>, warmupSteps: number) {
    super(opt, { warmupSteps, totalSteps: warmupSteps + 1 });
  }
  override lrAt(epoch: number, base: number): number {
    return epoch < this.warmupSteps ? super.lrAt(epoch, base) : base;
  }
}

/** How a checkpoint of this run is to be run: its input, preprocessing, threshold and post-processing. */
export function inferenceSpecOf(c: TrainConfig): InferenceSpec {
  return {
    inputSize: c['image-size'],
    channels: [...LGG_CHANNELS],
    preprocess: { name: REFERENCE_PREPROCESSING, options: preprocessingOf(c) },
    output: 'logits',
    // The reference metric (and so the best-epoch choice) rounds the probabilities at 0.5.
    threshold: 0.5,
    postprocess: c.postprocess === 'none' ? '' : c.postprocess || 'lcc3d',
  };
}

// ------------------------------------------------------------------------------------------------ validation

interface ValidationResult {
  loss: number;
  meanDsc: number;
  dsc: Record<string, number>;
  /** With a post-processing other than lcc3d: the mean DSC of its masks (threshold 0.5). */
  postMeanDsc?: number;
}

/**
 * Validation: loss and the reference per-volume DSC of every validation patient, in eval mode; and, when the run's
 * post-processing is not the reference's largest component, the DSC of the masks it makes.
 */
async function validate(
  model: SegmentationModel,
  vols: readonly Volume[],
  lossFn: (logits: Tensor, target: Tensor) => Tensor,
  c: TrainConfig,
  graph: StepGraph,
): Promise<ValidationResult> {
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let n = 0;
  const dsc: Record<string, number> = {};
  const post = c.postprocess === 'lcc3d' ? null : pipelineOf(c.postprocess);
  let postSum = 0;
  try {
    for (const v of vols) {
      const plane = v.height * v.width;
      let probs: Float32Array = new Float32Array(v.depth * plane);
      const bs = c['val-batch-size'];
      for (let z = 0; z < v.depth; z += bs) {
        const k = Math.min(bs, v.depth - z);
        const target = new Float32Array(k * plane);
        for (let i = 0; i < target.length; i++) target[i] = v.mask[z * plane + i];
        // Batches of one shape replay from a capture after the first few (the graph lives across epochs).
        const [l, p] = scope(() =>
          noGrad(() =>
            graph.runWithInputs(
              'validate',
              [
                { data: v.image.slice(z * 3 * plane, (z + k) * 3 * plane), shape: [k, 3, v.height, v.width] },
                { data: target, shape: [k, 1, v.height, v.width] },
              ],
              (x, y) => {
                const logits = model.forward(x);
                return [lossFn(logits, y), sigmoid(logits)];
              },
            ),
          ),
        );
        const [lv, pv] = await Promise.all([l.item(), p.data()]);
        l.dispose();
        p.dispose();
        lossSum += lv * k;
        n += k;
        probs.set(pv as Float32Array, z * plane);
      }
      if (c.tta !== 'none') {
        probs = await predictVolume(
          model,
          { data: unshared(v.image), shape: [v.depth, 3, v.height, v.width] },
          { batchSize: c['val-batch-size'], tta: c.tta },
        );
      }
      const shape = [v.depth, v.height, v.width];
      const truth = binaryVolume(v.mask, shape);
      dsc[v.id] = referenceDsc(volume(probs, shape), truth);
      if (post) {
        const mask = post.fromProbabilities(volume(probs, shape), 0.5, imageOf(v));
        postSum += diceFromConfusion(confusion(mask, truth));
      }
    }
  } finally {
    model.train(wasTraining);
  }
  const values = Object.values(dsc);
  return {
    loss: lossSum / Math.max(1, n),
    meanDsc: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
    dsc,
    ...(post ? { postMeanDsc: postSum / Math.max(1, vols.length) } : {}),
  };
}

/** Whether every parameter is finite (read back once an epoch: a diverged step can leave inf without a NaN loss). */
async function finite(params: readonly Tensor[]): Promise<boolean> {
  const values = await Promise.all(params.map((p) => p.data()));
  return values.every((a) => (a as Float32Array).every(Number.isFinite));
}

// ----------------------------------------------------------------------------------------------------- setup

/** Options resolved and the run folder chosen; nothing loaded yet. */
interface RunPlan {
  c: TrainConfig;
  explicit: Partial<TrainConfig>;
  runDir: string;
  /** The checkpoint resumed from (null: a new run), and its training metadata. */
  resumeFrom: string | null;
  resumed: TrainMeta | null;
  /** --force: start anew in a folder that holds a run. */
  force: boolean;
}

function resolveResume(path: string): string {
  if (!existsSync(path)) throw new UsageError(`--resume ${path}: no such file or folder`, 'train');
  return statSync(path).isDirectory() ? join(path, 'last.safetensors') : path;
}

/**
 * What a resumed run cannot change: the weights and the optimizer state in the checkpoint belong to them (another
 * architecture or width would not load; another optimizer or schedule has no state to continue from).
 */
const FIXED_ON_RESUME = ['model', 'features', 'deep-supervision', 'optimizer', 'schedule'] as const;

/**
 * A stored configuration checked as the flags are (a damaged or hand-edited checkpoint must not reach the model
 * with, say, an image size of 1e6); errors name the checkpoint.
 */
function checkStoredConfig(stored: unknown, path: string): TrainConfig {
  const bad = (what: string) => new CliError(`${shownPath(path)}: the stored training options ${what}`);
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) throw bad('are not an object');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stored)) {
    const o = findOption(TRAIN, k);
    // Keys of other versions are kept as they are (they reach nothing).
    if (!o || o.config === false) {
      out[k] = v;
      continue;
    }
    try {
      out[k] = coerce(o, v, `option ${k}`, 'train');
    } catch (e) {
      throw bad(`are damaged: ${(e as Error).message}`);
    }
  }
  return out as unknown as TrainConfig;
}

/** Resume: the run folder's stored configuration, overridden by what this command line gives explicitly. */
function planRun(p: ParsedOptions): RunPlan {
  let parsed: ParsedTrainArgs = resolveTrainConfig(p);
  const force = p.values.force === true;
  if (!parsed.resume) {
    const c = parsed.config;
    return {
      c,
      explicit: parsed.explicit,
      runDir: c.out ?? join('runs', `${runStamp()}-${c.data === null ? 'demo' : c.model}`),
      resumeFrom: null,
      resumed: null,
      force,
    };
  }
  if (force)
    throw new UsageError('--force starts a run anew; --resume continues one: give one of them', 'train');
  const resumeFrom = resolveResume(parsed.resume);
  if (!existsSync(resumeFrom))
    throw new UsageError(
      `--resume ${parsed.resume}: no last.safetensors in that folder (a run stopped before its first epoch ended has nothing to resume: start it again with --force)`,
      'train',
    );
  const meta = readTrainMeta(readCheckpoint(resumeFrom), resumeFrom);
  if (!meta)
    throw new UsageError(`--resume ${parsed.resume}: ${resumeFrom} is not a training checkpoint`, 'train');
  const stored = checkStoredConfig(meta.config, resumeFrom);
  meta.config = stored;
  for (const k of FIXED_ON_RESUME) {
    const given = parsed.explicit[k];
    if (given !== undefined && given !== (stored[k] ?? null))
      throw new UsageError(
        `--${k} ${String(given)}: the run in ${shownPath(dirname(resumeFrom))} was trained with ${k} ${String(stored[k])}, and a resumed run keeps it (its checkpoint holds that model's weights and optimizer state); start a new run with another --out instead`,
        'train',
      );
  }
  if (parsed.explicit.out !== undefined && parsed.explicit.out !== null)
    throw new UsageError(
      `--out: a resumed run stays in its own folder (${shownPath(dirname(resumeFrom))}); leave --out out`,
      'train',
    );
  parsed = resolveTrainConfig(p, stored);
  return {
    c: parsed.config,
    explicit: parsed.explicit,
    runDir: dirname(resumeFrom),
    resumeFrom,
    resumed: meta,
    force: false,
  };
}

/** Everything a run needs, set up and not yet stepped. */
interface Session {
  c: TrainConfig;
  runDir: string;
  resumeFrom: string | null;
  root: string;
  split: Split;
  trainVols: Volume[];
  valVols: Volume[];
  model: SegmentationModel;
  opt: ReturnType<typeof makeOptimizer>;
  scheduler: Scheduler | null;
  /** Whether the schedule advances every step (else every epoch). */
  perStep: boolean;
  lossFn: (logits: Tensor, target: Tensor) => Tensor;
  step: StepParts;
  /** The training step, fed through static inputs and replayed once captured. */
  steps: TrainSteps;
  /** Validation batches, replayed once captured (one key a batch shape). */
  valSteps: StepGraph;
  loader: BatchLoader;
  state: TrainState;
  paths: { best: string; last: string; metrics: string };
  /** The run folder's lock: checked before every checkpoint write. */
  lock: RunLock;
  /** The metrics record the resumed checkpoint carries (null for a new run). */
  resumedRecord: EpochRecord | null;
  /** --ema: the averaged weights (in a model of their own) and their validation batches; null without. */
  ema: EmaState | null;
}

interface EmaState {
  model: SegmentationModel;
  tracker: ExponentialMovingAverage;
  valSteps: StepGraph;
  paths: { best: string; last: string };
}

/**
 * Checks the data before anything is written: the folder, the split against the patient folders (so that a split
 * the data cannot give fails at once; k-fold folds depend on the tumour volumes, so they are made again once the
 * data is loaded), and that the run folder lies outside the data tree — its root and every patient folder, real
 * paths, so that neither a symbolic link nor `--out` pointing into a patient folder lets train write there.
 */
function checkDataEarly(plan: RunPlan, log: (s: string) => void): void {
  const { c } = plan;
  if (c.data !== null) checkDataFolder('--data', c.data);
  const root = c.data ?? ensureDemoData(c['demo-patients'], log);
  const patients = scanDataset(root);
  makePatientSplit(
    c.split,
    patients.map((f) => f.id),
    root,
    'train',
  );
  assertOutsideSource(plan.runDir, [root, ...patients.map((f) => f.dir)], 'run folder (--out)');
}

/** The split recorded beside the run: split.json, when it is there; a damaged one is an error naming it. */
function storedSplitHash(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(`${shownPath(path)}: cannot read (${(e as Error).message})`);
  }
  let hash: unknown;
  try {
    hash = (JSON.parse(text) as { hash?: unknown } | null)?.hash;
  } catch (e) {
    throw new CliError(
      `${shownPath(path)}: not valid JSON (${(e as Error).message}); delete it to have it written again from the checkpoint's record of the split`,
    );
  }
  if (typeof hash !== 'string')
    throw new CliError(
      `${shownPath(path)}: not a split manifest (no "hash"); delete it to have it written again from the checkpoint's record of the split`,
    );
  return hash;
}

/** The data, split by patient, and the run folder's record of them (split.json, config.json, environment). */
async function prepareData(plan: RunPlan, pool: WorkerPool, log: (s: string) => void) {
  const { c, runDir, resumeFrom } = plan;
  const data = await loadTrainingVolumes(c, pool, log);
  log(
    `data: ${plural(data.volumes.length, 'patient')} from ${shownPath(data.root)} (${c.data === null ? 'synthetic demo set' : 'Kaggle layout'}; ${data.cached} from the cache, ${(data.ms / 1000).toFixed(1)} s)`,
  );
  const sides = selectSplit(c.split, data.volumes, data.root, 'train');
  const splitPath = join(runDir, 'split.json');
  if (resumeFrom) {
    // The checkpoint's own record of the split is checked first: split.json is a copy beside it.
    const recorded = plan.resumed?.split.hash;
    if (recorded !== undefined && recorded !== sides.split.hash)
      throw new CliError(
        `${shownPath(resumeFrom)}: the data now give a different split than the run was started with (patients added, removed or changed?)`,
      );
    const stored = storedSplitHash(splitPath);
    if (stored !== null && stored !== sides.split.hash)
      throw new CliError(
        `${shownPath(splitPath)}: the data now give a different split than the run was started with`,
      );
  }
  try {
    writeSplitManifest(splitPath, sides.split);
  } catch (e) {
    throw writeError(splitPath, e);
  }
  writeFileSafe(join(runDir, 'config.json'), `${JSON.stringify(c, null, 2)}\n`);
  writeFileSafe(
    join(runDir, resumeFrom ? 'environment.resume.json' : 'environment.json'),
    `${JSON.stringify({ ...environment(pool), dataRoot: data.root }, null, 2)}\n`,
  );
  return { root: data.root, ...sides };
}

/** The configuration's model, initialised from its seed. */
function newModel(c: TrainConfig): SegmentationModel {
  return createModel(c.model, {
    features: c.features,
    rng: new Rng(c.seed),
    ...(c['deep-supervision'] === null ? {} : { deepSupervision: c['deep-supervision'] }),
  });
}

/** Model, optimizer, schedule, loss and the batch loader of the training patients. */
async function buildTraining(c: TrainConfig, trainVols: Volume[], pool: WorkerPool) {
  const model = newModel(c);
  const opt = makeOptimizer(c, model);
  const baseSampler =
    c.sampler === 'uniform' ? new UniformSampler(trainVols) : new ReferenceSampler(trainVols);
  const sampler = c['epoch-size'] > 0 ? new FixedLengthSampler(baseSampler, c['epoch-size']) : baseSampler;
  const loader = await BatchLoader.create({
    volumes: trainVols,
    sampler,
    batchSize: c['batch-size'],
    augment: augmentOptions(c.aug),
    seed: c.seed,
    pool,
  });
  if (loader.batchesPerEpoch === 0) {
    await loader.close();
    throw new UsageError(
      `--batch-size ${c['batch-size']} is larger than an epoch (${plural(sampler.epochLength, 'sample')})`,
      'train',
    );
  }
  const { scheduler, perStep } = makeScheduler(c, opt, loader.batchesPerEpoch);
  return { model, opt, loader, scheduler, perStep, lossFn: createLoss(c.loss, lossOptions(c)) };
}

const FRESH_STATE: TrainState = {
  epoch: 0,
  batch: 0,
  step: 0,
  epochLossSum: 0,
  epochLossCount: 0,
  bestDsc: Number.NEGATIVE_INFINITY,
  bestEpoch: -1,
  badValidations: 0,
};

/**
 * The loop state to start from: a new run's, or a resumed checkpoint's (its model, optimizer and schedule loaded;
 * metrics.jsonl cut back to the checkpoint's epoch).
 */
function startingState(
  plan: RunPlan,
  t: Awaited<ReturnType<typeof buildTraining>>,
  metrics: string,
  log: (s: string) => void,
): TrainState {
  const { c, explicit, resumeFrom, resumed } = plan;
  if (!resumeFrom || !resumed) {
    writeFileSafe(metrics, '');
    return { ...FRESH_STATE };
  }
  const ck = readCheckpoint(resumeFrom);
  try {
    t.model.loadStateDict(ck.model);
  } catch (e) {
    throw stateDictMismatch(resumeFrom, t.model, e);
  }
  if (!ck.optimizer) throw new CliError(`${shownPath(resumeFrom)}: has no optimizer state to resume from`);
  try {
    t.opt.loadStateDict(ck.optimizer);
    if (t.scheduler && ck.scheduler) t.scheduler.loadStateDict(ck.scheduler as never);
  } catch (e) {
    throw new CliError(
      `${shownPath(resumeFrom)}: cannot resume its optimizer or schedule (${(e as Error).message})`,
    );
  }
  const state = resumed.state;
  if (explicit.lr !== undefined) t.opt.lr = c.lr;
  // One record for each epoch the checkpoint completed, nothing after (those epochs are run again).
  reconcileMetrics(metrics, state.epoch, resumed.record ?? null, log);
  log(
    `resuming ${shownPath(resumeFrom)} at epoch ${state.epoch + 1}, batch ${state.batch} (step ${state.step})`,
  );
  return state;
}

/**
 * --ema: a second model that holds the average. A resumed run continues the average in `last-ema.safetensors`
 * when that file is of the same step as `last` (it is written just after it); otherwise (a kill between the two, or
 * --ema added on resume) the average starts again from the current weights, said in a note.
 */
function startEma(
  plan: RunPlan,
  model: SegmentationModel,
  state: TrainState,
  log: (s: string) => void,
): EmaState {
  const { c, runDir } = plan;
  const average = newModel(c);
  const tracker = new ExponentialMovingAverage(model, average, c.ema);
  const paths = { best: join(runDir, 'best-ema.safetensors'), last: join(runDir, 'last-ema.safetensors') };
  if (plan.resumeFrom && state.step > 0) {
    let restored = false;
    if (existsSync(paths.last)) {
      const ck = readCheckpoint(paths.last);
      const meta = readTrainMeta(ck, paths.last);
      if (meta && meta.state.step === state.step) {
        try {
          average.loadStateDict(ck.model);
        } catch (e) {
          throw stateDictMismatch(paths.last, average, e);
        }
        tracker.numUpdates = state.step;
        restored = true;
      }
    }
    if (!restored)
      log(
        `note: ${shownPath(paths.last)} is missing or not of step ${state.step}: the weight average starts again from the current weights`,
      );
  }
  average.eval();
  return {
    model: average,
    tracker,
    valSteps: new StepGraph({ enabled: c.replay === 'on', maxKeys: 8 }),
    paths,
  };
}

/** Everything before the first step: data and split, model and optimizer, the state to start from, autotuning. */
async function setUp(
  plan: RunPlan,
  pool: WorkerPool,
  lock: RunLock,
  log: (s: string) => void,
): Promise<Session> {
  const { c, runDir } = plan;
  const data = await prepareData(plan, pool, log);
  const t = await buildTraining(c, data.train, pool);
  const paths = {
    best: join(runDir, 'best.safetensors'),
    last: join(runDir, 'last.safetensors'),
    metrics: join(runDir, 'metrics.jsonl'),
  };
  const state = startingState(plan, t, paths.metrics, log);
  const ema = c.ema > 0 ? startEma(plan, t.model, state, log) : null;
  if (autotuneEnabled(c.autotune)) {
    // Slices are 3-channel (pre-contrast, FLAIR, post-contrast), as the models' input.
    const tuned = await autotuneOrDefaults(t.model, 3, c['image-size'], c['batch-size'], c['val-batch-size']);
    log(
      'error' in tuned
        ? `autotune failed (${tuned.error}); training with the default tilings`
        : formatAutotune(tuned),
    );
  }
  t.model.train();
  log(
    `model: ${t.model.architecture} f${c.features} (${t.model.numParameters().toLocaleString('en')} parameters), ${c.optimizer} lr ${c.lr}, loss ${c.loss}, batch ${c['batch-size']}, ${c['image-size']}², ${t.loader.batchesPerEpoch} steps an epoch, ${plural(c.epochs, 'epoch')}`,
  );
  log(
    `split: ${data.train.length} training / ${plural(data.validation.length, 'validation patient')} (${c.split}); run folder: ${shownPath(runDir)}`,
  );
  const step: StepParts = {
    model: t.model,
    optimizer: t.opt,
    loss: headsLoss(t.lossFn),
    clipGrad: c['clip-grad'],
    params: t.model.parameters(),
  };
  const session: Session = {
    c,
    runDir,
    resumeFrom: plan.resumeFrom,
    root: data.root,
    split: data.split,
    trainVols: data.train,
    valVols: data.validation,
    ...t,
    step,
    steps: new TrainSteps(step, c.replay === 'on'),
    valSteps: new StepGraph({ enabled: c.replay === 'on', maxKeys: 8 }),
    state,
    paths,
    lock,
    resumedRecord: plan.resumed?.record ?? null,
    ema,
  };
  if (plan.resumeFrom) await reconcileBest(session, log);
  return session;
}

/**
 * `last` records which epoch was best; `best.safetensors` must be that epoch's model. At the end of an epoch
 * `last` is written before `best`, so a kill between the two leaves a `best` one improvement behind, while `last`
 * holds the very weights `best` should have (its own epoch is the best one): rewrite `best` from them. Called on
 * resume, with the model loaded from `last`.
 */
async function reconcileBest(s: Session, log: (l: string) => void): Promise<void> {
  const { state } = s;
  if (state.bestEpoch <= 0) return;
  let bestEpoch: number | null = null;
  if (existsSync(s.paths.best)) {
    try {
      bestEpoch = readCheckpoint(s.paths.best).metadata.epoch ?? null;
    } catch (e) {
      log(`note: ${(e as Error).message}`);
    }
  }
  if (bestEpoch === state.bestEpoch) return;
  const found = bestEpoch === null ? 'missing or unreadable' : `from epoch ${bestEpoch}`;
  if (state.bestEpoch !== state.epoch || state.batch !== 0) {
    log(
      `warning: ${shownPath(s.paths.best)} is ${found}, but ${shownPath(s.paths.last)} records epoch ${state.bestEpoch} as the best, and its own weights are of a later point: best.safetensors cannot be rebuilt; it will be rewritten at the next improvement`,
    );
    return;
  }
  const record = s.resumedRecord;
  await save(s, s.paths.best, false, checkpointMetrics(record), record);
  log(
    `note: ${shownPath(s.paths.best)} was ${found}; rewrote it from ${shownPath(s.paths.last)} (epoch ${state.bestEpoch}, the best one)`,
  );
}

/** The metrics a checkpoint's metadata carries: the epoch's losses and validation DSC. */
function checkpointMetrics(r: EpochRecord | null): Record<string, number> {
  if (!r) return {};
  return {
    trainLoss: r.trainLoss,
    ...(r.valMeanDsc !== undefined && r.valLoss !== undefined
      ? { valMeanDsc: r.valMeanDsc, valLoss: r.valLoss }
      : {}),
  };
}

/**
 * Writes a checkpoint of the session as it is now (with the optimizer for `last`, the model alone for `best`),
 * atomically, after checking that the run folder is still this process's. `record`: the metrics line of the epoch
 * it ends, kept in the checkpoint so that a lost line can be restored from it.
 */
async function save(
  s: Session,
  path: string,
  withOptimizer: boolean,
  metrics: Record<string, number>,
  record: EpochRecord | null = null,
  model: SegmentationModel = s.model,
) {
  s.lock.check();
  const meta: TrainMeta = {
    config: s.c,
    state: { ...s.state },
    split: {
      spec: s.split.spec.kind === 'kfold' ? { ...s.split.spec, volumes: undefined } : s.split.spec,
      hash: s.split.hash,
      validation: s.split.validation,
    },
    ...(record ? { record } : {}),
  };
  try {
    await saveCheckpoint(path, {
      model,
      ...(withOptimizer ? { optimizer: s.opt, ...(s.scheduler ? { scheduler: s.scheduler } : {}) } : {}),
      metadata: {
        modelName: model.architecture,
        config: model.config(),
        epoch: s.state.epoch,
        metrics,
        inference: inferenceSpecOf(s.c),
        extra: { [TRAIN_META_KEY]: JSON.stringify(meta) },
      },
    });
  } catch (e) {
    throw writeError(path, e);
  }
}

// ------------------------------------------------------------------------------------------------ epoch loop

type EpochEnd = { kind: 'done'; images: number } | { kind: 'nan' } | { kind: 'interrupted' };

interface LoopControl {
  /** SIGINT or SIGTERM received: stop after this step. */
  stop: StopRequests;
  /** The steps' losses, read back a block at a time. */
  log: LossLog;
}

/** Adds read-back losses to the epoch's sum; false when one is NaN or infinite. */
function account(s: Session, losses: LossBatch): boolean {
  for (const v of losses.values) {
    if (!Number.isFinite(v)) return false;
    s.state.epochLossSum += v;
    s.state.epochLossCount++;
  }
  return true;
}

/** One epoch's training steps (from `state.batch`, for a resumed epoch), batches prepared three ahead. */
async function trainEpoch(
  s: Session,
  ctl: LoopControl,
  hooks: TrainHooks,
  log: (l: string) => void,
): Promise<EpochEnd> {
  const { c, state, loader } = s;
  const epoch = state.epoch;
  const plan = loader.plan(epoch);
  const first = state.batch;
  const progress = new Progress(`epoch ${epoch + 1}/${c.epochs}`, plan.length, process.stderr, 10_000, first);
  progress.update(first);
  // Batches are prepared ahead on the host and uploaded by the step itself, into its static inputs.
  const inflight: Promise<Batch>[] = [];
  let next = state.batch;
  const start = () => {
    const p = loader.prepare(plan[next], epoch, next);
    p.catch(() => {});
    inflight.push(p);
    next++;
  };
  while (next < plan.length && inflight.length < 3) start();
  let images = 0;
  const lossNote = () =>
    `loss ${state.epochLossCount ? (state.epochLossSum / state.epochLossCount).toFixed(4) : '…'}`;
  // Steps and images whose losses came back: the GPU has finished them.
  const done = { steps: 0, images: 0 };
  const confirm = (losses: LossBatch) => {
    done.steps += losses.values.length;
    done.images += losses.images;
    return losses.values.length > 0 ? { ...done } : undefined;
  };
  while (inflight.length > 0) {
    const batch = await inflight.shift()!;
    const n = batch.imageShape[0];
    if (next < plan.length) start();
    s.steps.step(batch, ctl.log);
    s.ema?.tracker.update();
    state.step++;
    state.batch++;
    images += n;
    if (s.perStep && s.scheduler && !(s.scheduler instanceof ReduceLROnPlateau)) s.scheduler.step();
    hooks.onStep?.(state.step);
    let readBack: { steps: number; images: number } | undefined;
    const interrupted = ctl.stop.signal !== null;
    if (ctl.log.size >= c['log-every'] || interrupted) {
      // The block read now is the previous one: the GPU never waits on the loop (a NaN shows a block later).
      const losses = interrupted ? await ctl.log.drain() : await ctl.log.rotate();
      if (!account(s, losses)) return { kind: 'nan' };
      readBack = confirm(losses);
    }
    progress.update(state.batch, lossNote(), readBack);
    if (interrupted) {
      progress.finish();
      await save(s, s.paths.last, true, {});
      if (s.ema) await save(s, s.ema.paths.last, false, {}, null, s.ema.model);
      log(
        `${ctl.stop.signal}: wrote ${shownPath(s.paths.last)} (epoch ${epoch + 1}, batch ${state.batch}); continue with: ${commandLine(['train', '--resume', shownPath(s.runDir)])}`,
      );
      return { kind: 'interrupted' };
    }
  }
  const losses = await ctl.log.drain();
  if (!account(s, losses)) return { kind: 'nan' };
  confirm(losses);
  progress.update(state.batch, lossNote(), { ...done });
  progress.finish();
  return { kind: 'done', images };
}

function nanStop(s: Session): number {
  const last = existsSync(s.paths.last)
    ? `${shownPath(s.paths.last)} (epoch ${readCheckpoint(s.paths.last).metadata.epoch}, kept unchanged)`
    : 'none (no epoch had finished)';
  console.error(
    `mriseg: the training loss (or the weights) became NaN or infinite in epoch ${s.state.epoch + 1} (by step ${s.state.step}); stopping. Lower --lr, add --clip-grad, or check the data. Last good checkpoint: ${last}`,
  );
  return EXIT_NAN;
}

/** The epochs from `state.epoch` on: train, validate when due, write the checkpoints and the metrics line. */
async function runEpochs(
  s: Session,
  stop: StopRequests,
  hooks: TrainHooks,
  log: (l: string) => void,
): Promise<number> {
  const { c, state } = s;
  // Ctrl-C or SIGTERM: finish the step, write a resumable checkpoint, exit 130 or 143.
  const ctl: LoopControl = { stop, log: new LossLog(c['log-every']) };
  stop.deferred = true;
  // How the steps ran (replayed, or eager and why), said once after the first epoch of this run.
  let said = false;
  try {
    for (; state.epoch < c.epochs; state.epoch++, state.batch = 0) {
      const epoch = state.epoch;
      const e0 = performance.now();
      const end = await trainEpoch(s, ctl, hooks, log);
      if (end.kind === 'interrupted') return exitCodeOf(stop.signal!);
      if (!said) {
        said = true;
        log(`training steps: ${s.steps.describe()}`);
      }
      if (end.kind === 'nan' || !(await finite(s.step.params))) return nanStop(s);
      const trainLoss = state.epochLossSum / Math.max(1, state.epochLossCount);
      const record: EpochRecord = {
        epoch: epoch + 1,
        step: state.step,
        lr: s.opt.lr,
        trainLoss,
        imgPerSec: end.images / ((performance.now() - e0) / 1000),
      };
      const validating =
        s.valVols.length > 0 && ((epoch + 1) % c['val-every'] === 0 || epoch + 1 === c.epochs);
      let improved = false;
      let improvedEma = false;
      if (validating) {
        const v0 = performance.now();
        const v = await validate(s.model, s.valVols, s.lossFn, c, s.valSteps);
        record.valLoss = v.loss;
        record.valMeanDsc = v.meanDsc;
        record.valDsc = v.dsc;
        if (v.postMeanDsc !== undefined) record.valPostMeanDsc = v.postMeanDsc;
        record.valSeconds = (performance.now() - v0) / 1000;
        if (!Number.isFinite(v.loss)) return nanStop(s);
        if (v.meanDsc > state.bestDsc) {
          state.bestDsc = v.meanDsc;
          state.bestEpoch = epoch + 1;
          state.badValidations = 0;
          improved = true;
        } else state.badValidations++;
        if (s.scheduler instanceof ReduceLROnPlateau) s.scheduler.step(v.meanDsc);
        if (s.ema) {
          const e = await validate(s.ema.model, s.valVols, s.lossFn, c, s.ema.valSteps);
          record.valLossEma = e.loss;
          record.valMeanDscEma = e.meanDsc;
          record.valDscEma = e.dsc;
          if (e.meanDsc > (state.bestDscEma ?? Number.NEGATIVE_INFINITY)) {
            state.bestDscEma = e.meanDsc;
            state.bestEpochEma = epoch + 1;
            improvedEma = true;
          }
        }
      }
      if (!s.perStep && s.scheduler && !(s.scheduler instanceof ReduceLROnPlateau)) s.scheduler.step();
      record.seconds = (performance.now() - e0) / 1000;
      record.liveBuffers = memory().liveBuffers;
      state.epochLossSum = 0;
      state.epochLossCount = 0;
      // The checkpoints describe the state after this epoch.
      state.epoch++;
      state.batch = 0;
      const metrics = {
        trainLoss,
        ...(record.valMeanDsc !== undefined
          ? { valMeanDsc: record.valMeanDsc, valLoss: record.valLoss! }
          : {}),
      };
      // In this order, so that a kill anywhere leaves a run that resumes consistently: the metrics line first (a
      // line past the checkpoint is dropped on resume and the epoch run again), then `last`, which records the
      // best epoch, then `best` (one improvement behind `last` after a kill here, and rebuilt from it on resume).
      s.lock.check();
      appendLine(s.paths.metrics, JSON.stringify(record));
      await save(s, s.paths.last, true, metrics, record);
      if (improved) await save(s, s.paths.best, false, metrics, record);
      if (s.ema) {
        const emaMetrics: Record<string, number> =
          record.valMeanDscEma !== undefined
            ? { trainLoss, valMeanDsc: record.valMeanDscEma, valLoss: record.valLossEma! }
            : { trainLoss };
        await save(s, s.ema.paths.last, false, emaMetrics, record, s.ema.model);
        if (improvedEma) await save(s, s.ema.paths.best, false, emaMetrics, record, s.ema.model);
      }
      state.epoch--;
      log(
        `epoch ${epoch + 1}/${c.epochs}: train loss ${trainLoss.toFixed(4)}${record.valLoss !== undefined ? `, val loss ${record.valLoss.toFixed(4)}, val mean DSC ${record.valMeanDsc!.toFixed(4)}${improved ? ' (best)' : ''}${record.valPostMeanDsc !== undefined ? `, post-processed ${record.valPostMeanDsc.toFixed(4)}` : ''}` : ''}${record.valMeanDscEma !== undefined ? `, EMA ${record.valMeanDscEma.toFixed(4)}${improvedEma ? ' (best)' : ''}` : ''}, ${record.imgPerSec.toFixed(1)} img/s, ${formatDuration(record.seconds)}`,
      );
      if (c['early-stop'] > 0 && state.badValidations >= c['early-stop']) {
        log(`early stop: no better validation mean DSC for ${plural(state.badValidations, 'validation')}`);
        state.epoch++;
        break;
      }
      // A signal during validation: the epoch's checkpoint is written, which is where a resume continues.
      if (stop.signal !== null && state.epoch + 1 < c.epochs) {
        log(
          `${stop.signal}: stopped after epoch ${epoch + 1} (${shownPath(s.paths.last)}); continue with: ${commandLine(['train', '--resume', shownPath(s.runDir)])}`,
        );
        return exitCodeOf(stop.signal);
      }
    }
    return 0;
  } finally {
    stop.deferred = false;
    ctl.log.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------- finish

/** The report, the best figure, and what to run next — every path and command as it works from here. */
function finish(s: Session, seconds: number, log: (l: string) => void): void {
  const { c, state } = s;
  const { records } = readMetrics(s.paths.metrics);
  const report = writeReport(s.runDir, c, records, {
    bestDsc: state.bestDsc,
    bestEpoch: state.bestEpoch,
    train: s.split.train,
    validation: s.split.validation,
    seconds,
  });
  if (state.bestEpoch > 0) {
    log(
      `Best validation mean DSC: ${state.bestDsc.toFixed(4)} (epoch ${state.bestEpoch}; chosen on the ${plural(s.valVols.length, 'validation patient')}, so optimistic)`,
    );
  } else log('no validation was run (no validation patients)');
  if (state.bestEpochEma !== undefined && state.bestEpochEma > 0)
    log(
      `Best validation mean DSC of the weight average (EMA ${c.ema}): ${state.bestDscEma!.toFixed(4)} (epoch ${state.bestEpochEma}; best-ema.safetensors, last-ema.safetensors)`,
    );
  log(`run folder: ${shownPath(s.runDir)} (best.safetensors, last.safetensors, metrics.jsonl, ${report})`);
  if (existsSync(s.paths.best))
    log(
      `evaluate it: ${commandLine(['evaluate', '--checkpoint', shownPath(s.paths.best), ...(c.data ? ['--data', shownPath(c.data)] : [])])}`,
    );
  if (c.data === null) {
    log(
      'This was the synthetic demo data set. To train on the real one (Kaggle "LGG MRI Segmentation", kaggle_3m):\n' +
        `  ${commandLine(['train', '--data', '/path/to/kaggle_3m'])}          # the reference recipe: U-Net f32, 256², 100 epochs (wants a GPU)\n` +
        `  ${commandLine(['train', '--data', '/path/to/kaggle_3m', '--epochs', '20', '--split', 'kfold:5:0'])}`,
    );
  }
  log(`total ${formatDuration(seconds)}`);
}

// ----------------------------------------------------------------------------------------------------- entry

/** `train` from its argv (without the command name); the command line's `runTrain` with parsing first. */
export async function train(argv: string[], hooks: TrainHooks = {}): Promise<number> {
  return runTrain(parseCommandArgs(TRAIN, argv), hooks);
}

export async function runTrain(p: ParsedOptions, hooks: TrainHooks = {}): Promise<number> {
  const log = hooks.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const plan = planRun(p);
  checkDataEarly(plan, log);
  // The run folder is this process's from here on: locked, and neither an earlier run nor another process's.
  const lock = ownRunFolder(plan.runDir, {
    flag: plan.resumeFrom ? '--resume' : '--out',
    resume: plan.resumeFrom !== null,
    force: plan.force,
    note: log,
  });
  const stop = new StopRequests(() => lock.release());
  stop.install();
  try {
    await initDevice();
    const pool = makePool(plan.c.workers);
    let session: Session | null = null;
    try {
      session = await setUp(plan, pool, lock, log);
      let code: number;
      try {
        code = await runEpochs(session, stop, hooks, log);
      } finally {
        session.steps.dispose();
        session.valSteps.dispose();
        session.ema?.valSteps.dispose();
        session.ema?.model.dispose();
        session.opt.dispose();
        session.model.dispose();
      }
      if (code === 0) finish(session, (performance.now() - t0) / 1000, log);
      return code;
    } finally {
      if (session) await session.loader.close();
      await pool.close();
    }
  } finally {
    stop.remove();
    lock.release();
  }
}
