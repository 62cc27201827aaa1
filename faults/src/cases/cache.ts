/** The preprocessed-volume cache (issue 18, items 11 and 12): entries that must never be trusted as they are. */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PATIENT, slicePath } from '../fixtures/dataset.js';
import type { AcceptExpectation, CaseContext, FaultCase, Summary } from '../types.js';
import { fields, layoutCase, loadInput } from './helpers.js';

/** The one entry the set's first load wrote. */
function entry(ctx: CaseContext): string {
  const dir = join(ctx.work, 'cache');
  const name = readdirSync(dir).find((n) => n.endsWith('.mrivol'));
  if (!name) throw new Error('no cache entry was written');
  return join(dir, name);
}

/** A case whose setup loads the set once (filling the cache), then changes something. */
const cacheCase = (
  id: string,
  title: string,
  change: (ctx: CaseContext) => void,
  want: AcceptExpectation['accept'],
) =>
  layoutCase(
    id,
    title,
    async (ctx) => {
      await loadInput(ctx);
      change(ctx);
    },
    { accept: want },
    loadInput,
    12,
  );

const rebuiltWith = (warning: RegExp) => (s: Summary) =>
  fields({ built: 1, cached: 0 })(s) ??
  ((s.warnings as string[]).some((w) => warning.test(w)) ? null : `no warning matching ${warning}`);

export const CACHE_CASES: FaultCase[] = [
  cacheCase(
    'cache-entry-tampered-valid-gzip',
    'a cache entry whose body is another valid gzip (every voxel tumour)',
    (ctx) => {
      const path = entry(ctx);
      const bytes = readFileSync(path);
      const start = 12 + bytes.readUInt32LE(8);
      const body = gunzipSync(bytes.subarray(start, bytes.length - 32));
      body.fill(1, body.length - body.length / 13);
      writeFileSync(
        path,
        Buffer.concat([bytes.subarray(0, start), gzipSync(body), bytes.subarray(bytes.length - 32)]),
      );
    },
    rebuiltWith(/failed verification/),
  ),
  cacheCase(
    'cache-entry-is-a-directory',
    'a cache entry replaced by a directory',
    (ctx) => {
      const path = entry(ctx);
      rmSync(path);
      mkdirSync(join(path, 'x'), { recursive: true });
    },
    rebuiltWith(/not a regular file \(a directory\)/),
  ),
  cacheCase(
    'cache-stale-same-size-and-mtime',
    'a mask rewritten with the same size and mtime after caching',
    (ctx) => {
      const m = slicePath(ctx.input, 3, true);
      const st = statSync(m);
      const bytes = readFileSync(m);
      bytes[bytes.length - 40] ^= 0xff;
      writeFileSync(m, bytes);
      utimesSync(m, st.atime, st.mtime);
    },
    fields({ built: 1, cached: 0 }),
  ),
  cacheCase(
    'cache-unwritable',
    'a cache folder that cannot be created (a file is in the way)',
    (ctx) => {
      rmSync(join(ctx.work, 'cache'), { recursive: true });
      writeFileSync(join(ctx.work, 'cache'), 'not a folder');
    },
    (s) =>
      fields({ patients: [PATIENT] })(s) ??
      ((s.warnings as string[]).some((w) => /cannot use the cache folder/.test(w)) ? null : 'no warning'),
  ),
];
