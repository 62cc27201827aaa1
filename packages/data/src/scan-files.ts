/** Node side of the scanner formats: NIfTI files and DICOM folders from disk, and the three channels of a case. */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  type ChannelKey,
  type ChannelMap,
  type Channels,
  channelsFrom,
  channelsFromOne,
  matchesDescription,
} from './channels.js';
import {
  assembleSeries,
  type DicomInstance,
  groupBySeries,
  isDicomPart10,
  parseDicomInstance,
} from './dicom.js';
import { readDicomSeg } from './dicom-seg.js';
import { DataError } from './errors.js';
import type { DecodeLimits } from './limits.js';
import { readNifti } from './nifti.js';
import { readFileBytes } from './reader.js';
import { gridDifference } from './scan-to-model.js';
import type { ScanVolume } from './scan-volume.js';

/** Most files looked at under one DICOM folder, and how deep. */
const MAX_DICOM_FILES = 20000;
const MAX_DEPTH = 4;

/** Files that hold no image: DICOMDIR (Media Storage Directory) and segmentations. */
const NOT_IMAGES = new Set(['1.2.840.10008.1.3.10', '1.2.840.10008.5.1.4.1.1.66.4']);

/** True when a path names a NIfTI file by its extension. */
export const isNiftiPath = (p: string) => /\.nii(\.gz)?$/i.test(p);

/** A NIfTI file, or a single (enhanced multi-frame) DICOM file. */
export function readScanFile(path: string, limits?: Partial<DecodeLimits>): ScanVolume {
  const bytes = readFileBytes(path);
  if (isDicomPart10(bytes)) return assembleSeries([parseDicomInstance(bytes, path, limits)], path, limits);
  return readNifti(bytes, path, limits);
}

export interface DicomFolder {
  dir: string;
  /** Image series, each its instances. */
  series: DicomInstance[][];
  /** Files that are not DICOM Part-10 (or hold no image: DICOMDIR, SEG), skipped. */
  skipped: string[];
}

/** Every DICOM image file under `dir` (a few levels deep), parsed and grouped by SeriesInstanceUID. */
export function readDicomFolder(dir: string, limits?: Partial<DecodeLimits>): DicomFolder {
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
  const instances: DicomInstance[] = [];
  const skipped: string[] = [];
  for (const f of files) {
    const bytes = readFileBytes(f);
    if (!isDicomPart10(bytes)) {
      skipped.push(f);
      continue;
    }
    const inst = parseDicomInstance(bytes, f, limits);
    if (NOT_IMAGES.has(inst.sopClassUid) || inst.modality === 'SEG') skipped.push(f);
    else instances.push(inst);
  }
  if (instances.length === 0)
    throw new DataError(
      dir,
      `no DICOM images in the folder (${files.length} files, none a DICOM Part-10 image)`,
    );
  return { dir, series: groupBySeries(instances), skipped };
}

/** One line a series: description, UID, slice count (for messages that ask the user to choose). */
export function describeSeries(series: readonly DicomInstance[][]): string {
  return series
    .map((s) => {
      const frames = s.reduce((n, i) => n + i.frames.length, 0);
      return `"${s[0].seriesDescription || '(no SeriesDescription)'}" (${s[0].seriesUid}, ${frames} slices)`;
    })
    .join('; ');
}

/** The series whose description matches `pattern`: exactly one, else an error naming the folder and the choices. */
function pickSeries(folder: DicomFolder, key: ChannelKey, pattern: string): DicomInstance[] {
  const hits = folder.series.filter((s) => matchesDescription(s[0].seriesDescription, pattern));
  if (hits.length === 1) return hits[0];
  throw new DataError(
    folder.dir,
    `${hits.length === 0 ? 'no series' : `${hits.length} series`} with a SeriesDescription (0008,103E) matching "${pattern}" for ${key}; the folder holds ${describeSeries(folder.series)}`,
  );
}

export interface CaseInput {
  /** A NIfTI file (3-D: FLAIR; 4-D: pre, FLAIR, post), a DICOM file, or a DICOM folder. */
  input?: string | null;
  /** pre/flair/post → file or folder (without `input`), or SeriesDescription patterns (with a DICOM folder). */
  channels?: ChannelMap | null;
  limits?: Partial<DecodeLimits>;
}

export interface LoadedCase extends Channels {
  /** The case's name (from the input or the FLAIR file). */
  id: string;
  /** The FLAIR volume: its grid and header are the output's. */
  reference: ScanVolume;
}

/** The case name of a path: the file name without .nii/.nii.gz/.dcm, or the folder name. */
export function caseName(path: string): string {
  return basename(path).replace(/(\.nii(\.gz)?|\.dcm)$/i, '');
}

/** A path: a NIfTI or DICOM file, or a DICOM folder holding exactly one series. */
function readOneVolume(path: string, limits?: Partial<DecodeLimits>): ScanVolume {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch (e) {
    throw new DataError(path, `cannot read (${(e as Error).message})`);
  }
  if (!dir) return readScanFile(path, limits);
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
    let dir = false;
    try {
      dir = statSync(input).isDirectory();
    } catch (e) {
      throw new DataError(input, `cannot read (${(e as Error).message})`);
    }
    if (!dir) {
      if (channels)
        throw new RangeError(
          'a channel mapping goes with a DICOM folder as the input, or alone with file names',
        );
      const v = readScanFile(input, limits);
      const c = channelsFromOne(v);
      return { ...c, id: caseName(input), reference: v.frames === 1 ? v : c.volumes[1] };
    }
    const folder = readDicomFolder(input, limits);
    if (!channels) {
      if (folder.series.length > 1)
        throw new DataError(
          input,
          `${folder.series.length} DICOM series (SeriesInstanceUID (0020,000E)) and no channel mapping: give pre=PATTERN,flair=PATTERN,post=PATTERN (SeriesDescription, * for any text); the folder holds ${describeSeries(folder.series)}`,
        );
      const v = assembleSeries(folder.series[0], input, limits);
      return { ...channelsFromOne(v), id: caseName(input), reference: v };
    }
    const vols: Partial<Record<ChannelKey, ScanVolume>> = {};
    for (const [k, pattern] of Object.entries(channels) as [ChannelKey, string][])
      vols[k] = assembleSeries(pickSeries(folder, k, pattern), input, limits);
    const c = channelsFrom(vols);
    return { ...c, id: caseName(input), reference: c.volumes[1] };
  }
  if (!channels) throw new RangeError('give an input or a channel mapping');
  const vols: Partial<Record<ChannelKey, ScanVolume>> = {};
  for (const [k, path] of Object.entries(channels) as [ChannelKey, string][])
    vols[k] = readOneVolume(path, limits);
  const c = channelsFrom(vols);
  const flairPath = channels.flair ?? '';
  return { ...c, id: caseName(flairPath), reference: c.volumes[1] };
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
