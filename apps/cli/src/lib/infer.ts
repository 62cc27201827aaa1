/** Models from checkpoints and their (averaged) probabilities over preprocessed volumes. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Volume } from '@mriseg/data';
import {
  configFromStateDict,
  inferenceOf,
  modelFromConfig,
  predictVolume,
  type ResolvedInference,
  type SegmentationModel,
} from '@mriseg/models';
import { loadCheckpoint } from '@mriseg/nn/node';
import type { TrainConfig } from '../config.js';
import { CliError } from '../errors.js';
import type { TtaMode } from '../options/commands.js';
import { shownPath } from './paths.js';

/** The checkpoint metadata key that holds the training configuration and loop state (JSON). */
export const TRAIN_META_KEY = 'mriseg.train';

export interface TrainMeta {
  config: TrainConfig;
  state: TrainState;
  split: { spec: unknown; hash: string; validation: string[] };
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
  if (statSync(path).isDirectory())
    throw new CliError(
      `--checkpoint ${path}: a folder; give a .safetensors file (e.g. ${path}/best.safetensors)`,
    );
}

/** Builds the model a checkpoint describes and loads its weights; the training metadata if it has it. */
export function openCheckpoint(path: string): LoadedCheckpoint {
  checkCheckpointFile(path);
  const ck = loadCheckpoint(path);
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
    throw new CliError(`${shownPath(path)}: ${(e as Error).message}`);
  }
  const raw = ck.rawMetadata[TRAIN_META_KEY];
  return {
    path,
    model,
    train: raw ? (JSON.parse(raw) as TrainMeta) : null,
    inference: inferenceOf(ck, shownPath(path)),
  };
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
