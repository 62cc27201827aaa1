/** Node-only checkpoint files (atomic writes: a temporary file, fsync, rename). */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import {
  type ApplyTargets,
  applyCheckpoint,
  type Checkpoint,
  CheckpointError,
  type CheckpointMetadata,
  type CheckpointParts,
  parseCheckpoint,
  serializeCheckpoint,
} from './checkpoint.js';
import type { AnyModule, LoadStateDictOptions, LoadStateDictResult } from './module.js';

/** Writes model (+ optimizer, scheduler) state and metadata; a crash leaves the old file or the new one. */
export async function saveCheckpoint(path: string, parts: CheckpointParts): Promise<void> {
  writeFileAtomic(path, await serializeCheckpoint(parts));
}

/** Reads and checks a checkpoint file (or a plain safetensors state dict); errors name the file. */
export function loadCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(path, `cannot read (${(e as Error).message})`);
  }
  return parseCheckpoint(bytes, path);
}

/** Loads a checkpoint file into a model (and optimizer, scheduler) and returns it (for its metadata). */
export function loadCheckpointInto(path: string, targets: ApplyTargets): Checkpoint {
  const ck = loadCheckpoint(path);
  applyCheckpoint(ck, targets, path);
  return ck;
}

/** Loads the model part of a checkpoint or a PyTorch safetensors state dict into a model. */
export function loadStateDictFile(
  model: AnyModule,
  path: string,
  options: LoadStateDictOptions = {},
): LoadStateDictResult {
  const ck = loadCheckpoint(path);
  try {
    return model.loadStateDict(ck.model, options);
  } catch (e) {
    (e as Error).message = `${path}: ${(e as Error).message}`;
    throw e;
  }
}

/** Writes only the model's state dict (what PyTorch's safetensors.torch.load_file reads). */
export async function saveStateDictFile(
  model: AnyModule,
  path: string,
  metadata?: CheckpointMetadata,
): Promise<void> {
  await saveCheckpoint(path, { model, metadata });
}

export * from './checkpoint.js';
