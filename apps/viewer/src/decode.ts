/**
 * Decoding a patient in a Web Worker with a time budget. The data package's decode limits make hostile files
 * (decompression bombs, looping TIFF directories, absurd strip counts) fail in milliseconds; the worker keeps the
 * page responsive for whatever takes long anyway, and is stopped when it overruns.
 */
import { DataError } from '@mriseg/data/browser';
import type { DecodeReply, DecodeRequest } from './decode-protocol.js';
import type { LoadedPatient, NamedBytes } from './files.js';

/** Seconds the worker may take: generous for real data (a patient decodes in well under a second). */
export function decodeBudgetMs(files: readonly NamedBytes[]): number {
  return 20_000 + 200 * files.length;
}

/**
 * Decodes Kaggle-layout slice files (their buffers are handed to the worker and are unusable here afterwards) into a
 * patient. Rejects with the worker's DataError, or with one naming the selection when the budget runs out.
 */
export function decodePatient(files: NamedBytes[], budgetMs = decodeBudgetMs(files)): Promise<LoadedPatient> {
  return decodeInWorker({ kind: 'slices', files }, budgetMs);
}

/** Decodes NIfTI or DICOM files, with the channel-mapping text, into a patient in the models' frame (see scan.ts). */
export function decodeScan(
  files: NamedBytes[],
  channels: string,
  budgetMs = decodeBudgetMs(files),
): Promise<LoadedPatient> {
  return decodeInWorker({ kind: 'scan', files, channels }, budgetMs);
}

function decodeInWorker(request: DecodeRequest, budgetMs: number): Promise<LoadedPatient> {
  const { files } = request;
  const worker = new Worker(new URL('./decode-worker.ts', import.meta.url), { type: 'module' });
  return new Promise<LoadedPatient>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(
        new DataError(
          'selection',
          `decoding took longer than ${Math.round(budgetMs / 1000)} s and was stopped (a damaged or hostile file?)`,
        ),
      );
    }, budgetMs);
    const finish = () => {
      clearTimeout(timer);
      worker.terminate();
    };
    worker.onmessage = (ev: MessageEvent<DecodeReply>) => {
      finish();
      const r = ev.data;
      if (r.ok) resolve(r.patient);
      else reject(new DataError(r.file, r.problem));
    };
    worker.onerror = (ev: ErrorEvent) => {
      finish();
      reject(new DataError('selection', `the decoder stopped (${ev.message || 'out of memory?'})`));
    };
    const transfer = [...new Set(files.map((f) => f.bytes.buffer))] as ArrayBuffer[];
    worker.postMessage(request, transfer);
  });
}
