import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.js';

export type ImageFormat = 'tif' | 'png';

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
  /** In numeric slice order. */
  slices: SliceFiles[];
}

export interface ScanOptions {
  /** Only these patient IDs (all must exist). */
  patients?: readonly string[];
}

const SLICE_NAME = /^(.+)_(\d+)(_mask)?\.(tif|tiff|png)$/i;

/**
 * Lists the Kaggle layout: one folder a patient (`TCGA_<inst>_<id>_<date>`), holding `<folder>_<n>.tif` and
 * `<folder>_<n>_mask.tif` (or `.png`). Loose files at the top (README.md, data.csv) and hidden entries are
 * ignored; anything else that is wrong is an error naming the file. Only reads the folder.
 */
export function scanDataset(root: string, options: ScanOptions = {}): PatientFiles[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (e) {
    throw new DataError(root, `cannot read the data folder (${(e as Error).message})`);
  }
  let dirs = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (options.patients) {
    const have = new Set(dirs);
    for (const id of options.patients) {
      if (!have.has(id)) throw new DataError(join(root, id), 'patient folder not found');
    }
    const want = new Set(options.patients);
    dirs = dirs.filter((d) => want.has(d));
  }
  if (dirs.length === 0) throw new DataError(root, 'no patient folders found');
  return dirs.map((id) => scanPatient(join(root, id), id));
}

/** Lists one patient folder; `id` is the folder name. */
export function scanPatient(dir: string, id: string): PatientFiles {
  const names = readdirSync(dir).filter((n) => !n.startsWith('.'));
  if (names.length === 0) throw new DataError(dir, 'empty patient folder');
  const images = new Map<number, string>();
  const masks = new Map<number, string>();
  let format: ImageFormat | null = null;
  for (const name of names) {
    const path = join(dir, name);
    const m = SLICE_NAME.exec(name);
    if (!m) {
      throw new DataError(path, `file name does not parse as <patient>_<slice>[_mask].tif|png`);
    }
    const [, prefix, num, isMask, ext] = m;
    if (prefix !== id)
      throw new DataError(path, `file name prefix "${prefix}" is not the patient folder "${id}"`);
    const fmt: ImageFormat = ext.toLowerCase() === 'png' ? 'png' : 'tif';
    if (format !== null && fmt !== format) {
      throw new DataError(path, `mixes ${fmt} with ${format} files in one patient folder`);
    }
    format = fmt;
    const n = Number.parseInt(num, 10);
    const target = isMask ? masks : images;
    const other = target.get(n);
    if (other !== undefined) throw new DataError(path, `slice ${n} appears twice (also ${other})`);
    target.set(n, path);
  }
  for (const [n, path] of images) {
    if (!masks.has(n)) throw new DataError(path, `image without mask (no ${id}_${n}_mask.${format})`);
  }
  for (const [n, path] of masks) {
    if (!images.has(n)) throw new DataError(path, `mask without image (no ${id}_${n}.${format})`);
  }
  const numbers = [...images.keys()].sort((a, b) => a - b);
  return {
    id,
    dir,
    format: format!,
    slices: numbers.map((n) => ({ number: n, image: stamp(images.get(n)!), mask: stamp(masks.get(n)!) })),
  };
}

function stamp(path: string): FileStamp {
  const s = statSync(path);
  if (!s.isFile()) throw new DataError(path, 'not a regular file');
  return { path, size: s.size, mtimeMs: s.mtimeMs };
}
