/** What the page and its decode worker (decode.ts, decode-worker.ts) agree on. */
import type { DecodeLimits } from '@mriseg/data/browser';
import type { LoadedPatient } from './files.js';

/** A browser tab holds less than a training process: one patient's decoded slices may take at most 1 GiB. */
export const VIEWER_DECODE_LIMITS: Partial<DecodeLimits> = { maxVolumeBytes: 2 ** 30 };

/** The worker's answer. */
export type DecodeReply = { ok: true; patient: LoadedPatient } | { ok: false; file: string; problem: string };
