/**
 * Where `predict` writes, and how: never into the input tree (real paths, both ways round), never over an existing
 * file unless `--force`, never outside `--out` (folder and file names made from input file names are made safe),
 * and one patient at a time all or nothing (written into a temporary folder beside it, then moved into place).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isWithin, realPathOf, type SliceFolder } from '@mriseg/data';
import { CliError, UsageError } from '../errors.js';
import { removeEntries, writeError } from './files.js';
import { shownPath } from './paths.js';
import { plural } from './words.js';

/** What a patient's outputs are called, and where they go. */
export interface PatientOutput {
  id: string;
  /** The id as a safe folder and file-name prefix. */
  name: string;
  dir: string;
  /** File names (in `dir`), three a slice. */
  files: string[];
}

/** The longest name prefix kept: file names get `_<n>_overlay.png` added and file systems allow 255 bytes. */
const MAX_NAME = 200;

/**
 * A patient id as one safe path component: anything but letters, digits, `.`, `_` and `-` becomes `_`, a leading
 * dot too (no `..`, no hidden folder), and it is cut to MAX_NAME characters.
 */
export function safeName(id: string): string {
  const s = id
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\./, '_')
    .slice(0, MAX_NAME);
  return s === '' ? '_' : s;
}

/** The files of one slice, named as the Kaggle masks are. */
export const sliceOutputs = (name: string, n: number) => [
  `${name}_${n}_mask.png`,
  `${name}_${n}_mask.tif`,
  `${name}_${n}_overlay.png`,
];

/**
 * Refuses an `--out` that overlaps the input: inside `--input` or one of its patient folders (which may be links
 * to elsewhere), equal to one, or holding one — compared as real paths, so a symbolic link does not hide it.
 */
export function checkOutsideInput(
  out: string,
  input: string,
  patients: readonly SliceFolder[],
  command: string,
) {
  const outReal = realPathOf(out);
  const sources = [input, ...patients.map((p) => p.dir)];
  for (const src of sources) {
    const real = realPathOf(src);
    const flag = src === input ? '--input' : 'the patient folder';
    const via = (path: string, r: string) => (r === resolve(path) ? '' : ` (it resolves to ${r})`);
    if (isWithin(outReal, real))
      throw new UsageError(
        `--out ${out}${via(out, outReal)} is inside ${flag} ${src}${via(src, real)}: predictions are never written into the input tree (they would sit beside, or replace, its slices and masks); choose an --out outside it`,
        command,
      );
    if (isWithin(real, outReal))
      throw new UsageError(
        `${flag} ${src}${via(src, real)} lies inside --out ${out}${via(out, outReal)}: the masks would be written among the inputs; choose an --out outside the input tree`,
        command,
      );
  }
}

/** Each patient's output folder and files; two patients whose safe names collide are an error. */
export function planOutputs(out: string, patients: readonly SliceFolder[], log: (s: string) => void) {
  const seen = new Map<string, string>();
  return patients.map((p): PatientOutput => {
    const name = safeName(p.id);
    const other = seen.get(name);
    if (other !== undefined)
      throw new CliError(
        `${p.dir}: patient "${p.id}" would be written as ${name}, as "${other}" is; rename one of them`,
      );
    seen.set(name, p.id);
    if (name !== p.id) log(`note: patient "${p.id}" is written as ${name} (a safe file name)`);
    const dir = join(out, name);
    // Belt and braces: nothing below can leave --out.
    if (!isWithin(resolve(dir), resolve(out)) || resolve(dir) === resolve(out))
      throw new CliError(`${p.dir}: patient "${p.id}" gives no folder name inside --out`);
    return { id: p.id, name, dir, files: p.slices.flatMap((s) => sliceOutputs(name, s.number)) };
  });
}

/** Refuses to overwrite existing files without --force, before anything is written: how many, and the first. */
export function refuseOverwrites(paths: readonly string[], force: boolean, command: string): void {
  if (force) return;
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length === 0) return;
  throw new CliError(
    `${shownPath(existing[0])}${existing.length > 1 ? ` and ${plural(existing.length - 1, 'other file')}` : ''} would be overwritten: ${command} never replaces existing files unless given --force; choose another --out, or add --force`,
  );
}

const PARTIAL = /^\..+\.partial-(\d+)-[0-9a-f]{8}$/;

function runs(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Removes the temporary folders of a killed predict (their process no longer runs) from `out`. */
export function removeStalePartials(out: string): string[] {
  return removeEntries(out, (n) => {
    const m = PARTIAL.exec(n);
    return m !== null && !runs(Number(m[1]));
  });
}

/**
 * Writes one patient's files all or nothing: into a temporary folder beside the target, then moved into place
 * (the whole folder in one rename when the target is new). Synchronous, so a signal cannot stop it half-way; a
 * failure (a full disk) removes the temporary folder and names the file it was writing.
 */
export function writePatientOutputs(o: PatientOutput, out: string, contents: Map<string, Uint8Array>): void {
  const tmp = join(out, `.${o.name}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  let at = tmp;
  try {
    mkdirSync(tmp);
    for (const [name, bytes] of contents) {
      at = join(o.dir, name);
      writeFileSync(join(tmp, name), bytes);
    }
    at = o.dir;
    if (!existsSync(o.dir)) renameSync(tmp, o.dir);
    else {
      for (const name of contents.keys()) {
        at = join(o.dir, name);
        renameSync(join(tmp, name), at);
      }
      rmdirSync(tmp);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new CliError(`${writeError(at, e).message}; nothing of patient ${o.id} was kept`);
  }
}
