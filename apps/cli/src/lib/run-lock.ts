/**
 * A run folder is owned by one process at a time: `run.lock` in it names the holder (pid, host, start time). A
 * second `train` into the folder fails naming the holder; a lock left by a process that no longer runs (killed,
 * or the machine rebooted) is taken over with a note.
 *
 * Why not proper-lockfile (npm): it judges a lock stale by the age of its mtime, refreshed by a timer. A training
 * process blocks its event loop for seconds at a time (shader compilation, long synchronous steps), so the timer
 * would miss its beat and a live run could lose its lock; and a killed run's folder would stay locked until the
 * stale time had passed. Asking the system whether the holder's pid still runs (and is still the same process:
 * its start time in /proc) is exact on one machine; a lock held on another host is never taken over.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import { writeError } from './files.js';
import { shownPath } from './paths.js';

export const LOCK_FILE = 'run.lock';

export interface LockOwner {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO time). */
  since: string;
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat), to tell a reused pid; null off Linux. */
  procStart: string | null;
  /** Unique to this taking of the lock. */
  token: string;
  command: string;
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the lock's holder still runs: true, false, or 'unknown' (another host). */
export function holderRuns(owner: LockOwner): boolean | 'unknown' {
  if (owner.host !== hostname()) return 'unknown';
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    // EPERM: it runs, as another user.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(owner.pid);
  return !(owner.procStart !== null && start !== null && start !== owner.procStart);
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isSafeInteger(o.pid) && typeof o.host === 'string' && typeof o.token === 'string')
      return o as LockOwner;
  } catch {}
  return null;
}

/** The lock file's owner; null when there is no lock file; 'unreadable' when it is not a lock of ours. */
function readOwner(path: string): LockOwner | null | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return 'unreadable';
  }
  return parseOwner(text) ?? 'unreadable';
}

const describeOwner = (o: LockOwner) =>
  `pid ${o.pid}${o.host !== hostname() ? ` on ${o.host}` : ''}, since ${o.since}`;

export class RunLock {
  private released = false;

  private constructor(
    readonly dir: string,
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  /**
   * Takes the lock of `dir` (an existing folder) or fails naming the holder. `note` hears about a stale lock taken
   * over. The lock file is made complete under another name and hard-linked into place, so that it appears whole
   * or not at all and two processes cannot both make it.
   */
  static acquire(dir: string, note: (s: string) => void = () => {}): RunLock {
    const path = join(dir, LOCK_FILE);
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      procStart: processStart(process.pid),
      token: randomBytes(8).toString('hex'),
      command: process.argv.slice(2).join(' '),
    };
    const fresh = join(dir, `.${LOCK_FILE}.${owner.token}.new`);
    try {
      writeFileSync(fresh, `${JSON.stringify(owner)}\n`);
    } catch (e) {
      throw writeError(dir, e, 'cannot write the lock file into the run folder');
    }
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        if (RunLock.place(fresh, path)) return new RunLock(dir, path, owner);
        const held = readOwner(path);
        if (held === null) continue;
        if (held === 'unreadable')
          throw new CliError(
            `${shownPath(path)}: a lock file mriseg cannot read; if no mriseg process uses ${shownPath(dir)}, remove it`,
          );
        const runs = holderRuns(held);
        if (runs === true)
          throw new CliError(
            `${shownPath(dir)}: another mriseg process (${describeOwner(held)}) is writing this run folder; wait for it to end, stop it, or choose another folder`,
          );
        if (runs === 'unknown')
          throw new CliError(
            `${shownPath(dir)}: locked by ${describeOwner(held)}, which this machine cannot check; if that run has ended, remove ${shownPath(path)}`,
          );
        if (RunLock.takeOver(path, held))
          note(
            `note: ${shownPath(dir)}: took over the lock of pid ${held.pid} (since ${held.since}), which no longer runs`,
          );
      }
      throw new CliError(`${shownPath(path)}: the lock keeps changing hands; try again`);
    } finally {
      rmSync(fresh, { force: true });
    }
  }

  /** Links the complete lock file into place; false when a lock is already there. */
  private static place(fresh: string, path: string): boolean {
    try {
      linkSync(fresh, path);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // File systems without hard links: exclusive creation (the content follows at once).
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        try {
          writeFileSync(path, readFileSync(fresh), { flag: 'wx' });
          return true;
        } catch (inner) {
          if ((inner as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw writeError(path, inner, 'cannot make the lock file');
        }
      }
      throw writeError(path, e, 'cannot make the lock file');
    }
  }

  /**
   * Moves a stale lock aside, checking that what was moved is the stale lock and not one another process took
   * over meanwhile (that one is put back). True when the stale lock is gone.
   */
  private static takeOver(path: string, stale: LockOwner): boolean {
    const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(path, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw writeError(path, e, 'cannot take over the stale lock file');
    }
    const moved = readOwner(aside);
    if (moved !== null && moved !== 'unreadable' && moved.token !== stale.token) {
      try {
        linkSync(aside, path);
      } catch {}
      rmSync(aside, { force: true });
      return false;
    }
    rmSync(aside, { force: true });
    return true;
  }

  /** Throws when the lock file no longer holds this lock (removed by hand, or taken): nothing must be written then. */
  check(): void {
    const now = readOwner(this.path);
    if (now !== null && now !== 'unreadable' && now.token === this.owner.token) return;
    const who =
      now === null ? 'removed' : now === 'unreadable' ? 'replaced' : `taken by ${describeOwner(now)}`;
    throw new CliError(
      `${shownPath(this.path)}: the lock of this run folder was ${who}; stopping without writing into it`,
    );
  }

  /** Removes the lock file if it is still this lock's. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const now = readOwner(this.path);
    if (now !== null && now !== 'unreadable' && now.token === this.owner.token)
      rmSync(this.path, { force: true });
  }
}
