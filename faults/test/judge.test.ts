/**
 * The judge itself: a stand-in command that misbehaves in each way the suite must notice (writing into its input,
 * hanging, growing without bound, aborting, a vague error, accepting what it should refuse), so that a green
 * suite means the cases held, not that the judge could not tell.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCase } from '../src/run-case.js';
import type { CaseContext, FaultCase, Outcome } from '../src/types.js';

const STAND_IN = `
const [mode, file] = process.argv.slice(2);
const fs = require('node:fs');
if (mode === 'refuse') { console.error('mriseg: DataError: ' + file + ': strip 3 is broken'); process.exit(1); }
if (mode === 'vague') { console.error('mriseg: RangeError: Invalid typed array length'); process.exit(1); }
if (mode === 'write') { fs.appendFileSync(file, 'x'); process.exit(1); }
if (mode === 'hang') setInterval(() => {}, 1000);
if (mode === 'grow') { const keep = []; setInterval(() => keep.push(Buffer.alloc(64 << 20, 1)), 10); }
if (mode === 'abort') process.abort();
if (mode === 'wait') setInterval(() => {}, 1000);
`;

let dir = '';
let cli = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mriseg-judge-'));
  cli = join(dir, 'stand-in.cjs');
  writeFileSync(cli, STAND_IN);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = (ctx: CaseContext) => join(ctx.input, 'slice.tif');

function standIn(mode: string, extra: Partial<FaultCase> = {}): FaultCase {
  return {
    id: `data/judge-${mode}`,
    category: 'data',
    title: mode,
    setup: (ctx) => writeFileSync(input(ctx), 'II*'),
    cli: (ctx) => ({ args: [mode, input(ctx)] }),
    expect: { problem: /strip 3 is broken/, file: input, exitCode: 1 },
    timeoutSeconds: 3,
    ...extra,
  };
}

async function outcome(c: FaultCase): Promise<Outcome> {
  return (await runCase(c, { child: '', cli, memoryLimitMiB: 300 })).outcome;
}

describe('the judge tells each failure apart', () => {
  it('a clean error naming the file and the problem', async () => {
    expect(await outcome(standIn('refuse'))).toBe('clean-error');
  });
  it('an error without the file or the problem', async () => {
    expect(await outcome(standIn('vague'))).toBe('unclear-error');
  });
  it('a change to the input tree, whatever the exit', async () => {
    expect(await outcome(standIn('write'))).toBe('data-loss');
  });
  it('no end within the time limit', async () => {
    expect(await outcome(standIn('hang'))).toBe('hang');
  });
  it('memory growing past the limit', async () => {
    expect(await outcome(standIn('grow', { timeoutSeconds: 30 }))).toBe('memory');
  });
  it('an abort', async () => {
    expect(await outcome(standIn('abort'))).toBe('crash');
  });
  it('success where an error was due', async () => {
    expect(await outcome(standIn('ok'))).toBe('wrongly-accepted');
  });
  it('a signal the case sends itself is not a crash; its own check of the outcome decides', async () => {
    const signalled = (after: FaultCase['after']) =>
      standIn('wait', {
        timeoutSeconds: 30,
        during: (proc) => proc.kill('SIGTERM'),
        after,
        expect: { accept: (s) => (s.signal === 'SIGTERM' ? null : `ended with ${JSON.stringify(s)}`) },
      });
    expect(await outcome(signalled(() => null))).toBe('accepted');
    expect(await outcome(signalled(() => 'no checkpoint was written'))).toBe('wrong-result');
  });
});
