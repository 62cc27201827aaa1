/**
 * The decode worker: turns picked or fetched files into a patient off the page's thread (files.ts for Kaggle-layout
 * slices, scan.ts for NIfTI and DICOM), so that even a file that slips past the decode limits cannot freeze the
 * page; decode.ts stops it when it overruns its time budget.
 */
import { DataError } from '@mriseg/data/browser';
import { type DecodeReply, type DecodeRequest, VIEWER_DECODE_LIMITS } from './decode-protocol.js';
import { patientFromFiles } from './files.js';
import { scanPatientFromFiles } from './scan.js';

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<DecodeRequest>) => void) | null;
  postMessage(message: DecodeReply, transfer?: Transferable[]): void;
};

scope.onmessage = (ev) => {
  try {
    const r = ev.data;
    const patient =
      r.kind === 'scan'
        ? scanPatientFromFiles(r.files, r.channels, VIEWER_DECODE_LIMITS)
        : patientFromFiles(r.files, VIEWER_DECODE_LIMITS);
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
