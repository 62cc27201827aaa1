/**
 * Arguments the CLI used to accept (issue 18, item 10): each a usage error (exit 2) naming the flag and what it
 * accepts, before any data is read or any folder made.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { phantomData } from '../fixtures/dataset.js';
import type { FaultCase } from '../types.js';
import { trainArgs } from './cli.js';

interface BadArgument {
  id: string;
  title: string;
  args: string[];
  /** The flag the message must name. */
  flag: string;
  problem: RegExp;
}

const BAD: BadArgument[] = [
  {
    id: 'schedule-exp-negative',
    title: '--schedule exp:-5 (a negative lr factor)',
    args: ['--schedule', 'exp:-5'],
    flag: '--schedule "exp:-5"',
    problem: /gamma -5 must be > 0/,
  },
  {
    id: 'momentum-5',
    title: '--momentum 5 (the velocity never decays)',
    args: ['--optimizer', 'sgd', '--momentum', '5'],
    flag: '--momentum',
    problem: /must be a number in \[0, 1\)/,
  },
  {
    id: 'workers-negative',
    title: '--workers=-7',
    args: ['--workers=-7'],
    flag: '--workers',
    problem: /must be an integer from -1 to \d+ \(4 × the \d+ cores\), not "-7"/,
  },
  {
    id: 'workers-500',
    title: '--workers 500',
    args: ['--workers', '500'],
    flag: '--workers',
    problem: /must be an integer from -1 to \d+ \(4 × the \d+ cores\), not "500"/,
  },
  {
    id: 'epochs-hex',
    title: '--epochs 0x2 (hexadecimal)',
    args: ['--epochs', '0x2'],
    flag: '--epochs',
    problem: /must be an integer ≥ 1, not "0x2"/,
  },
  {
    id: 'deep-supervision-unet',
    title: '--deep-supervision with U-Net (no heads)',
    args: ['--model', 'unet', '--deep-supervision'],
    flag: '--deep-supervision',
    problem: /unet has no deep-supervision heads/,
  },
  {
    id: 'deep-supervision-both',
    title: 'both --deep-supervision and --no-deep-supervision',
    args: ['--model', 'unet++', '--deep-supervision', '--no-deep-supervision'],
    flag: '--deep-supervision',
    problem: /and --no-deep-supervision contradict each other/,
  },
];

export const ARGUMENT_CASES: FaultCase[] = BAD.map((b) => ({
  id: `arguments/${b.id}`,
  category: 'arguments',
  title: b.title,
  item: 10,
  setup: (ctx) => void phantomData(ctx.input, 2),
  cli: (ctx) => ({
    args: [...trainArgs(ctx), ...b.args],
    env: { MRISEG_CACHE: join(ctx.work, 'home-cache') },
  }),
  // Refused before anything is made: no run folder, no cache.
  after: (ctx) =>
    existsSync(join(ctx.work, 'run')) || existsSync(join(ctx.work, 'cache')) ? 'wrote before refusing' : null,
  expect: { problem: b.problem, file: () => b.flag, exitCode: 2 },
}));
