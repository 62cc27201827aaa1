/** mriseg command line: parses (options/), dispatches to the commands, and turns errors into one line and an exit code. */
import { existsSync, statSync } from 'node:fs';
import { benchCommand } from './commands/bench.js';
import { runCv } from './commands/cv.js';
import { doctor } from './commands/doctor.js';
import { ensemble, evaluate, predict } from './commands/infer.js';
import { convertCommand, exportCommand } from './commands/interop.js';
import { runTrain } from './commands/train.js';
import { reportError, UsageError } from './errors.js';
import { type Invocation, type Output, parseCommandLine } from './options/parse.js';

type Runner = (inv: Invocation) => Promise<number>;

const RUNNERS: Record<string, Runner> = {
  train: (inv) => runTrain(inv),
  cv: (inv) => runCv(inv),
  evaluate: (inv) => evaluate(inv.values),
  predict: (inv) => predict(inv.values),
  ensemble: (inv) => ensemble(inv.values),
  bench: (inv) => benchCommand(inv.values),
  doctor: (inv) => doctor({ json: inv.values.json === true }),
  export: (inv) => exportCommand(inv.values),
  convert: (inv) => convertCommand(inv.values),
};

const consoleOutput: Output = {
  out: (s) => console.log(s),
  err: (s) => console.error(s),
};

/** `-C DIR`: relative paths and the default run folder are taken from DIR, as if mriseg had been started there. */
function enter(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`-C ${dir}: no such folder`);
  process.chdir(dir);
}

/** Runs a command line; returns the exit code (0 success, 1 error, 2 usage error, 3 NaN stop, 130 interrupted). */
export async function main(argv: string[], io: Output = consoleOutput): Promise<number> {
  const debug = argv.includes('--debug') || process.env.MRISEG_DEBUG === '1';
  try {
    const parsed = parseCommandLine(argv, io);
    if (parsed.kind === 'exit') return parsed.code;
    const inv = parsed.invocation;
    if (inv.directory) enter(inv.directory);
    return await RUNNERS[inv.command](inv);
  } catch (e) {
    return reportError(e, debug, io.err);
  }
}
