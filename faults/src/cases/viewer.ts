/**
 * The viewer's decoding (issue 18, item 14; issue 19): the page's own code (apps/viewer/src/files.ts for slices,
 * src/scan.ts for NIfTI and DICOM, under the viewer's decode limits) on the same hostile files, run here in Node;
 * the browser test opens some of them in Chromium.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { VIEWER_DECODE_LIMITS } from '../../../apps/viewer/src/decode-protocol.js';
import { patientFromFiles } from '../../../apps/viewer/src/files.js';
import { scanPatientFromFiles } from '../../../apps/viewer/src/scan.js';
import { PATIENT } from '../fixtures/dataset.js';
import type { CaseContext, FaultCase, Summary } from '../types.js';
import { HOSTILE_FILES, MASKS_0_1 } from './data.js';
import { type HostileFile, hostilePath, hostileSlice } from './helpers.js';
import { SCAN_FAULTS, type ScanFault, scanLibraryCase } from './scan.js';

/** Opens the patient's files as the page does when a folder is picked. */
function openInPage(ctx: CaseContext): Summary {
  const dir = join(ctx.input, PATIENT);
  const files = readdirSync(dir).map((name) => ({
    name,
    bytes: new Uint8Array(readFileSync(join(dir, name))),
  }));
  const p = patientFromFiles(files, VIEWER_DECODE_LIMITS);
  return { depth: p.raw.depth, tumour: p.raw.mask.reduce((a, b) => a + b, 0), warnings: p.warnings.length };
}

/** A hostile slice opened by the page's decoder; the page names files by name (it has no paths). */
export function viewerCase(h: HostileFile): FaultCase {
  const c = hostileSlice('viewer', h, async (ctx) => openInPage(ctx));
  return { ...c, expect: { ...c.expect, file: (ctx: CaseContext) => basename(hostilePath(ctx, h)) } };
}

/** Every file under `dir`, named by its path below `root` (as a picked folder's webkitRelativePath). */
function picked(root: string, dir = root): { name: string; bytes: Uint8Array }[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory()
      ? picked(root, p)
      : [{ name: relative(root, p), bytes: new Uint8Array(readFileSync(p)) }];
  });
}

/** A hostile NIfTI file or DICOM folder opened in the page (its scan decoder, with the mapping typed in). */
export function viewerScanCase(f: ScanFault): FaultCase {
  const c = scanLibraryCase(f);
  const expect = c.expect;
  return {
    ...c,
    id: `viewer/${f.id}`,
    category: 'viewer',
    run: (ctx) => {
      const p = scanPatientFromFiles(picked(ctx.input), f.channels ?? '', VIEWER_DECODE_LIMITS);
      return { dims: p.scan?.grid.dims, depth: p.raw.depth };
    },
    // The page knows files by their path inside what was picked.
    expect:
      'accept' in expect
        ? expect
        : { ...expect, file: (ctx: CaseContext) => relative(ctx.input, expect.file!(ctx)) },
  };
}

/** Inputs the page sorts elsewhere before its scan decoder sees them (text files named .dcm go to the slice path). */
const NOT_IN_PAGE = ['dicom-no-images'];

export const VIEWER_CASES: FaultCase[] = [
  ...HOSTILE_FILES.map(viewerCase),
  ...SCAN_FAULTS.filter((f) => !NOT_IN_PAGE.includes(f.id)).map(viewerScanCase),
  { ...MASKS_0_1, id: 'viewer/masks-0-1', category: 'viewer', run: async (ctx) => openInPage(ctx) },
];
