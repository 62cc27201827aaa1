/**
 * `train`: the training loop. Every epoch: progress with img/s and ETA, train loss, validation loss and mean DSC
 * (the reference metric), best/last checkpoints (atomic), a metrics.jsonl line. Ctrl-C writes a resumable
 * checkpoint; a NaN/Inf loss stops the run and leaves the last good checkpoint in place.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  type Batch,
  BatchLoader,
  makeSplit,
  ReferenceSampler,
  type Sampler,
  type SplitSpec,
  tumourVolumes,
  UniformSampler,
  type Volume,
  writeSplitManifest,
} from '@mriseg/data';
import { binaryVolume, referenceDsc, volume } from '@mriseg/metrics';
import { createModel, predictVolume, type SegmentationModel } from '@mriseg/models';
import {
  Adam,
  AdamW,
  CosineWarmupLR,
  clipGradNorm,
  createLoss,
  deepSupervision,
  ExponentialLR,
  type LossOptions,
  MultiStepLR,
  PolyLR,
  ReduceLROnPlateau,
  type Scheduler,
  SGD,
  StepLR,
} from '@mriseg/nn';
import { loadCheckpoint, saveCheckpoint } from '@mriseg/nn/node';
import { initDevice, memory, noGrad, Rng, scope, sigmoid, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { UsageError } from '../args.js';
import {
  augmentOptions,
  parseScheduleSpec,
  parseSplitSpec,
  parseTrainArgs,
  type TrainConfig,
} from '../config.js';
import { environment, makePool } from '../env.js';
import { autotuneEnabled, autotuneOrDefaults, formatAutotune } from '../lib/autotune.js';
import { loadVolumes } from '../lib/data.js';
import { TRAIN_META_KEY, type TrainMeta, type TrainState, unshared } from '../lib/infer.js';
import { formatDuration, Progress } from '../lib/progress.js';
import { type EpochRecord, writeReport } from '../lib/report.js';

export interface TrainHooks {
  /** Called after every optimizer step (tests use it to simulate Ctrl-C). */
  onStep?: (step: number) => void;
  log?: (line: string) => void;
}

/** Exit codes besides 0 and the usage error's 2. */
export const EXIT_NAN = 3;
export const EXIT_INTERRUPTED = 130;

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

interface ValidationResult {
  loss: number;
  meanDsc: number;
  dsc: Record<string, number>;
}

/** Validation: loss and the reference per-volume DSC of every validation patient, in eval mode. */
async function validate(
  model: SegmentationModel,
  vols: readonly Volume[],
  lossFn: (logits: Tensor, target: Tensor) => Tensor,
  c: TrainConfig,
): Promise<ValidationResult> {
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let n = 0;
  const dsc: Record<string, number> = {};
  try {
    for (const v of vols) {
      const plane = v.height * v.width;
      let probs: Float32Array = new Float32Array(v.depth * plane);
      const bs = c['val-batch-size'];
      for (let z = 0; z < v.depth; z += bs) {
        const k = Math.min(bs, v.depth - z);
        const target = new Float32Array(k * plane);
        for (let i = 0; i < target.length; i++) target[i] = v.mask[z * plane + i];
        const [l, p] = scope(() =>
          noGrad(() => {
            const x = tensor(v.image.slice(z * 3 * plane, (z + k) * 3 * plane), [k, 3, v.height, v.width]);
            const y = tensor(target, [k, 1, v.height, v.width]);
            const logits = model.forward(x);
            return [lossFn(logits, y), sigmoid(logits)] as const;
          }),
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
      dsc[v.id] = referenceDsc(volume(probs, shape), binaryVolume(v.mask, shape));
    }
  } finally {
    model.train(wasTraining);
  }
  const values = Object.values(dsc);
  return {
    loss: lossSum / Math.max(1, n),
    meanDsc: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
    dsc,
  };
}

/** Whether every parameter is finite (read back once an epoch: a diverged step can leave inf without a NaN loss). */
async function finite(params: readonly Tensor[]): Promise<boolean> {
  const values = await Promise.all(params.map((p) => p.data()));
  return values.every((a) => (a as Float32Array).every(Number.isFinite));
}

function resolveResume(path: string): string {
  const p = resolve(path);
  if (!existsSync(p)) throw new UsageError(`--resume ${path}: no such file or folder`);
  return statSync(p).isDirectory() ? join(p, 'last.safetensors') : p;
}

function defaultRunDir(c: TrainConfig): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return join('runs', `${stamp}-${c.data === null ? 'demo' : c.model}`);
}

export async function train(argv: string[], hooks: TrainHooks = {}): Promise<number> {
  const log = hooks.log ?? ((s: string) => console.log(s));
  const t0 = performance.now();
  // Resume: the run folder's stored configuration, overridden by what this command line gives explicitly.
  let parsed = parseTrainArgs(argv);
  let resumeFrom: string | null = null;
  let runDir: string;
  if (parsed.resume) {
    resumeFrom = resolveResume(parsed.resume);
    const ck = loadCheckpoint(resumeFrom);
    const meta = ck.rawMetadata[TRAIN_META_KEY];
    if (!meta) throw new UsageError(`--resume ${parsed.resume}: ${resumeFrom} is not a training checkpoint`);
    parsed = parseTrainArgs(argv, (JSON.parse(meta) as TrainMeta).config);
    runDir = dirname(resumeFrom);
  } else runDir = parsed.config.out ?? defaultRunDir(parsed.config);
  const c = parsed.config;
  const { explicit } = parsed;

  await initDevice();
  const pool = makePool(c.workers);
  let loader: BatchLoader | null = null;
  try {
    const data = await loadVolumes(c.data, {
      imageSize: c['image-size'],
      cache: c.cache,
      pool,
      demoPatients: c['demo-patients'],
      log,
    });
    log(
      `data: ${data.volumes.length} patients from ${data.root} (${c.data === null ? 'synthetic demo set' : 'Kaggle layout'}; ${data.cached} from the cache, ${(data.ms / 1000).toFixed(1)} s)`,
    );

    // Split by patient.
    let spec: SplitSpec = parseSplitSpec(c.split);
    if (spec.kind === 'kfold') spec = { ...spec, volumes: tumourVolumes(data.volumes) };
    let split: ReturnType<typeof makeSplit>;
    try {
      split = makeSplit(
        data.volumes.map((v) => v.id),
        spec,
      );
    } catch (e) {
      throw new UsageError(`--split ${c.split}: ${(e as Error).message}`);
    }
    const byId = new Map(data.volumes.map((v) => [v.id, v]));
    const trainVols = split.train.map((id) => byId.get(id)!);
    const valVols = split.validation.map((id) => byId.get(id)!);

    mkdirSync(runDir, { recursive: true });
    const splitPath = join(runDir, 'split.json');
    if (resumeFrom && existsSync(splitPath)) {
      const stored = JSON.parse(readFileSync(splitPath, 'utf8')) as { hash: string };
      if (stored.hash !== split.hash)
        throw new Error(`${splitPath}: the data now give a different split than the run was started with`);
    }
    writeSplitManifest(splitPath, split);
    writeFileSync(join(runDir, 'config.json'), `${JSON.stringify(c, null, 2)}\n`);
    writeFileSync(
      join(runDir, resumeFrom ? 'environment.resume.json' : 'environment.json'),
      `${JSON.stringify({ ...environment(pool), dataRoot: data.root }, null, 2)}\n`,
    );

    // Model, optimizer, schedule, loss.
    const model = createModel(c.model, {
      features: c.features,
      rng: new Rng(c.seed),
      ...(c['deep-supervision'] === null ? {} : { deepSupervision: c['deep-supervision'] }),
    });
    const opt = makeOptimizer(c, model);
    const baseSampler =
      c.sampler === 'uniform' ? new UniformSampler(trainVols) : new ReferenceSampler(trainVols);
    const sampler = c['epoch-size'] > 0 ? new FixedLengthSampler(baseSampler, c['epoch-size']) : baseSampler;
    loader = await BatchLoader.create({
      volumes: trainVols,
      sampler,
      batchSize: c['batch-size'],
      augment: augmentOptions(c.aug),
      seed: c.seed,
      pool,
    });
    const stepsPerEpoch = loader.batchesPerEpoch;
    if (stepsPerEpoch === 0)
      throw new UsageError(
        `--batch-size ${c['batch-size']} is larger than an epoch (${sampler.epochLength} samples)`,
      );
    const { scheduler, perStep } = makeScheduler(c, opt, stepsPerEpoch);
    const lossFn = createLoss(c.loss, lossOptions(c));
    const dsLoss = deepSupervision(lossFn);

    let state: TrainState = {
      epoch: 0,
      batch: 0,
      step: 0,
      epochLossSum: 0,
      epochLossCount: 0,
      bestDsc: Number.NEGATIVE_INFINITY,
      bestEpoch: -1,
      badValidations: 0,
    };
    const metricsPath = join(runDir, 'metrics.jsonl');
    if (resumeFrom) {
      const ck = loadCheckpoint(resumeFrom);
      model.loadStateDict(ck.model);
      if (!ck.optimizer) throw new Error(`${resumeFrom}: has no optimizer state to resume from`);
      opt.loadStateDict(ck.optimizer);
      if (scheduler && ck.scheduler) scheduler.loadStateDict(ck.scheduler as never);
      state = (JSON.parse(ck.rawMetadata[TRAIN_META_KEY]) as TrainMeta).state;
      if (explicit.lr !== undefined) opt.lr = c.lr;
      // Lines of epochs after the checkpoint (a run that went on after it) would be repeated: drop them.
      if (existsSync(metricsPath)) {
        const kept = readFileSync(metricsPath, 'utf8')
          .split('\n')
          .filter((l) => l.trim() && (JSON.parse(l) as EpochRecord).epoch <= state.epoch);
        writeFileSync(metricsPath, kept.map((l) => `${l}\n`).join(''));
      }
      log(`resuming ${resumeFrom} at epoch ${state.epoch + 1}, batch ${state.batch} (step ${state.step})`);
    } else writeFileSync(metricsPath, '');
    if (autotuneEnabled(c.autotune)) {
      // Slices are 3-channel (pre-contrast, FLAIR, post-contrast), as the models' input.
      const tuned = await autotuneOrDefaults(model, 3, c['image-size'], c['batch-size'], c['val-batch-size']);
      log(
        'error' in tuned
          ? `autotune failed (${tuned.error}); training with the default tilings`
          : formatAutotune(tuned),
      );
    }
    model.train();

    const params = model.parameters();
    const bestPath = join(runDir, 'best.safetensors');
    const lastPath = join(runDir, 'last.safetensors');
    const meta = (): TrainMeta => ({
      config: c,
      state: { ...state },
      split: {
        spec: split.spec.kind === 'kfold' ? { ...split.spec, volumes: undefined } : split.spec,
        hash: split.hash,
        validation: split.validation,
      },
    });
    const save = async (path: string, withOptimizer: boolean, metrics: Record<string, number>) => {
      await saveCheckpoint(path, {
        model,
        ...(withOptimizer ? { optimizer: opt, ...(scheduler ? { scheduler } : {}) } : {}),
        metadata: {
          modelName: model.architecture,
          config: model.config(),
          epoch: state.epoch,
          metrics,
          extra: { [TRAIN_META_KEY]: JSON.stringify(meta()) },
        },
      });
    };

    log(
      `model: ${model.architecture} f${c.features} (${model.numParameters().toLocaleString('en')} parameters), ${c.optimizer} lr ${c.lr}, loss ${c.loss}, batch ${c['batch-size']}, ${c['image-size']}², ${stepsPerEpoch} steps an epoch, ${c.epochs} epochs`,
    );
    log(
      `split: ${trainVols.length} training / ${valVols.length} validation patients (${c.split}); run folder: ${runDir}`,
    );

    // Ctrl-C: finish the step, write a resumable checkpoint, exit 130. A second Ctrl-C exits at once.
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(EXIT_INTERRUPTED);
      interrupted = true;
    };
    process.on('SIGINT', onSigint);
    let pending: Tensor[] = [];
    /** Reads back the losses of the last steps; false when one is NaN or infinite. */
    const flush = async (): Promise<boolean> => {
      const values = await Promise.all(pending.map((t) => t.item()));
      for (const t of pending) t.dispose();
      pending = [];
      for (const v of values) {
        if (!Number.isFinite(v)) return false;
        state.epochLossSum += v;
        state.epochLossCount++;
      }
      return true;
    };
    const nanStop = () => {
      const last = existsSync(lastPath)
        ? `${lastPath} (epoch ${loadCheckpoint(lastPath).metadata.epoch}, kept unchanged)`
        : 'none (no epoch had finished)';
      console.error(
        `mriseg: the training loss (or the weights) became NaN or infinite in epoch ${state.epoch + 1} (by step ${state.step}); stopping. Lower --lr, add --clip-grad, or check the data. Last good checkpoint: ${last}`,
      );
      return EXIT_NAN;
    };

    try {
      for (; state.epoch < c.epochs; state.epoch++, state.batch = 0) {
        const epoch = state.epoch;
        const e0 = performance.now();
        const plan = loader.plan(epoch);
        const progress = new Progress(`epoch ${epoch + 1}/${c.epochs}`, plan.length);
        const upload = (b: Batch) => ({
          x: tensor(b.image, b.imageShape),
          y: tensor(b.mask, b.maskShape),
          n: b.imageShape[0],
        });
        const inflight: Promise<ReturnType<typeof upload>>[] = [];
        let next = state.batch;
        const start = () => {
          const p = loader!.prepare(plan[next], epoch, next).then(upload);
          p.catch(() => {});
          inflight.push(p);
          next++;
        };
        while (next < plan.length && inflight.length < 3) start();
        let images = 0;
        while (inflight.length > 0) {
          const { x, y, n } = await inflight.shift()!;
          if (next < plan.length) start();
          const l = scope(() => {
            opt.zeroGrad();
            const heads = model.forwardHeads(x);
            const loss = heads.length > 1 ? dsLoss(heads, y) : lossFn(heads[0], y);
            loss.backward();
            if (c['clip-grad'] > 0) clipGradNorm(params, c['clip-grad']);
            opt.step();
            return loss.detach();
          });
          x.dispose();
          y.dispose();
          pending.push(l);
          state.step++;
          state.batch++;
          images += n;
          if (perStep && scheduler && !(scheduler instanceof ReduceLROnPlateau)) scheduler.step();
          hooks.onStep?.(state.step);
          if (pending.length >= c['log-every'] || interrupted) {
            if (!(await flush())) return nanStop();
          }
          const mean = state.epochLossCount ? (state.epochLossSum / state.epochLossCount).toFixed(4) : '…';
          progress.update(state.batch, images, `loss ${mean}`);
          if (interrupted) {
            for (const p of inflight) {
              void p.then((b) => {
                b.x.dispose();
                b.y.dispose();
              });
            }
            progress.done();
            await save(lastPath, true, {});
            log(
              `interrupted: wrote ${lastPath} (epoch ${epoch + 1}, batch ${state.batch}); continue with --resume ${runDir}`,
            );
            return EXIT_INTERRUPTED;
          }
        }
        if (!(await flush())) return nanStop();
        progress.done();
        if (!(await finite(params))) return nanStop();
        const trainLoss = state.epochLossSum / Math.max(1, state.epochLossCount);
        const trainSeconds = (performance.now() - e0) / 1000;
        const record: EpochRecord = {
          epoch: epoch + 1,
          step: state.step,
          lr: opt.lr,
          trainLoss,
          imgPerSec: images / trainSeconds,
        };
        const validating =
          valVols.length > 0 && ((epoch + 1) % c['val-every'] === 0 || epoch + 1 === c.epochs);
        let improved = false;
        if (validating) {
          const v0 = performance.now();
          const v = await validate(model, valVols, lossFn, c);
          record.valLoss = v.loss;
          record.valMeanDsc = v.meanDsc;
          record.valDsc = v.dsc;
          record.valSeconds = (performance.now() - v0) / 1000;
          if (!Number.isFinite(v.loss)) return nanStop();
          if (v.meanDsc > state.bestDsc) {
            state.bestDsc = v.meanDsc;
            state.bestEpoch = epoch + 1;
            state.badValidations = 0;
            improved = true;
          } else state.badValidations++;
          if (scheduler instanceof ReduceLROnPlateau) scheduler.step(v.meanDsc);
        }
        if (!perStep && scheduler && !(scheduler instanceof ReduceLROnPlateau)) scheduler.step();
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
        await save(lastPath, true, metrics);
        if (improved) await save(bestPath, false, metrics);
        state.epoch--;
        writeFileSync(metricsPath, `${JSON.stringify(record)}\n`, { flag: 'a' });
        log(
          `epoch ${epoch + 1}/${c.epochs}: train loss ${trainLoss.toFixed(4)}${record.valLoss !== undefined ? `, val loss ${record.valLoss.toFixed(4)}, val mean DSC ${record.valMeanDsc!.toFixed(4)}${improved ? ' (best)' : ''}` : ''}, ${record.imgPerSec.toFixed(1)} img/s, ${formatDuration(record.seconds)}`,
        );
        if (c['early-stop'] > 0 && state.badValidations >= c['early-stop']) {
          log(`early stop: no better validation mean DSC for ${state.badValidations} validations`);
          state.epoch++;
          break;
        }
      }
    } finally {
      process.off('SIGINT', onSigint);
      for (const t of pending) t.dispose();
      opt.dispose();
      model.dispose();
    }

    const records = readFileSync(metricsPath, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as EpochRecord);
    const report = writeReport(runDir, c, records, {
      bestDsc: state.bestDsc,
      bestEpoch: state.bestEpoch,
      train: split.train,
      validation: split.validation,
      seconds: (performance.now() - t0) / 1000,
    });
    if (state.bestEpoch > 0) {
      log(
        `Best validation mean DSC: ${state.bestDsc.toFixed(4)} (epoch ${state.bestEpoch}; chosen on the ${valVols.length} validation patients, so optimistic)`,
      );
    } else log('no validation was run (no validation patients)');
    log(`run folder: ${runDir} (best.safetensors, last.safetensors, metrics.jsonl, ${report})`);
    log(`evaluate it: mriseg evaluate --checkpoint ${bestPath}${c.data ? ` --data ${c.data}` : ''}`);
    if (c.data === null) {
      log(
        'This was the synthetic demo data set. To train on the real one (Kaggle "LGG MRI Segmentation", kaggle_3m):\n' +
          '  pnpm --filter cli train --data /path/to/kaggle_3m          # reference recipe: U-Net f32, 256², 100 epochs (a GPU)\n' +
          '  pnpm --filter cli train --data /path/to/kaggle_3m --epochs 20 --split kfold:5:0',
      );
    }
    log(`total ${formatDuration((performance.now() - t0) / 1000)}`);
    return 0;
  } finally {
    if (loader) await loader.close();
    await pool.close();
  }
}
