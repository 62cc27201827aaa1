/**
 * How the commands write: every file complete or absent (a temporary file beside it, then a rename), appended
 * lines whole and on disk before the command goes on, and every failure one line naming the file and the reason
 * in words (a full disk, a read-only folder) rather than a bare ENOSPC or a misleading ENOENT.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import { CliError } from '../errors.js';
import { shownPath } from './paths.js';

/** What an errno means for a file being written, in words a user can act on. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied: the folder is read-only for this user',
  EPERM: 'the operation is not permitted here',
  EFBIG: "the file would pass the file system's or the process's size limit",
  ENOTDIR: 'a file is in the way where a folder is needed',
  EISDIR: 'a folder is in the way where the file goes',
  ENAMETOOLONG: 'the name is too long for the file system',
  EIO: 'an input/output error of the device',
};

const errno = (e: unknown) => (e as NodeJS.ErrnoException | null)?.code;

/** The error of a failed write as the CLI shows it: the file, what was being done, why. */
export function writeError(path: string, e: unknown, doing = 'cannot write'): CliError {
  const code = errno(e);
  const why = (code && REASONS[code]) ?? (e instanceof Error ? e.message : String(e));
  return new CliError(`${shownPath(path)}: ${doing} (${why}${code && REASONS[code] ? `, ${code}` : ''})`);
}

/** Writes a whole file atomically (temporary file, fsync, rename); a failure names the file. */
export function writeFileSafe(path: string, data: string | Uint8Array): void {
  try {
    writeFileAtomic(path, typeof data === 'string' ? new TextEncoder().encode(data) : data);
  } catch (e) {
    throw writeError(path, e);
  }
}

/**
 * Appends one line with a single write to a file opened for appending, then fsyncs it: the line is on disk, whole,
 * before the caller goes on (a reader after a kill sees complete lines only, barring a crash of the machine).
 */
export function appendLine(path: string, line: string): void {
  const bytes = Buffer.from(`${line.replace(/\n/g, ' ')}\n`);
  let fd: number;
  try {
    fd = openSync(path, 'a');
  } catch (e) {
    throw writeError(path, e, 'cannot append to');
  }
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } catch (e) {
    throw writeError(path, e, 'cannot append to');
  } finally {
    closeSync(fd);
  }
}

/** The nearest folder of `path` (itself or an ancestor) that exists. */
function nearestExisting(path: string): string {
  let at = resolve(path);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

/**
 * Makes an output folder (and its parents) and checks that it can be written, before any work: a read-only
 * place, a file in the way or a full disk is reported naming the folder, not after an hour of training.
 */
export function prepareOutputFolder(flag: string, path: string): void {
  const where = `${flag} ${path}`;
  if (existsSync(path) && !statSync(path).isDirectory())
    throw new CliError(`${where}: not a folder (a file is in the way)`);
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    // mkdir -p can report ENOENT when a parent cannot be made; the nearest existing folder says why.
    const base = nearestExisting(dirname(resolve(path)));
    let why: unknown = e;
    try {
      if (!statSync(base).isDirectory()) why = Object.assign(new Error(''), { code: 'ENOTDIR' });
      else accessSync(base, constants.W_OK | constants.X_OK);
    } catch (inner) {
      why = inner;
    }
    throw writeError(path, why, `${flag}: cannot make the folder`);
  }
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw writeError(path, e, `${flag}: cannot write into the folder`);
  }
}

/** Names of the temporary files `writeFileAtomic` writes beside their target (`.<name>.<12 hex>.tmp`). */
const ATOMIC_TEMP = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Removes the entries of `dir` whose names `stale` picks (files, or whole folders); returns their names. */
export function removeEntries(dir: string, stale: (name: string) => boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const picked = names.filter(stale);
  for (const n of picked) rmSync(join(dir, n), { recursive: true, force: true });
  return picked;
}

/**
 * Removes temporary files a killed writer left in `dir` (call it only while owning the folder, so that no live
 * writer's file is taken); returns their names.
 */
export function removeStaleTemps(dir: string): string[] {
  return removeEntries(dir, (n) => ATOMIC_TEMP.test(n));
}
