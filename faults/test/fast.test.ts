/**
 * The fault suite's fast cases, each in its own folder and child process: a clean error naming the file and the
 * problem (or correct acceptance), no crash, no hang, no memory blow-up, the input tree byte-identical. The slow
 * cases and the results table: scripts/fault-suite.sh.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleSuite } from '../src/bundle.js';
import { ALL_CASES } from '../src/cases/index.js';
import { runCase } from '../src/run-case.js';
import { GOOD } from '../src/types.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const cli = join(here, '..', 'apps', 'cli', 'dist', 'bin.js');
let child = '';

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build the CLI first (pnpm run build)`);
  child = (await bundleSuite(here, ['child'])).child;
});

describe('fault suite (fast cases)', () => {
  for (const c of ALL_CASES.filter((x) => !x.slow)) {
    it(`${c.id}: ${c.title}`, async () => {
      const r = await runCase(c, { child, cli });
      expect(GOOD, `${r.outcome}: ${r.detail}`).toContain(r.outcome);
    });
  }
});
