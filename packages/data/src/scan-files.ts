/**
 * Node side of the scanner formats: NIfTI files and DICOM folders from disk, and the three channels of a case (the
 * grouping, mapping and refusing is scan-case.ts's, shared with the viewer).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelKey, ChannelMap } from './channels.js';
import { assembleSeries, isDicomPart10 } from './dicom.js';
import { readDicomSeg } from './dicom-seg.js';
import { DataError } from './errors.js';
import type { DecodeLimits } from './limits.js';
import { readNifti } from './nifti.js';
import { readFileBytes } from './reader.js';
import {
  caseFromChannels,
  caseFromSeries,
  caseFromVolume,
  caseName,
  type DicomFolder,
  describeSeries,
  dicomFolderFrom,
  type LoadedCase,
  type ScanFileBytes,
  scanFromBytes,
} from './scan-case.js';
import { gridDifference } from './scan-to-model.js';
import type { ScanVolume } from './scan-volume.js';

/** Most files looked at under one DICOM folder, and how deep. */
const MAX_DICOM_FILES = 20000;
const MAX_DEPTH = 4;

/** A NIfTI file, or a single (enhanced multi-frame) DICOM file. */
export function readScanFile(path: string, limits?: Partial<DecodeLimits>): ScanVolume {
  return scanFromBytes(readFileBytes(path), path, limits);
}

/** The files under `dir` (a few levels deep, hidden ones skipped), in name order. */
function listFolder(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch (e) {
      throw new DataError(d, `cannot list (${(e as Error).message})`);
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) {
        if (depth < MAX_DEPTH) walk(p, depth + 1);
      } else if (st.isFile()) {
        files.push(p);
        if (files.length > MAX_DICOM_FILES)
          throw new DataError(dir, `more than ${MAX_DICOM_FILES} files: give the folder of one study`);
      }
    }
  };
  walk(dir, 0);
  return files;
}

/** Every DICOM image file under `dir` (a few levels deep), parsed and grouped by SeriesInstanceUID. */
export function readDicomFolder(dir: string, limits?: Partial<DecodeLimits>): DicomFolder {
  const files = listFolder(dir);
  // Read as they are parsed: the data sets keep their own bytes, the other files are dropped at once.
  const lazily = function* (): Iterable<ScanFileBytes> {
    for (const name of files) yield { name, bytes: readFileBytes(name) };
  };
  return dicomFolderFrom(dir, lazily(), limits);
}

export interface CaseInput {
  /** A NIfTI file (3-D: FLAIR; 4-D: pre, FLAIR, post), a DICOM file, or a DICOM folder. */
  input?: string | null;
  /** pre/flair/post → file or folder (without `input`), or SeriesDescription patterns (with a DICOM folder). */
  channels?: ChannelMap | null;
  limits?: Partial<DecodeLimits>;
}

const isFolder = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    throw new DataError(path, `cannot read (${(e as Error).message})`);
  }
};

/** A path: a NIfTI or DICOM file, or a DICOM folder holding exactly one series. */
function readOneVolume(path: string, limits?: Partial<DecodeLimits>): ScanVolume {
  if (!isFolder(path)) return readScanFile(path, limits);
  const folder = readDicomFolder(path, limits);
  if (folder.series.length > 1)
    throw new DataError(
      path,
      `${folder.series.length} DICOM series (SeriesInstanceUID (0020,000E)) where one was expected: ${describeSeries(folder.series)}`,
    );
  return assembleSeries(folder.series[0], path, limits);
}

/**
 * Reads the three channels of one case: `input` alone (a 4-D NIfTI, a FLAIR-only NIfTI or a DICOM folder of one
 * series), `input` a DICOM folder with SeriesDescription patterns in `channels`, or `channels` naming files or
 * folders. A DICOM folder of several series without patterns is an error listing them.
 */
export function loadCase(o: CaseInput): LoadedCase {
  const { input, channels, limits } = o;
  if (input) {
    if (isFolder(input))
      return caseFromSeries(readDicomFolder(input, limits), channels, caseName(input), limits);
    if (channels)
      throw new RangeError(
        'a channel mapping goes with a DICOM folder as the input, or alone with file names',
      );
    return caseFromVolume(readScanFile(input, limits), caseName(input));
  }
  if (!channels) throw new RangeError('give an input or a channel mapping');
  const vols: Partial<Record<ChannelKey, ScanVolume>> = {};
  for (const [k, path] of Object.entries(channels) as [ChannelKey, string][])
    vols[k] = readOneVolume(path, limits);
  return caseFromChannels(vols, caseName(channels.flair ?? ''));
}

/**
 * Ground truth on a case's grid: a NIfTI mask (any value other than 0 is tumour) or a DICOM SEG (read onto the
 * reference grid, all segments merged). Returns 0/1 values on the reference grid; a mask on another grid is an
 * error saying what differs.
 */
export function readTruth(path: string, reference: ScanVolume, limits?: Partial<DecodeLimits>): Uint8Array {
  const bytes = readFileBytes(path);
  if (isDicomPart10(bytes)) return readDicomSeg(bytes, path, reference).mask;
  const v = readNifti(bytes, path, limits);
  if (v.frames !== 1)
    throw new DataError(path, `a 4-D mask (${v.frames} frames); one 3-D label volume expected`);
  const diff = gridDifference(v, reference);
  if (diff) throw new DataError(path, `not on the grid of the images: ${diff}`);
  const out = new Uint8Array(v.data.length);
  for (let i = 0; i < out.length; i++) out[i] = v.data[i] !== 0 && !Number.isNaN(v.data[i]) ? 1 : 0;
  return out;
}
