/**
 * The viewer's decoding (issue 18, item 14): the page's own code (apps/viewer/src/files.ts, under the viewer's
 * decode limits) on the same hostile files, run here in Node; the browser test opens some of them in Chromium.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VIEWER_DECODE_LIMITS } from '../../../apps/viewer/src/decode-protocol.js';
import { patientFromFiles } from '../../../apps/viewer/src/files.js';
import { PATIENT } from '../fixtures/dataset.js';
import type { CaseContext, FaultCase, Summary } from '../types.js';
import { HOSTILE_FILES, MASKS_0_1 } from './data.js';
import { type HostileFile, hostilePath, hostileSlice } from './helpers.js';

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

export const VIEWER_CASES: FaultCase[] = [
  ...HOSTILE_FILES.map(viewerCase),
  { ...MASKS_0_1, id: 'viewer/masks-0-1', category: 'viewer', run: async (ctx) => openInPage(ctx) },
];
