/** Models from checkpoints and their (averaged) probabilities over preprocessed volumes. */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Volume } from '@mriseg/data';
import {
  configFromStateDict,
  inferenceOf,
  modelFromConfig,
  predictVolume,
  type ResolvedInference,
  type SegmentationModel,
} from '@mriseg/models';
import { StateDictError } from '@mriseg/nn';
import { type Checkpoint, checkpointMetadataJson, loadCheckpoint } from '@mriseg/nn/node';
import type { TrainConfig } from '../config.js';
import { CliError } from '../errors.js';
import type { TtaMode } from '../options/commands.js';
import { shownPath } from './paths.js';
import type { EpochRecord } from './report.js';

/** The checkpoint metadata key that holds the training configuration and loop state (JSON). */
export const TRAIN_META_KEY = 'mriseg.train';

export interface TrainMeta {
  config: TrainConfig;
  state: TrainState;
  split: { spec: unknown; hash: string; validation: string[] };
  /** The metrics.jsonl line of the epoch this checkpoint ends (absent mid-epoch and in older checkpoints). */
  record?: EpochRecord;
}

export interface TrainState {
  /** The epoch to run next (0-based) and the batch of it to start at (resumable mid-epoch). */
  epoch: number;
  batch: number;
  /** Optimizer steps taken. */
  step: number;
  epochLossSum: number;
  epochLossCount: number;
  bestDsc: number;
  bestEpoch: number;
  badValidations: number;
  /** --ema: the best validation mean DSC of the averaged weights and its epoch. */
  bestDscEma?: number;
  bestEpochEma?: number;
}

export interface LoadedCheckpoint {
  path: string;
  model: SegmentationModel;
  train: TrainMeta | null;
  /** How to run the model: recorded in the file, or what was assumed for an older one (with a note). */
  inference: ResolvedInference;
}

/** Fails early, with the path as the user gave it, when a checkpoint file is not there. */
export function checkCheckpointFile(path: string): void {
  if (!existsSync(path))
    throw new CliError(`--checkpoint ${path}: no such file (looked for ${resolve(path)})`);
  if (statSync(path).isDirectory() && existsSync(join(path, 'cv.json')))
    throw new CliError(
      `--checkpoint ${path}: a cross-validation folder without plan.json; gather its folds first (mriseg cv --collect --out ${path} …)`,
    );
  if (statSync(path).isDirectory())
    throw new CliError(
      `--checkpoint ${path}: a folder; give a .safetensors file (e.g. ${path}/best.safetensors)`,
    );
}

/**
 * Reads a checkpoint file. NaN or infinite weights are refused as the library refuses them, with the advice a
 * command-line user can follow (the library's names an API option; the CLI deliberately has no flag to run a
 * diverged model: every output would be NaN).
 */
export function readCheckpoint(path: string): Checkpoint {
  try {
    return loadCheckpoint(path);
  } catch (e) {
    const err = e as Error;
    if (err.name === 'CheckpointError' && /; pass nonFinite: 'allow' to load it anyway$/.test(err.message))
      err.message = err.message.replace(
        /; pass nonFinite: 'allow' to load it anyway$/,
        '; mriseg does not run such a model (use an earlier checkpoint, e.g. the best.safetensors of its run)',
      );
    throw err;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The training metadata of a checkpoint (null when it has none); bad JSON or a wrong shape names the file. */
export function readTrainMeta(ck: Checkpoint, path: string): TrainMeta | null {
  const meta = checkpointMetadataJson<unknown>(ck, TRAIN_META_KEY);
  if (meta === undefined) return null;
  const bad = (what: string) =>
    new CliError(`${shownPath(path)}: __metadata__.${TRAIN_META_KEY} ${what} (a damaged checkpoint)`);
  if (!isObject(meta)) throw bad('is not a JSON object');
  if (!isObject(meta.config)) throw bad('has no config object');
  const st = meta.state;
  if (!isObject(st)) throw bad('has no state object');
  for (const k of ['epoch', 'batch', 'step', 'bestEpoch', 'badValidations'] as const)
    if (!Number.isSafeInteger(st[k]) || (st[k] as number) < (k === 'bestEpoch' ? -1 : 0))
      throw bad(`has state.${k} ${JSON.stringify(st[k])}, not a count`);
  for (const k of ['epochLossSum', 'epochLossCount'] as const)
    if (typeof st[k] !== 'number' || !Number.isFinite(st[k]))
      throw bad(`has state.${k} that is not a number`);
  // JSON has no -Infinity: a run without a validation yet stores its best DSC as null.
  if (st.bestDsc === null) st.bestDsc = Number.NEGATIVE_INFINITY;
  if (typeof st.bestDsc !== 'number') throw bad('has state.bestDsc that is not a number');
  if (st.bestDscEma === null) st.bestDscEma = Number.NEGATIVE_INFINITY;
  if (!isObject(meta.split) || typeof meta.split.hash !== 'string') throw bad('has no split record');
  return meta as unknown as TrainMeta;
}

/**
 * A state dict that does not fit the model, in one line: how many keys are missing, unexpected or of another
 * shape, with the first few of each (the library's message lists every key, 162 for a U-Net into a ResU-Net).
 */
export function stateDictMismatch(path: string, model: SegmentationModel, e: unknown): CliError {
  if (!(e instanceof StateDictError)) return new CliError(`${shownPath(path)}: ${(e as Error).message}`);
  const some = (keys: string[], what: string) =>
    keys.length === 0
      ? []
      : [`${keys.length} ${what} (${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''})`];
  const parts = [
    ...some(e.missingKeys, 'missing'),
    ...some(e.unexpectedKeys, 'unexpected'),
    ...some(
      e.mismatched.map((m) => m.split(':')[0]),
      'of another shape',
    ),
  ];
  return new CliError(
    `${shownPath(path)}: its weights do not fit a ${model.architecture} model: ${parts.join('; ')} (another architecture or width?)`,
  );
}

/**
 * An input size recorded in a checkpoint, checked before any work: the models pool four times by 2, so a side
 * must be a multiple of 16, and the preprocessing makes sides of at most 4096.
 */
export function checkInputSize(size: number, path: string): void {
  if (!Number.isSafeInteger(size) || size < 16 || size > 4096 || size % 16 !== 0)
    throw new CliError(
      `${shownPath(path)}: records an input size of ${size} px, which the models cannot run (a multiple of 16 from 16 to 4096: four 2× poolings); a damaged checkpoint, or give --image-size`,
    );
}

/** Builds the model a checkpoint describes and loads its weights; the training metadata if it has it. */
export function openCheckpoint(path: string): LoadedCheckpoint {
  checkCheckpointFile(path);
  const ck = readCheckpoint(path);
  let model: SegmentationModel;
  try {
    // A bare state dict (a PyTorch .pt, a plain safetensors file) is taken for the architecture its keys show.
    model = modelFromConfig(ck.metadata.config ?? configFromStateDict(ck.model));
  } catch (e) {
    throw new CliError(`${shownPath(path)}: ${(e as Error).message}`);
  }
  try {
    model.loadStateDict(ck.model);
  } catch (e) {
    model.dispose();
    throw stateDictMismatch(path, model, e);
  }
  let train: TrainMeta | null;
  try {
    train = readTrainMeta(ck, path);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { path, model, train, inference: inferenceOf(ck, shownPath(path)) };
}

export interface InferOptions {
  batchSize?: number;
  tta?: TtaMode;
}

/**
 * Sigmoid probabilities (depth × H × W) of a volume: the mean over the models (an ensemble when there are
 * several), each through `predictVolume` (eval mode, optional flip test-time augmentation).
 */
export async function ensembleProbabilities(
  models: readonly SegmentationModel[],
  v: Pick<Volume, 'image' | 'depth' | 'height' | 'width'>,
  o: InferOptions = {},
): Promise<Float32Array> {
  if (models.length === 0) throw new Error('ensembleProbabilities: no models');
  const sum = new Float64Array(v.depth * v.height * v.width);
  for (const m of models) {
    const p = await predictVolume(
      m,
      { data: unshared(v.image), shape: [v.depth, 3, v.height, v.width] },
      { batchSize: o.batchSize ?? 16, tta: o.tta ?? 'none' },
    );
    if (p.length !== sum.length)
      throw new Error(
        `model ${m.architecture} gave ${p.length} values for ${sum.length} voxels (more than one output channel?)`,
      );
    for (let i = 0; i < p.length; i++) sum[i] += p[i];
  }
  const out = new Float32Array(sum.length);
  for (let i = 0; i < out.length; i++) out[i] = sum[i] / models.length;
  return out;
}

/** A copy in an ordinary ArrayBuffer when `a` lives in shared memory (WebGPU uploads refuse SharedArrayBuffer). */
export function unshared(a: Float32Array): Float32Array {
  return a.buffer instanceof SharedArrayBuffer ? a.slice() : a;
}
