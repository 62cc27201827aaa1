/** Runs one case in its own folder and child process and decides its outcome (see types.ts). */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildResult } from './child.js';
import { diffTrees, snapshotTree } from './snapshot.js';
import type {
  AcceptExpectation,
  CaseContext,
  CaseResult,
  CaseTools,
  CliRun,
  ErrorExpectation,
  FaultCase,
  Mount,
  Outcome,
  RunningProcess,
} from './types.js';

/** A child above this resident size is stopped and counted as a memory blow-up. */
export const MEMORY_LIMIT_MIB = 1536;

export interface RunnerPaths {
  /** The bundled child script (bundle.ts). */
  child: string;
  /** The CLI entry, apps/cli/dist/bin.js. */
  cli: string;
  /** Default MEMORY_LIMIT_MIB. */
  memoryLimitMiB?: number;
}

interface Exit {
  code: number | null;
  signal: string | null;
  stderr: string;
  stdout: string;
  killedFor: 'hang' | 'memory' | null;
  /** The signal the case itself sent (through `during`), if any. */
  sentByCase: string | null;
  peakMiB: number;
}

/** Resident memory of a process, MiB (Linux /proc; 0 where unreadable). */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/**
 * The command line that runs `node args…`, inside a private mount namespace with the given tmpfs mounts when there
 * are any (`unshare` execs the shell, which execs node: the pid stays the one the suite watches and signals).
 */
function commandOf(args: string[], mounts: readonly Mount[] = []): [string, string[]] {
  if (mounts.length === 0) return [process.execPath, args];
  const script =
    'while [ "$1" != -- ]; do mount -t tmpfs -o "$2" tmpfs "$1" || exit 125; shift 2; done; shift; exec "$@"';
  const specs = mounts.flatMap((m) => [
    m.path,
    [m.readOnly ? 'ro' : 'rw', `size=${m.size ?? '1m'}`].join(','),
  ]);
  return [
    'unshare',
    ['--map-root-user', '--mount', 'sh', '-c', script, 'sh', ...specs, '--', process.execPath, ...args],
  ];
}

function runProcess(
  args: string[],
  env: Record<string, string>,
  limits: { ms: number; mib: number },
  during?: (proc: RunningProcess) => void | Promise<void>,
  mounts?: readonly Mount[],
): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const [command, argv] = commandOf(args, mounts);
    const child = spawn(command, argv, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    let killedFor: Exit['killedFor'] = null;
    let sentByCase: string | null = null;
    let peakMiB = 0;
    let ended = () => {};
    const proc: RunningProcess = {
      pid: child.pid ?? 0,
      kill: (signal) => {
        sentByCase = signal;
        child.kill(signal);
      },
      stderr: () => stderr,
      stdout: () => stdout,
      ended: new Promise<void>((ok) => {
        ended = ok;
      }),
    };
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 1 << 20) stderr += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 1 << 20) stdout += d.toString();
    });
    const watch = setInterval(() => {
      const rss = child.pid ? rssMiB(child.pid) : 0;
      peakMiB = Math.max(peakMiB, rss);
      if (rss > limits.mib && !killedFor) {
        killedFor = 'memory';
        child.kill('SIGKILL');
      }
    }, 50);
    const timer = setTimeout(() => {
      killedFor ??= 'hang';
      child.kill('SIGKILL');
    }, limits.ms);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(watch);
      clearTimeout(timer);
      ended();
      resolve({ code, signal, stderr, stdout, killedFor, sentByCase, peakMiB });
    });
    Promise.resolve(during?.(proc)).catch((e: unknown) => {
      stderr += `\n[fault suite] during(): ${(e as Error).message}`;
      child.kill('SIGKILL');
    });
  });
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 300);

/** A CLI's error lines, without the GPU driver's start-up warnings and stack frames that come with them. */
function errorLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() && !/^Warning: /.test(l) && !/^\s+at /.test(l))
    .join('\n');
}

function judgeError(
  e: ErrorExpectation,
  ctx: CaseContext,
  name: string | undefined,
  text: string,
): [Outcome, string] {
  const problems: string[] = [];
  if (e.name && name !== e.name) problems.push(`${name ?? 'no error class'} instead of ${e.name}`);
  if (!e.problem.test(text)) problems.push(`problem not ${e.problem}`);
  const file = e.file?.(ctx);
  if (file && !text.includes(file)) problems.push(`does not name ${file}`);
  const seen = oneLine(name ? `${name}: ${text}` : text);
  return problems.length === 0 ? ['clean-error', seen] : ['unclear-error', `${problems.join('; ')}: ${seen}`];
}

function judgeAccept(e: AcceptExpectation, ctx: CaseContext, r: ChildResult): [Outcome, string] {
  if (!r.ok) return ['wrong-result', `refused: ${r.name}: ${oneLine(r.message ?? '')}`];
  const wrong = e.accept(r.summary ?? {}, ctx);
  return wrong ? ['wrong-result', wrong] : ['accepted', oneLine(JSON.stringify(r.summary))];
}

/** Sets the case up, runs it, checks the input tree and judges the outcome. */
export async function runCase(c: FaultCase, paths: RunnerPaths, keep = false): Promise<CaseResult> {
  const root = mkdtempSync(join(tmpdir(), `mriseg-fault-${c.id.replace(/[^a-z0-9]+/gi, '-')}-`));
  const ctx: CaseContext = { root, input: join(root, 'input'), work: join(root, 'work') };
  mkdirSync(ctx.input);
  mkdirSync(ctx.work);
  try {
    try {
      await c.setup(ctx);
    } catch (e) {
      // The case could not be set up: it did not hold (and says why), the suite goes on.
      const detail = `setup failed: ${oneLine((e as Error).message)}`;
      return {
        id: c.id,
        category: c.category,
        title: c.title,
        outcome: 'wrong-result',
        detail,
        exitCode: null,
        signal: null,
        seconds: 0,
        peakMiB: 0,
      };
    }
    const before = snapshotTree(ctx.input);
    const resultFile = join(root, 'result.json');
    const action = c.cli?.(ctx);
    const args = action ? [paths.cli, ...action.args] : [paths.child, c.id, JSON.stringify(ctx), resultFile];
    const t0 = performance.now();
    const during = c.during ? (p: RunningProcess) => c.during!(p, ctx) : undefined;
    const mib = paths.memoryLimitMiB ?? MEMORY_LIMIT_MIB;
    const exit = await runProcess(
      args,
      action?.env ?? {},
      { ms: (c.timeoutSeconds ?? 60) * 1000, mib },
      during,
      action?.mounts,
    );
    const tools: CaseTools = {
      cli: async (more, env = {}): Promise<CliRun> => {
        const e = await runProcess(
          [paths.cli, ...more],
          { ...(action?.env ?? {}), ...env },
          {
            ms: (c.timeoutSeconds ?? 60) * 1000,
            mib,
          },
        );
        return { code: e.code, signal: e.signal, stdout: e.stdout, stderr: e.stderr };
      },
    };
    const found = (await c.after?.(ctx, tools)) ?? null;
    const seconds = (performance.now() - t0) / 1000;
    const changed = diffTrees(before, snapshotTree(ctx.input));
    const result: ChildResult | null =
      !action && existsSync(resultFile)
        ? (JSON.parse(readFileSync(resultFile, 'utf8')) as ChildResult)
        : null;
    const peakMiB = Math.max(exit.peakMiB, result?.maxRssMiB ?? 0);
    let outcome: Outcome;
    let detail: string;
    if (changed) [outcome, detail] = ['data-loss', changed];
    else if (exit.killedFor === 'hang') [outcome, detail] = ['hang', `no end after ${seconds.toFixed(0)} s`];
    else if (exit.killedFor === 'memory') [outcome, detail] = ['memory', `passed ${mib} MiB`];
    else if (
      (exit.signal && exit.signal !== exit.sentByCase) ||
      ((exit.code ?? 0) >= 128 && !exit.sentByCase) ||
      (!action && !result)
    ) {
      [outcome, detail] = ['crash', `exit ${exit.code ?? exit.signal}: ${oneLine(exit.stderr.slice(-600))}`];
    } else if (found) [outcome, detail] = ['wrong-result', found];
    else if (action) {
      if ('accept' in c.expect) {
        // The command's own account: its exit and what it said.
        const summary = {
          exitCode: exit.code,
          signal: exit.signal,
          stderr: errorLines(exit.stderr),
          stdout: exit.stdout,
        };
        [outcome, detail] = judgeAccept(c.expect, ctx, { ok: true, summary, maxRssMiB: 0 });
      } else if (exit.code === 0) [outcome, detail] = ['wrongly-accepted', 'exit 0'];
      else if (c.expect.exitCode !== undefined && exit.code !== c.expect.exitCode) {
        [outcome, detail] = [
          'unclear-error',
          `exit ${exit.code}, ${c.expect.exitCode} expected: ${oneLine(exit.stderr)}`,
        ];
      } else [outcome, detail] = judgeError(c.expect, ctx, undefined, errorLines(exit.stderr));
    } else if ('accept' in c.expect) [outcome, detail] = judgeAccept(c.expect, ctx, result!);
    else if (result!.ok) [outcome, detail] = ['wrongly-accepted', oneLine(JSON.stringify(result!.summary))];
    else [outcome, detail] = judgeError(c.expect, ctx, result!.name, result!.message ?? '');
    return {
      id: c.id,
      category: c.category,
      title: c.title,
      outcome,
      // The case's temporary folder adds nothing to a report line.
      detail: detail.split(`${root}/`).join(''),
      exitCode: exit.code,
      signal: exit.signal,
      seconds,
      peakMiB,
    };
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}
