/**
 * The CLI's two kinds of failure and how they are shown. A usage error (a bad flag or value) is one line naming
 * the flag and what it accepts, with a pointer to `--help`, exit code 2 as Unix tools do. Any other error (bad
 * data, an unreadable checkpoint, no GPU adapter) is one line with the message, exit code 1; the stack trace only
 * with `--debug` (or MRISEG_DEBUG=1), since the message is what a user can act on.
 */

export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  /** The command whose `--help` the message points to (null: the top level). */
  command: string | null;
  constructor(message: string, command: string | null = null) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A failure of the run itself (a missing file, an input that cannot be used), reported as its message alone. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Errors whose message names the file or the problem a user can fix; anything else is a bug in mriseg, shown
 * with a hint to rerun with --debug for the stack.
 */
const EXPECTED = new Set([
  'CliError',
  'DataError',
  'CheckpointError',
  'SafetensorsError',
  'StateDictError',
  'NoAdapterError',
  'WebGPUError',
]);

/** Node's own errors for files and the system (ENOENT, EACCES, …) carry a code and a readable message. */
function isSystemError(e: Error): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** Writes the error as the CLI shows it and returns the exit code. */
export function reportError(e: unknown, debug: boolean, write: (line: string) => void): number {
  if (e instanceof UsageError) {
    const cmd = e.command ? `mriseg ${e.command}` : 'mriseg';
    write(`${cmd}: ${oneLine(e.message)} (see '${cmd} --help')`);
    if (debug && e.stack) write(e.stack);
    return EXIT_USAGE;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const expected = EXPECTED.has(err.name) || isSystemError(err);
  const message = oneLine(err.message).replace(/^mriseg: /, '');
  write(
    `mriseg: ${message}${expected || debug ? '' : ' (an internal error: rerun with --debug for the stack trace)'}`,
  );
  if (debug && err.stack) write(err.stack);
  return EXIT_ERROR;
}

function oneLine(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}
