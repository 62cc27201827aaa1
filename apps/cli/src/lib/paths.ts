/**
 * Paths and commands as the CLI prints them: they must work when pasted where the user is. A path inside the
 * working folder is shown relative to it, any other absolute; a command starts the way this process was started
 * (`node apps/cli/dist/bin.js`, `node …/cli.bundle.mjs`, or `mriseg` when installed on PATH).
 */
import { basename, isAbsolute, relative, resolve } from 'node:path';

/** `path` relative to the working folder when inside it, else absolute. */
export function shownPath(path: string, cwd = process.cwd()): string {
  const abs = resolve(cwd, path);
  const rel = relative(cwd, abs);
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The CLI's own entry files: dist/bin.js (tsup) and cli.bundle.mjs (the single-file bundle). */
const ENTRY_FILES = new Set(['bin.js', 'cli.bundle.mjs']);

/**
 * How to run mriseg again from the working folder: `node <script>` when this process was started from one of the
 * CLI's entry files (as the user can reach it from here), else `mriseg` (npm's link on PATH, or a host program).
 */
export function selfCommand(argv1: string | undefined = process.argv[1], cwd = process.cwd()): string {
  if (!argv1 || !ENTRY_FILES.has(basename(argv1))) return 'mriseg';
  return `node ${shellWord(shownPath(argv1, cwd))}`;
}

/** A runnable command line: `mriseg`'s invocation, then the words, each quoted as needed. */
export function commandLine(words: string[], self = selfCommand()): string {
  return [self, ...words.map(shellWord)].join(' ');
}
