/**
 * A patient from files picked in the browser (or fetched): names checked with the data package's rules
 * (`groupSlices`: one patient, one format, exact slice numbers without gaps, masks for all images or none), every
 * slice decoded and validated by the data package's decoders under its decode limits, masks read with its rule for
 * 0/255 and 0/1 encodings. Errors are DataErrors naming the file. Pure: runs in the decode worker and in tests.
 */
import {
  binariseMask,
  checkRasterShape,
  checkVolumeBytes,
  DataError,
  type DecodeLimits,
  decodePng,
  decodeTiff,
  groupSlices,
  MaskValueTally,
  parseSliceName,
  type Raster,
  type RawPatient,
  resolveLimits,
  type ScanPatient,
} from '@mriseg/data/browser';
import type { ScanInfo } from './scan.js';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface LoadedPatient {
  /** Kaggle-layout slices (8-bit RGB), or a scanner case in the models' frame (float on the 0–255 scale). */
  raw: RawPatient | ScanPatient;
  hasMask: boolean;
  /** Notes on how the data were read (masks stored as 0/1, a sequence used for all channels), for the page. */
  warnings: string[];
  /** A NIfTI/DICOM case: the source grid and how the models' frame sits in it. */
  scan?: ScanInfo;
}

/** Whether a file name looks like a slice or mask (others, e.g. README.md or data.csv, are skipped). */
export function isSliceName(name: string): boolean {
  return parseSliceName(name) !== null;
}

const FIRST = "the patient's first slice";

function decode(f: NamedBytes, limits: DecodeLimits): Raster {
  return /\.png$/i.test(f.name) ? decodePng(f.bytes, f.name, limits) : decodeTiff(f.bytes, f.name, limits);
}

export function patientFromFiles(
  files: readonly NamedBytes[],
  limitOverrides: Partial<DecodeLimits> = {},
): LoadedPatient {
  const limits = resolveLimits(limitOverrides);
  if (!files.some((f) => !f.name.startsWith('.') && isSliceName(f.name))) {
    const what =
      files.length === 0 ? 'no files' : `${files.length} file(s), none named <patient>_<n>.tif|png`;
    throw new DataError('selection', `no slices found (${what})`);
  }
  const group = groupSlices(
    files,
    (f) => f.name,
    (f) => f.name,
    { set: 'selection', masks: 'optional', others: 'skip' },
  );
  const first = decode(group.slices[0].image, limits);
  const { width, height } = first;
  const depth = group.slices.length;
  checkVolumeBytes('selection', depth, height, width, limits);
  const plane = width * height;
  const image = new Uint8Array(depth * plane * 3);
  const mask = new Uint8Array(depth * plane);
  const tally = new MaskValueTally();
  group.slices.forEach((s, z) => {
    const img = z === 0 ? first : decode(s.image, limits);
    checkRasterShape(img, s.image.name, height, width, 3, FIRST);
    image.set(img.data, z * plane * 3);
    if (s.mask) {
      const m = decode(s.mask, limits);
      checkRasterShape(m, s.mask.name, height, width, 1, FIRST);
      mask.set(m.data, z * plane);
      tally.add(s.mask.name, m.data);
    }
  });
  const decision = tally.decide(group.id);
  binariseMask(mask, decision.threshold);
  return {
    raw: { id: group.id, sliceNumbers: group.slices.map((s) => s.number), depth, height, width, image, mask },
    hasMask: group.hasMasks,
    warnings: decision.warning ? [decision.warning] : [],
  };
}
