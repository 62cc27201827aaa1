/**
 * The CLI as a black box on hostile data (issue 18, items 2–4): exit code 1, the file and the problem on stderr,
 * the data untouched. Only long-standing options are used, so the cases outlive changes to the option parser.
 */
import { join } from 'node:path';
import type { CaseContext, FaultCase } from '../types.js';
import { HOSTILE_FILES } from './data.js';
import { type HostileFile, hostileSlice } from './helpers.js';

/** `train` on the input with the smallest settings; it must stop while loading the data. */
export function trainArgs(ctx: CaseContext): string[] {
  return [
    'train',
    '--data',
    ctx.input,
    '--out',
    join(ctx.work, 'run'),
    '--cache',
    join(ctx.work, 'cache'),
    '--workers',
    '0',
    '--features',
    '2',
    '--image-size',
    '32',
    '--epochs',
    '1',
    // Two patients (the cases write two): one for validation, so the split itself is never what fails.
    '--split',
    'random:1:1',
  ];
}

/** A hostile slice given to `train`; counted with the data cases (it is the same input, through the CLI). */
export function cliTrainCase(h: HostileFile): FaultCase {
  const c = hostileSlice('data', { ...h, id: `cli-train-${h.id}` }, undefined, 2);
  return {
    ...c,
    title: `${c.title} (CLI train)`,
    run: undefined,
    cli: (ctx: CaseContext) => ({
      args: trainArgs(ctx),
      env: { MRISEG_CACHE: join(ctx.work, 'home-cache') },
    }),
    expect: { ...c.expect, name: undefined, exitCode: 1 },
  };
}

const IN_CLI = ['tiff-strip-count-2^30', 'tiff-ifd-self-loop', 'tiff-deflate-bomb-small', 'png-bomb-small'];

export const CLI_CASES: FaultCase[] = HOSTILE_FILES.filter((h) => IN_CLI.includes(h.id)).map(cliTrainCase);
