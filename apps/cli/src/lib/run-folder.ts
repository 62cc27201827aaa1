/**
 * The run folder `train` writes, owned while it runs: locked (run-lock.ts), never taken over from another run
 * without `--resume` (or `--force`, which clears it first), its leftovers of a killed run (temporary files, a
 * stale lock) removed on the next start, and its `metrics.jsonl` reconciled with the checkpoint a run resumes from.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import { prepareOutputFolder, removeStaleTemps, writeFileSafe } from './files.js';
import { shownPath } from './paths.js';
import type { EpochRecord } from './report.js';
import { LOCK_FILE, RunLock } from './run-lock.js';
import { plural } from './words.js';

/** The files a run writes (what `--force` removes and what makes a folder an existing run). */
export const RUN_FILES = [
  'config.json',
  'split.json',
  'environment.json',
  'environment.resume.json',
  'metrics.jsonl',
  'last.safetensors',
  'best.safetensors',
  'last-ema.safetensors',
  'best-ema.safetensors',
  'report.md',
  'loss.svg',
  'dsc.svg',
  'patients.svg',
] as const;

/** What `evaluate` writes by default into `<run>/evaluation`: results of the old run's checkpoint. */
const EVALUATION_FILES = ['patients.csv', 'summary.csv'];

/** Leftovers of a lock being taken or taken over when the process was killed. */
const LOCK_LEFTOVER = new RegExp(
  `^(\\.${LOCK_FILE}\\.[0-9a-f]{16}\\.new|${LOCK_FILE}\\.stale-\\d+-[0-9a-f]{8})$`,
);

export function existingRunFiles(dir: string): string[] {
  return RUN_FILES.filter((f) => existsSync(join(dir, f)));
}

export interface OwnOptions {
  /** The flag that named the folder (for messages): `--out` or `--resume`. */
  flag: string;
  /** Continuing the run in the folder (--resume): its files are the point. */
  resume: boolean;
  /** Start anew in a folder holding a run: its files are removed first. */
  force: boolean;
  note: (s: string) => void;
}

/**
 * Makes the folder, takes its lock, refuses (or with `force` clears) an existing run unless resuming, and removes
 * what a killed run left behind. Returns the lock, to be released when the command ends.
 */
export function ownRunFolder(dir: string, o: OwnOptions): RunLock {
  prepareOutputFolder(o.flag, shownPath(dir));
  const lock = RunLock.acquire(dir, o.note);
  try {
    if (!o.resume) {
      const existing = existingRunFiles(dir);
      if (existing.length > 0 && !o.force)
        throw new CliError(
          `${o.flag} ${shownPath(dir)}: already holds a run (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); continue it with --resume ${shownPath(dir)}, start it anew with --force (its checkpoints and metrics are deleted), or choose another folder`,
        );
      if (existing.length > 0) {
        clearRun(dir, existing);
        o.note(`note: --force: removed the earlier run's ${existing.join(', ')} from ${shownPath(dir)}`);
      }
    }
    const leftovers = [
      ...removeStaleTemps(dir),
      ...readdirSync(dir).filter((n) => LOCK_LEFTOVER.test(n) && !n.includes(lock.owner.token)),
    ];
    for (const n of leftovers) rmSync(join(dir, n), { force: true });
    if (leftovers.length > 0)
      o.note(
        `note: removed ${plural(leftovers.length, 'temporary file')} a killed run left in ${shownPath(dir)} (${leftovers.slice(0, 3).join(', ')}${leftovers.length > 3 ? ', …' : ''})`,
      );
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}

function clearRun(dir: string, files: readonly string[]): void {
  for (const f of files) rmSync(join(dir, f), { force: true });
  const evaluation = join(dir, 'evaluation');
  for (const f of EVALUATION_FILES) rmSync(join(evaluation, f), { force: true });
  try {
    rmdirSync(evaluation);
  } catch {}
}

// --------------------------------------------------------------------------------------------- metrics.jsonl

export interface MetricsFile {
  records: EpochRecord[];
  /** A last line without its newline that does not parse: an append cut short by a crash. */
  torn: boolean;
}

/** Reads metrics.jsonl: one JSON record a line; a bad line (other than a torn last one) is an error naming it. */
export function readMetrics(path: string): MetricsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], torn: false };
    throw new CliError(`${shownPath(path)}: cannot read (${(e as Error).message})`);
  }
  const lines = text.split('\n');
  const last = lines.length - 1;
  const records: EpochRecord[] = [];
  let torn = false;
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch (e) {
      if (i === last) {
        torn = true;
        return;
      }
      throw new CliError(
        `${shownPath(path)}:${i + 1}: not a JSON record (${(e as Error).message}); repair or delete that line, then resume again`,
      );
    }
    const rec = r as Partial<EpochRecord> | null;
    if (
      rec === null ||
      typeof rec !== 'object' ||
      !Number.isSafeInteger(rec.epoch) ||
      (rec.epoch as number) < 1 ||
      typeof rec.trainLoss !== 'number'
    )
      throw new CliError(
        `${shownPath(path)}:${i + 1}: not an epoch record (an object with epoch ≥ 1 and trainLoss); repair or delete that line, then resume again`,
      );
    records.push(rec as EpochRecord);
  });
  return { records, torn };
}

/**
 * Makes metrics.jsonl hold exactly one record for each epoch the checkpoint completed (1..`epochs`) and nothing
 * after: lines of epochs past the checkpoint (a run that went on after it, or was killed between the line and the
 * checkpoint) are dropped, as are repeats of an epoch (the later one kept) and a torn last line; a missing record
 * of the checkpoint's own epoch is restored from the copy the checkpoint carries. Rewritten atomically, only when
 * something changed. Returns the records.
 */
export function reconcileMetrics(
  path: string,
  epochs: number,
  stored: EpochRecord | null,
  note: (s: string) => void,
): EpochRecord[] {
  const { records, torn } = readMetrics(path);
  const byEpoch = new Map<number, EpochRecord>();
  for (const r of records) if (r.epoch <= epochs) byEpoch.set(r.epoch, r);
  const after = records.filter((r) => r.epoch > epochs).length;
  const repeats = records.length - after - byEpoch.size;
  const notes: string[] = [];
  if (torn) notes.push('an incomplete last line dropped');
  if (after > 0) notes.push(`${plural(after, 'line')} of epochs after the checkpoint's ${epochs} dropped`);
  if (repeats > 0) notes.push(`${plural(repeats, 'repeated epoch')} dropped (the later line kept)`);
  if (!byEpoch.has(epochs) && epochs > 0 && stored?.epoch === epochs) {
    byEpoch.set(epochs, stored);
    notes.push(`epoch ${epochs} restored from the checkpoint`);
  }
  const kept = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  const missing: number[] = [];
  for (let e = 1; e <= epochs; e++) if (!byEpoch.has(e)) missing.push(e);
  if (missing.length > 0)
    notes.push(
      `no record of ${missing.length === 1 ? `epoch ${missing[0]}` : `epochs ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`} (lost before this version; the report leaves ${missing.length === 1 ? 'it' : 'them'} out)`,
    );
  const changed =
    torn ||
    after > 0 ||
    repeats > 0 ||
    kept.length !== records.length ||
    !kept.every((r, i) => r === records[i]);
  if (changed) writeFileSafe(path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  if (notes.length > 0) note(`note: ${shownPath(path)}: ${notes.join('; ')}`);
  return kept;
}
