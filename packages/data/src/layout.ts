import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { type GroupOptions, groupSlices, type ImageFormat } from './slices.js';

export type { ImageFormat } from './slices.js';

export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface SliceFiles {
  /** The slice number from the file name (1-based in the dataset). */
  number: number;
  image: FileStamp;
  mask: FileStamp;
}

export interface PatientFiles {
  id: string;
  dir: string;
  format: ImageFormat;
  /** In numeric slice order, without gaps (unless `gaps: 'allow'`). */
  slices: SliceFiles[];
}

/** A folder of one patient's slice images whose masks may be absent (what `predict` reads). */
export interface SliceFolder {
  id: string;
  dir: string;
  format: ImageFormat;
  slices: { number: number; image: FileStamp; mask: FileStamp | null }[];
  hasMasks: boolean;
}

export interface ScanOptions {
  /** Only these patient IDs (all must exist). */
  patients?: readonly string[];
  /** Gaps in a patient's slice numbers: 'fail' (default) or 'allow'. */
  gaps?: 'fail' | 'allow';
}

/**
 * Lists the Kaggle layout: one folder a patient (`TCGA_<inst>_<id>_<date>`), holding `<folder>_<n>.tif` and
 * `<folder>_<n>_mask.tif` (or `.png`). Loose files at the top (README.md, data.csv) and hidden entries are
 * ignored; a symbolic link to a patient folder is followed (the data are only read), a broken one is an error;
 * anything else that is wrong is an error naming the file (see slices.ts for the naming rules). Only reads.
 */
export function scanDataset(root: string, options: ScanOptions = {}): PatientFiles[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (e) {
    throw new DataError(root, `cannot read the data folder (${(e as Error).message})`);
  }
  let dirs = names.filter((name) => !name.startsWith('.') && isFolder(join(root, name))).sort();
  if (options.patients) {
    const have = new Set(dirs);
    for (const id of options.patients) {
      if (!have.has(id)) throw new DataError(join(root, id), 'patient folder not found');
    }
    const want = new Set(options.patients);
    dirs = dirs.filter((d) => want.has(d));
  }
  if (dirs.length === 0) throw new DataError(root, 'no patient folders found');
  return dirs.map((id) => scanPatient(join(root, id), id, options));
}

/** A directory, following symbolic links; a link that leads nowhere is an error rather than a skipped patient. */
function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    throw new DataError(
      path,
      `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; a broken symbolic link?)`,
    );
  }
}

/** Lists one patient folder; `id` is the folder name and every file's prefix. Every image needs its mask. */
export function scanPatient(dir: string, id: string, options: Pick<ScanOptions, 'gaps'> = {}): PatientFiles {
  const f = scanSliceFolder(dir, { id, masks: 'required', gaps: options.gaps });
  return { id: f.id, dir: f.dir, format: f.format, slices: f.slices.map((s) => ({ ...s, mask: s.mask! })) };
}

/**
 * Lists one folder of a patient's slice images, with masks for all of them or for none. Without `id` the files
 * must share one prefix, which becomes the id (the folder may be named otherwise). Other files are errors.
 */
export function scanSliceFolder(
  dir: string,
  options: Partial<Pick<GroupOptions, 'id' | 'masks' | 'gaps'>> = {},
): SliceFolder {
  let names: string[];
  try {
    // Sorted: the same folder gives the same volume and the same first error on every file system.
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new DataError(dir, `cannot read the patient folder (${(e as Error).message})`);
  }
  if (names.every((n) => n.startsWith('.'))) throw new DataError(dir, 'empty patient folder');
  const g = groupSlices(
    names,
    (n) => n,
    (n) => join(dir, n),
    { set: dir, id: options.id, masks: options.masks ?? 'optional', others: 'fail', gaps: options.gaps },
  );
  return {
    id: g.id,
    dir,
    format: g.format,
    hasMasks: g.hasMasks,
    slices: g.slices.map((s) => ({
      number: s.number,
      image: stamp(join(dir, s.image)),
      mask: s.mask === null ? null : stamp(join(dir, s.mask)),
    })),
  };
}

function stamp(path: string): FileStamp {
  let s: ReturnType<typeof statSync>;
  try {
    s = statSync(path);
  } catch (e) {
    throw new DataError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!s.isFile()) throw new DataError(path, 'not a regular file');
  return { path, size: s.size, mtimeMs: s.mtimeMs };
}
