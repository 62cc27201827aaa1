import type { FaultCase } from '../types.js';
import { ARGUMENT_CASES } from './arguments.js';
import { CACHE_CASES } from './cache.js';
import { CHECKPOINT_CASES } from './checkpoint.js';
import { CLI_CASES } from './cli.js';
import { DATA_CASES } from './data.js';
import { LIBRARY_CASES } from './library.js';
import { PROCESS_CASES } from './process.js';
import { SCAN_CASES } from './scan.js';
import { SLOW_CASES } from './slow.js';
import { VIEWER_CASES } from './viewer.js';

/** Every case, in report order. */
export const ALL_CASES: FaultCase[] = [
  ...DATA_CASES,
  ...SCAN_CASES,
  ...CACHE_CASES,
  ...CLI_CASES,
  ...CHECKPOINT_CASES,
  ...PROCESS_CASES,
  ...ARGUMENT_CASES,
  ...VIEWER_CASES,
  ...LIBRARY_CASES,
  ...SLOW_CASES,
];

const ids = new Set<string>();
for (const c of ALL_CASES) {
  if (ids.has(c.id)) throw new Error(`fault case ${c.id} is defined twice`);
  ids.add(c.id);
}

export function findCase(id: string): FaultCase {
  const c = ALL_CASES.find((x) => x.id === id);
  if (!c) throw new Error(`no fault case ${id}`);
  return c;
}
