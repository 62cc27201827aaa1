/**
 * The child process of a library case: `node child.mjs <case id> <context JSON> <result file>`. Runs the case's
 * action and writes what happened (a summary, or the error's name and message) and its peak memory as JSON.
 * Anything worse — a fatal error, a signal, a hang — is seen by the parent as the absence of that file.
 */
import { writeFileSync } from 'node:fs';
import { findCase } from './cases/index.js';
import type { CaseContext } from './types.js';

export interface ChildResult {
  ok: boolean;
  summary?: Record<string, unknown>;
  name?: string;
  message?: string;
  maxRssMiB: number;
}

const [id, context, out] = process.argv.slice(2);
const c = findCase(id);
let result: ChildResult;
try {
  const summary = await c.run!(JSON.parse(context) as CaseContext);
  result = { ok: true, summary, maxRssMiB: 0 };
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  result = { ok: false, name: err.name, message: err.message, maxRssMiB: 0 };
}
result.maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
writeFileSync(out, JSON.stringify(result));
// Leftover handles (a GPU device, timers) must not make a finished case look like a hang.
process.exit(0);
