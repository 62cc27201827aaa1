/**
 * The viewer's decoding (issue 18, item 14): the page's own code (apps/viewer/src/files.ts, under the viewer's
 * decode limits) on the same hostile files, run here in Node; the browser test opens some of them in Chromium.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VIEWER_DECODE_LIMITS } from '../../../apps/viewer/src/decode-protocol.js';
import { patientFromFiles } from '../../../apps/viewer/src/files.js';
import { PATIENT, phantomData, rewriteMasks } from '../fixtures/dataset.js';
import type { CaseContext, FaultCase, Summary } from '../types.js';
import { HOSTILE_FILES } from './data.js';
import { fields, type HostileFile, hostilePath, hostileSlice, SIZE, SLICES } from './helpers.js';

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
  {
    id: 'viewer/masks-0-1',
    category: 'viewer',
    title: 'masks stored as 0/1, opened in the page',
    item: 8,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      rewriteMasks(ctx.input, SLICES, SIZE, (n, i) => (n === 2 && i < 100 ? 1 : 0));
    },
    run: async (ctx) => openInPage(ctx),
    expect: { accept: fields({ tumour: 100, warnings: 1 }) },
  },
];
