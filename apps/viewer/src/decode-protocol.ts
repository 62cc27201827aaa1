/** What the page and its decode worker (decode.ts, decode-worker.ts) agree on. */
import type { DecodeLimits } from '@mriseg/data/browser';
import type { LoadedPatient, NamedBytes } from './files.js';

/**
 * A browser tab holds less than a training process: one patient's decoded slices may take at most 1 GiB, a scanner
 * volume at most 2²⁶ voxels (a 512 × 512 × 256 series; its three channels in the models' frame are 12 bytes a voxel).
 */
export const VIEWER_DECODE_LIMITS: Partial<DecodeLimits> = {
  maxVolumeBytes: 2 ** 30,
  maxScanVoxels: 2 ** 26,
};

/** What the page asks: Kaggle-layout slice files, or scanner files (NIfTI, DICOM) with the channel-mapping text. */
export type DecodeRequest =
  | { kind: 'slices'; files: NamedBytes[] }
  | { kind: 'scan'; files: NamedBytes[]; channels: string };

/** The worker's answer. */
export type DecodeReply = { ok: true; patient: LoadedPatient } | { ok: false; file: string; problem: string };
