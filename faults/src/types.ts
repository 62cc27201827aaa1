/**
 * A fault case: an input made by the suite (never a committed binary), one action on it (a library call run in a
 * child process, or the CLI binary as a black box) and what must happen — a clean error naming the file and the
 * problem, or correct acceptance — with the input tree byte-identical afterwards.
 */

export type Category = 'data' | 'scan' | 'checkpoint' | 'process' | 'arguments' | 'viewer' | 'library';

export const CATEGORIES: readonly Category[] = [
  'data',
  'scan',
  'checkpoint',
  'process',
  'arguments',
  'viewer',
  'library',
];

export interface CaseContext {
  /** The case's own temporary folder. */
  root: string;
  /** The input tree: everything here must be byte-identical after the case ran. */
  input: string;
  /** Where the action may write (caches, run folders, outputs): not compared. */
  work: string;
}

/** What a library action returns on success: a JSON summary that `accept` judges. */
export type Summary = Record<string, unknown>;

export interface ErrorExpectation {
  /** The error's class name (DataError, CheckpointError, ShapeError, RangeError, …). */
  name?: string;
  /** The problem text. */
  problem: RegExp;
  /** The path or name the message must contain (omit for errors about no file, e.g. a tensor shape). */
  file?: (ctx: CaseContext) => string;
  /** CLI cases: the exit code (1 for bad data). */
  exitCode?: number;
}

export interface AcceptExpectation {
  /**
   * Null when the summary is right, else what is wrong with it. A library case's summary is what `run` returned; a
   * CLI case's is `{ exitCode, signal, stderr }`.
   */
  accept: (summary: Summary, ctx: CaseContext) => string | null;
}

export interface CliAction {
  args: string[];
  env?: Record<string, string>;
  /**
   * tmpfs file systems mounted for this command alone, in a private mount namespace (`unshare --map-root-user
   * --mount`, no privileges needed): a disk that fills up (`size`) or one that is read-only. The folders must exist.
   */
  mounts?: Mount[];
}

export interface Mount {
  path: string;
  /** tmpfs size, e.g. '64k'. */
  size?: string;
  readOnly?: boolean;
}

/** What a command-line run left: its exit and both output streams. */
export interface CliRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Given to `after`: the CLI, to run again on what the case left (a `--resume` after a kill). */
export interface CaseTools {
  cli(args: string[], env?: Record<string, string>): Promise<CliRun>;
}

export interface FaultCase {
  /** `<category>/<name>`, unique. */
  id: string;
  category: Category;
  /** What is tried, in a few words. */
  title: string;
  /** Item of issue 18 it covers. */
  item?: number;
  /** Slow cases run only from scripts/fault-suite.sh, not in CI. */
  slow?: boolean;
  /** Seconds before the case counts as a hang (default 60). */
  timeoutSeconds?: number;
  /** Writes the input (and anything the action needs) under ctx.input / ctx.work. */
  setup: (ctx: CaseContext) => void | Promise<void>;
  /** A library action, run in a child process. */
  run?: (ctx: CaseContext) => Summary | Promise<Summary>;
  /** Or the CLI binary (`node apps/cli/dist/bin.js …`). */
  cli?: (ctx: CaseContext) => CliAction;
  /**
   * CLI cases: acts on the process while it runs (e.g. a signal once a checkpoint write has begun, a second run
   * into the same folder). A signal sent through `proc.kill` is the case's own, not a crash.
   */
  during?: (proc: RunningProcess, ctx: CaseContext) => void | Promise<void>;
  /**
   * What the action left behind, checked after it ends (outputs, a resumable run — `tools.cli` runs the CLI again):
   * null, or what is wrong. Called once.
   */
  after?: (ctx: CaseContext, tools: CaseTools) => string | null | Promise<string | null>;
  expect: ErrorExpectation | AcceptExpectation;
}

export interface RunningProcess {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  /** Standard error so far. */
  stderr(): string;
  /** Standard output so far. */
  stdout(): string;
  /** Resolves when the process has ended. */
  ended: Promise<void>;
}

export type Outcome =
  | 'clean-error'
  | 'accepted'
  /** An error, but not the expected one, or one that does not name the file and the problem. */
  | 'unclear-error'
  /** Accepted what should have been refused. */
  | 'wrongly-accepted'
  /** Should have been accepted with a given result, and was not (a wrong result or a refusal). */
  | 'wrong-result'
  /** Died: a signal, a fatal error, no result. */
  | 'crash'
  /** Stopped when its memory passed the suite's limit. */
  | 'memory'
  | 'hang'
  /** The input tree changed. */
  | 'data-loss';

/** Outcomes that mean the case holds. */
export const GOOD: readonly Outcome[] = ['clean-error', 'accepted'];

export interface CaseResult {
  id: string;
  category: Category;
  title: string;
  outcome: Outcome;
  /** Why, in one line (the message seen, or what differed). */
  detail: string;
  exitCode: number | null;
  signal: string | null;
  seconds: number;
  /** Peak resident memory of the child process, MiB (sampled). */
  peakMiB: number;
}
