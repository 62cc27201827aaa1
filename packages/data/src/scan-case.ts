/**
 * A case — the models' three channels and the grid the output goes back to — from scanner files already in memory.
 * The part of case loading that the command line (files and folders on disk: scan-files.ts) and the viewer (files
 * picked in a browser, decoded in its worker) share, so both read, group, map and refuse inputs alike. Browser-safe.
 */
import {
  type ChannelKey,
  type ChannelMap,
  type Channels,
  channelsFrom,
  channelsFromOne,
  guessChannelMap,
  matchesDescription,
} from './channels.js';
import {
  assembleSeries,
  type DicomInstance,
  groupBySeries,
  isDicomPart10,
  parseDicomInstance,
} from './dicom.js';
import { DataError } from './errors.js';
import type { DecodeLimits } from './limits.js';
import { readNifti } from './nifti.js';
import type { ScanVolume } from './scan-volume.js';

/** A file's name (or path) and its bytes. */
export interface ScanFileBytes {
  name: string;
  bytes: Uint8Array;
}

export interface LoadedCase extends Channels {
  /** The case's name (from the input or the FLAIR file). */
  id: string;
  /** The FLAIR volume: its grid and header are the output's. */
  reference: ScanVolume;
}

export interface DicomFolder {
  dir: string;
  /** Image series, each its instances. */
  series: DicomInstance[][];
  /** Files that are not DICOM Part-10 (or hold no image: DICOMDIR, SEG), skipped. */
  skipped: string[];
}

/** Files that hold no image: DICOMDIR (Media Storage Directory) and segmentations. */
const NOT_IMAGES = new Set(['1.2.840.10008.1.3.10', '1.2.840.10008.5.1.4.1.1.66.4']);

/** True when a path names a NIfTI file by its extension. */
export const isNiftiPath = (p: string) => /\.nii(\.gz)?$/i.test(p);

/** The last component of a path (either separator). */
const baseName = (p: string) => p.split(/[\\/]/).filter(Boolean).pop() ?? p;

/** The case name of a path: the file name without .nii/.nii.gz/.dcm, or the folder name. */
export function caseName(path: string): string {
  return baseName(path).replace(/(\.nii(\.gz)?|\.dcm)$/i, '');
}

/** A NIfTI file, or a single (enhanced multi-frame) DICOM file, from its bytes. */
export function scanFromBytes(bytes: Uint8Array, file: string, limits?: Partial<DecodeLimits>): ScanVolume {
  if (isDicomPart10(bytes)) return assembleSeries([parseDicomInstance(bytes, file, limits)], file, limits);
  return readNifti(bytes, file, limits);
}

/**
 * The DICOM images among `files` (read one at a time: an iterable may read each file as it is asked for), parsed and
 * grouped by SeriesInstanceUID. `dir` names the folder in errors; a folder without any image is one.
 */
export function dicomFolderFrom(
  dir: string,
  files: Iterable<ScanFileBytes>,
  limits?: Partial<DecodeLimits>,
): DicomFolder {
  const instances: DicomInstance[] = [];
  const skipped: string[] = [];
  let count = 0;
  for (const f of files) {
    count++;
    if (!isDicomPart10(f.bytes)) {
      skipped.push(f.name);
      continue;
    }
    const inst = parseDicomInstance(f.bytes, f.name, limits);
    if (NOT_IMAGES.has(inst.sopClassUid) || inst.modality === 'SEG') skipped.push(f.name);
    else instances.push(inst);
  }
  if (instances.length === 0)
    throw new DataError(dir, `no DICOM images in the folder (${count} files, none a DICOM Part-10 image)`);
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

/** A case from one volume: a 4-D file of pre, FLAIR and post frames, or one sequence taken as FLAIR. */
export function caseFromVolume(v: ScanVolume, id: string): LoadedCase {
  const c = channelsFromOne(v);
  return { ...c, id, reference: v.frames === 1 ? v : c.volumes[1] };
}

/** A case from volumes mapped to channels (FLAIR required; the others default to it). */
export function caseFromChannels(vols: Partial<Record<ChannelKey, ScanVolume>>, id: string): LoadedCase {
  const c = channelsFrom(vols);
  return { ...c, id, reference: c.volumes[1] };
}

/**
 * A case from a DICOM folder: its only series, or one series a channel chosen by SeriesDescription patterns. Several
 * series without patterns is an error that lists them.
 */
export function caseFromSeries(
  folder: DicomFolder,
  channels: ChannelMap | null | undefined,
  id: string,
  limits?: Partial<DecodeLimits>,
): LoadedCase {
  if (!channels) {
    if (folder.series.length > 1)
      throw new DataError(
        folder.dir,
        `${folder.series.length} DICOM series (SeriesInstanceUID (0020,000E)) and no channel mapping: give pre=PATTERN,flair=PATTERN,post=PATTERN (SeriesDescription, * for any text); the folder holds ${describeSeries(folder.series)}`,
      );
    return caseFromVolume(assembleSeries(folder.series[0], folder.dir, limits), id);
  }
  const vols: Partial<Record<ChannelKey, ScanVolume>> = {};
  for (const [k, pattern] of Object.entries(channels) as [ChannelKey, string][])
    vols[k] = assembleSeries(pickSeries(folder, k, pattern), folder.dir, limits);
  return caseFromChannels(vols, id);
}

/** The folder the files' relative paths share (e.g. "case/" of "case/IM1", "case/IM2"), or null. */
function commonFolder(names: readonly string[]): string | null {
  const dirs = names.map((n) => n.split('/').slice(0, -1));
  if (dirs.some((d) => d.length === 0)) return null;
  const first = dirs[0];
  let n = 0;
  while (n < first.length && dirs.every((d) => d[n] === first[n])) n++;
  return n > 0 ? first.slice(0, n).join('/') : null;
}

/**
 * A case from picked files (the viewer): a DICOM folder's files (one series, or series chosen by SeriesDescription
 * patterns in `channels`), one NIfTI file (3-D FLAIR or 4-D pre, FLAIR, post), or several NIfTI files mapped by
 * `channels` (pre=FILE,flair=FILE,post=FILE; names or relative paths) or, without a mapping, by the sequence names
 * in the file names. Other files (notes, hidden files) are skipped. `selection` names the pick in errors.
 */
export function caseFromFiles(
  files: readonly ScanFileBytes[],
  channels: ChannelMap | null,
  limits?: Partial<DecodeLimits>,
  selection = 'selection',
): LoadedCase {
  const visible = files.filter((f) => !baseName(f.name).startsWith('.'));
  const dicom = visible.filter((f) => isDicomPart10(f.bytes));
  const nifti = visible.filter((f) => !isDicomPart10(f.bytes) && isNiftiPath(f.name));
  const list = (fs: readonly ScanFileBytes[]) => fs.map((f) => f.name).join(', ');
  if (dicom.length > 0 && nifti.length > 0)
    throw new DataError(
      selection,
      `both NIfTI files (${list(nifti)}) and DICOM files: open one case, in one format, at a time`,
    );
  if (dicom.length > 0) {
    const common = commonFolder(dicom.map((f) => f.name));
    const folder = dicomFolderFrom(common ?? selection, dicom, limits);
    // Files picked one by one have no folder to name the case after: the PatientID does.
    const patientId = folder.series[0][0].dataSet.string('x00100020')?.replace(/[^\w.-]+/g, '_');
    return caseFromSeries(folder, channels, common ? caseName(common) : patientId || 'dicom', limits);
  }
  if (nifti.length === 0)
    throw new DataError(
      selection,
      `no NIfTI (.nii, .nii.gz) or DICOM Part-10 files among ${files.length} file(s)`,
    );
  if (nifti.length === 1 && !channels)
    return caseFromVolume(readNifti(nifti[0].bytes, nifti[0].name, limits), caseName(nifti[0].name));
  const map = channels ?? guessChannelMap(nifti.map((f) => caseName(f.name)));
  if (!map)
    throw new DataError(
      selection,
      `${nifti.length} NIfTI files (${list(nifti)}) and no channel mapping: give pre=FILE,flair=FILE,post=FILE`,
    );
  const vols: Partial<Record<ChannelKey, ScanVolume>> = {};
  for (const [k, name] of Object.entries(map) as [ChannelKey, string][]) {
    const f = nifti.find((x) => x.name === name || baseName(x.name) === name || caseName(x.name) === name);
    if (!f) throw new DataError(selection, `${k}=${name}: no such NIfTI file among ${list(nifti)}`);
    vols[k] = readNifti(f.bytes, f.name, limits);
  }
  return caseFromChannels(vols, caseName(vols.flair?.source ?? selection));
}
