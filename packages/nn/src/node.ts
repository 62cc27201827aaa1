/** Node-only checkpoint files (atomic writes: a temporary file, fsync, rename). */
import { existsSync, readFileSync } from 'node:fs';
import { runtime } from '@mriseg/tensor-wgsl';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import {
  type ApplyTargets,
  applyCheckpoint,
  type Checkpoint,
  CheckpointError,
  type CheckpointMetadata,
  type CheckpointParts,
  type ParseCheckpointOptions,
  parseCheckpoint,
  serializeCheckpoint,
} from './checkpoint.js';
import { convKernelsFingerprint } from './functional/conv/fingerprint.js';
import { exportConvTilings, importConvTilings } from './functional/conv/tilings.js';
import type { AnyModule, LoadStateDictOptions, LoadStateDictResult } from './module.js';

/** Writes model (+ optimizer, scheduler) state and metadata; a crash leaves the old file or the new one. */
export async function saveCheckpoint(path: string, parts: CheckpointParts): Promise<void> {
  writeFileAtomic(path, await serializeCheckpoint(parts));
}

/**
 * Reads and checks a checkpoint file (or a plain safetensors state dict); errors name the file. NaN/Inf weights
 * are refused unless `options.nonFinite` allows them (see ParseCheckpointOptions).
 */
export function loadCheckpoint(path: string, options: ParseCheckpointOptions = {}): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(path, `cannot read (${(e as Error).message})`);
  }
  return parseCheckpoint(bytes, path, options);
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

const TILINGS_FORMAT = 'mriseg.conv-tilings/2';

/** The device a tilings file belongs to: tilings tuned on one GPU (or driver) mean nothing on another. */
function deviceName(): string {
  const r = runtime().report;
  return [r.vendor, r.architecture, r.device, r.description].filter(Boolean).join(' ');
}

/**
 * Pins the convolution tilings saved in `path` by `saveConvTilings` on this same device (so that autotuning with
 * `skipPinned` only times what is new). A missing file, another device's file or a damaged one pins nothing;
 * returns how many were pinned and, when the file was not used, why.
 */
export function loadConvTilings(path: string): { pinned: number; skipped?: string } {
  if (!existsSync(path)) return { pinned: 0, skipped: 'no such file' };
  let json: { format?: unknown; device?: unknown; kernels?: unknown; tilings?: unknown };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return { pinned: 0, skipped: `${path}: not JSON (${(e as Error).message})` };
  }
  if (json.format !== TILINGS_FORMAT || typeof json.tilings !== 'object' || json.tilings === null)
    return { pinned: 0, skipped: `${path}: not a ${TILINGS_FORMAT} file` };
  if (json.device !== deviceName()) return { pinned: 0, skipped: `${path}: tuned on ${String(json.device)}` };
  if (json.kernels !== convKernelsFingerprint())
    return { pinned: 0, skipped: `${path}: tuned for another version of the convolution kernels` };
  return { pinned: importConvTilings(json.tilings as Record<string, string>) };
}

/** Writes every pinned convolution tiling of this process with the device's name (atomically). */
export function saveConvTilings(path: string): void {
  const body = {
    format: TILINGS_FORMAT,
    device: deviceName(),
    kernels: convKernelsFingerprint(),
    tilings: exportConvTilings(),
  };
  writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(body, null, 1)}\n`));
}
