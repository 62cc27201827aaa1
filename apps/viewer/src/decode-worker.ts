/**
 * The decode worker: turns picked or fetched slice files into a patient off the page's thread (files.ts does the
 * work), so that even a file that slips past the decode limits cannot freeze the page; decode.ts stops it when it
 * overruns its time budget.
 */
import { DataError } from '@mriseg/data/browser';
import { type DecodeReply, VIEWER_DECODE_LIMITS } from './decode-protocol.js';
import { type NamedBytes, patientFromFiles } from './files.js';

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<NamedBytes[]>) => void) | null;
  postMessage(message: DecodeReply, transfer?: Transferable[]): void;
};

scope.onmessage = (ev) => {
  try {
    const patient = patientFromFiles(ev.data, VIEWER_DECODE_LIMITS);
    scope.postMessage({ ok: true, patient }, [patient.raw.image.buffer, patient.raw.mask.buffer]);
  } catch (e) {
    scope.postMessage(
      e instanceof DataError
        ? { ok: false, file: e.file, problem: e.problem }
        : {
            ok: false,
            file: 'selection',
            problem: `could not be read (${(e as Error).message ?? String(e)})`,
          },
    );
  }
};
