/**
 * DICOM series (Part-10 files, classic one-slice-a-file or enhanced multi-frame) into scanner volumes. dicom-parser
 * parses the files; here: grouping by SeriesInstanceUID, ordering slices along the normal of their orientation,
 * RescaleSlope/Intercept, the geometry checks, and errors that name the file and the tag. Pixel data is read only
 * in the uncompressed transfer syntaxes; a compressed one is refused by name.
 */
import dicomParser from 'dicom-parser';
import type { Affine } from './affine.js';
import { DataError } from './errors.js';
import { type DecodeLimits, resolveLimits } from './limits.js';
import type { DicomSeries, DicomSlice, ScanVolume } from './scan-volume.js';

const T = {
  transferSyntax: 'x00020010',
  sopClass: 'x00080016',
  sopInstance: 'x00080018',
  modality: 'x00080060',
  seriesDescription: 'x0008103e',
  studyUid: 'x0020000d',
  seriesUid: 'x0020000e',
  frameOfReference: 'x00200052',
  position: 'x00200032',
  orientation: 'x00200037',
  samplesPerPixel: 'x00280002',
  photometric: 'x00280004',
  frames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  pixelRepresentation: 'x00280103',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  sliceThickness: 'x00180050',
  spacingBetweenSlices: 'x00180088',
  pixelData: 'x7fe00010',
  shared: 'x52009229',
  perFrame: 'x52009230',
  planePosition: 'x00209113',
  planeOrientation: 'x00209116',
  pixelMeasures: 'x00289110',
  valueTransform: 'x00289145',
} as const;

/** DICOM's (gggg,eeee) spelling of a dicom-parser tag, with the keyword, for error messages. */
const NAMES: Record<string, string> = {
  [T.position]: 'ImagePositionPatient',
  [T.orientation]: 'ImageOrientationPatient',
  [T.rows]: 'Rows',
  [T.columns]: 'Columns',
  [T.pixelSpacing]: 'PixelSpacing',
  [T.bitsAllocated]: 'BitsAllocated',
  [T.pixelData]: 'PixelData',
  [T.seriesUid]: 'SeriesInstanceUID',
  [T.sopInstance]: 'SOPInstanceUID',
  [T.samplesPerPixel]: 'SamplesPerPixel',
  [T.photometric]: 'PhotometricInterpretation',
  [T.frames]: 'NumberOfFrames',
  [T.transferSyntax]: 'TransferSyntaxUID',
  [T.seriesDescription]: 'SeriesDescription',
};

export function tagName(tag: string): string {
  const g = tag.slice(1, 5).toUpperCase();
  const e = tag.slice(5, 9).toUpperCase();
  return `${NAMES[tag] ?? 'tag'} (${g},${e})`;
}

/** Transfer syntaxes whose pixel data is stored as is. */
const NATIVE: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
};

const COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

/** Patient and study attributes a derived object (a SEG) copies from its source. */
export const PATIENT_STUDY_TAGS: Record<string, string> = {
  PatientName: 'x00100010',
  PatientID: 'x00100020',
  PatientBirthDate: 'x00100030',
  PatientSex: 'x00100040',
  StudyDate: 'x00080020',
  StudyTime: 'x00080030',
  ReferringPhysicianName: 'x00080090',
  StudyID: 'x00200010',
  AccessionNumber: 'x00080050',
};

/** True when the bytes carry the Part-10 "DICM" marker after the 128-byte preamble. */
export function isDicomPart10(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/** One frame's geometry and value scaling. */
interface FrameInfo {
  position: [number, number, number];
  orientation: [number, number, number, number, number, number];
  pixelSpacing: [number, number];
  sliceThickness: number | null;
  slope: number;
  intercept: number;
}

/** A parsed file, before the series is assembled. */
export interface DicomInstance {
  file: string;
  dataSet: dicomParser.DataSet;
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesUid: string;
  seriesDescription: string;
  modality: string;
  rows: number;
  columns: number;
  frames: FrameInfo[];
}

function numbers(ds: dicomParser.DataSet, tag: string): number[] | null {
  const n = ds.numStringValues(tag);
  if (!n) return null;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ds.floatString(tag, i) ?? Number.NaN);
  return out;
}

/** The first item's data set of a sequence in `ds`, if any. */
function firstItem(ds: dicomParser.DataSet | undefined, tag: string): dicomParser.DataSet | undefined {
  return ds?.elements[tag]?.items?.[0]?.dataSet;
}

/**
 * The DataError for a file dicom-parser gave up on. It throws `{ exception, dataSet }` (the attributes read so far):
 * an attribute whose declared length runs past the end of the file is named with its tag, as a truncation.
 */
function parseFailure(e: unknown, bytes: Uint8Array, file: string): DataError {
  const thrown = e as { exception?: unknown; dataSet?: dicomParser.DataSet; message?: string };
  const why = String(thrown.exception ?? thrown.message ?? e);
  const elements = Object.values(thrown.dataSet?.elements ?? {});
  const cut = elements.find((el) => el.length > 0 && el.dataOffset + el.length > bytes.length);
  if (cut)
    return new DataError(
      file,
      `truncated: ${tagName(cut.tag)} declares ${cut.length} bytes from byte ${cut.dataOffset}, the file ends at byte ${bytes.length}`,
    );
  return new DataError(file, `unreadable DICOM file (${why})`);
}

/** Parses one Part-10 file's attributes (the pixel data stays where it is). */
export function parseDicomInstance(
  bytes: Uint8Array,
  file: string,
  limits?: Partial<DecodeLimits>,
): DicomInstance {
  const l = resolveLimits(limits);
  if (!isDicomPart10(bytes))
    throw new DataError(file, 'not a DICOM Part-10 file (no "DICM" after the preamble)');
  let ds: dicomParser.DataSet;
  let ts = '';
  try {
    const meta = dicomParser.readPart10Header(bytes);
    ts = meta.string(T.transferSyntax) ?? '';
    if (ts === '')
      throw new DataError(
        file,
        `no ${tagName(T.transferSyntax)} in the file meta information: not a readable DICOM Part-10 file`,
      );
    if (COMPRESSED[ts] || !NATIVE[ts]) {
      const name = COMPRESSED[ts] ?? 'an unknown transfer syntax';
      throw new DataError(
        file,
        `transfer syntax ${ts || '(none)'} (${name}) is not decoded here; store the series uncompressed (e.g. dcmdjpeg, gdcmconv --raw) — ${tagName(T.transferSyntax)}`,
      );
    }
    ds = dicomParser.parseDicom(bytes);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw parseFailure(e, bytes, file);
  }
  const need = (tag: string) => {
    const v = ds.string(tag);
    if (v === undefined || v === '') throw new DataError(file, `missing ${tagName(tag)}`);
    return v;
  };
  const rows = ds.uint16(T.rows);
  const columns = ds.uint16(T.columns);
  if (!rows || !columns) throw new DataError(file, `missing or zero ${tagName(rows ? T.columns : T.rows)}`);
  if (rows > l.maxSide || columns > l.maxSide || rows * columns > l.maxPixels)
    throw new DataError(
      file,
      `${tagName(T.rows)} and ${tagName(T.columns)} declare ${columns}×${rows} pixels, more than the decode limit (${l.maxSide} a side, ${l.maxPixels} pixels): refused before decoding`,
    );
  const nFrames = ds.intString(T.frames) ?? 1;
  if (!Number.isInteger(nFrames) || nFrames < 1 || nFrames > l.maxSide)
    throw new DataError(
      file,
      `${tagName(T.frames)} is ${ds.string(T.frames)}: not a frame count from 1 to ${l.maxSide}`,
    );
  const shared = firstItem(ds, T.shared);
  const perFrame = ds.elements[T.perFrame]?.items ?? [];
  if (nFrames > 1 && perFrame.length !== nFrames)
    throw new DataError(
      file,
      `${nFrames} frames but ${perFrame.length} items in PerFrameFunctionalGroupsSequence (5200,9230)`,
    );
  const frames: FrameInfo[] = [];
  for (let f = 0; f < nFrames; f++) {
    const own = perFrame[f]?.dataSet;
    // An attribute of a frame: its per-frame functional group, else the shared one, else the top level.
    const lookup = (seq: string, tag: string): number[] | null => {
      for (const src of [firstItem(own, seq), firstItem(shared, seq)]) {
        const v = src ? numbers(src, tag) : null;
        if (v) return v;
      }
      return numbers(ds, tag);
    };
    const where = nFrames > 1 ? ` of frame ${f + 1}` : '';
    const position = lookup(T.planePosition, T.position);
    if (!position || position.length !== 3 || !position.every(Number.isFinite))
      throw new DataError(file, `missing or bad ${tagName(T.position)}${where}`);
    const orientation = lookup(T.planeOrientation, T.orientation);
    if (!orientation || orientation.length !== 6 || !orientation.every(Number.isFinite))
      throw new DataError(file, `missing or bad ${tagName(T.orientation)}${where}`);
    const spacing = lookup(T.pixelMeasures, T.pixelSpacing);
    if (!spacing || spacing.length !== 2 || !spacing.every((s) => Number.isFinite(s) && s > 0))
      throw new DataError(file, `missing or bad ${tagName(T.pixelSpacing)}${where}`);
    const thickness = lookup(T.pixelMeasures, T.sliceThickness)?.[0] ?? null;
    const slope = lookup(T.valueTransform, T.rescaleSlope)?.[0] ?? 1;
    const intercept = lookup(T.valueTransform, T.rescaleIntercept)?.[0] ?? 0;
    if (!Number.isFinite(slope) || !Number.isFinite(intercept))
      throw new DataError(file, `bad RescaleSlope (0028,1053) or RescaleIntercept (0028,1052)${where}`);
    frames.push({
      position: position as FrameInfo['position'],
      orientation: orientation as FrameInfo['orientation'],
      pixelSpacing: spacing as [number, number],
      sliceThickness: thickness !== null && Number.isFinite(thickness) ? thickness : null,
      slope,
      intercept,
    });
  }
  return {
    file,
    dataSet: ds,
    transferSyntax: ts,
    sopClassUid: need(T.sopClass),
    sopInstanceUid: need(T.sopInstance),
    seriesUid: need(T.seriesUid),
    seriesDescription: ds.string(T.seriesDescription) ?? '',
    modality: ds.string(T.modality) ?? '',
    rows,
    columns,
    frames,
  };
}

/** Files of a folder's instances grouped by SeriesInstanceUID (in order of first appearance). */
export function groupBySeries(instances: readonly DicomInstance[]): DicomInstance[][] {
  const groups = new Map<string, DicomInstance[]>();
  for (const i of instances) {
    const g = groups.get(i.seriesUid);
    if (g) g.push(i);
    else groups.set(i.seriesUid, [i]);
  }
  return [...groups.values()];
}

const dot = (a: readonly number[], b: readonly number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: readonly number[], b: readonly number[]) => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/** The stored samples of one frame, as numbers, with the value transform applied, into `out` at `at`. */
function readFrame(inst: DicomInstance, f: number, out: Float32Array, at: number): void {
  const ds = inst.dataSet;
  const file = inst.file;
  const el = ds.elements[T.pixelData];
  if (!el) throw new DataError(file, `no ${tagName(T.pixelData)}: nothing to read`);
  if (el.encapsulatedPixelData)
    throw new DataError(
      file,
      `${tagName(T.pixelData)} is encapsulated (compressed); store the series uncompressed`,
    );
  const spp = ds.uint16(T.samplesPerPixel) ?? 1;
  if (spp !== 1)
    throw new DataError(file, `${tagName(T.samplesPerPixel)} is ${spp}: only greyscale images are read`);
  const photometric = (ds.string(T.photometric) ?? 'MONOCHROME2').trim();
  if (photometric !== 'MONOCHROME2')
    throw new DataError(file, `${tagName(T.photometric)} is ${photometric}: only MONOCHROME2 is read`);
  const bits = ds.uint16(T.bitsAllocated);
  if (bits !== 8 && bits !== 16 && bits !== 32)
    throw new DataError(file, `${tagName(T.bitsAllocated)} is ${bits ?? 'missing'}: 8, 16 or 32 expected`);
  const stored = Math.min(bits, ds.uint16(T.bitsStored) ?? bits);
  const signed = ds.uint16(T.pixelRepresentation) === 1;
  const n = inst.rows * inst.columns;
  const bytes = bits / 8;
  const frameBytes = n * bytes;
  const start = el.dataOffset + f * frameBytes;
  const holds = Math.min(el.length, ds.byteArray.length - el.dataOffset);
  if ((f + 1) * frameBytes > holds)
    throw new DataError(
      file,
      `${tagName(T.pixelData)} holds ${holds} bytes, ${inst.frames.length * frameBytes} expected for ${inst.frames.length} frame(s) of ${inst.columns}×${inst.rows} at ${bits} bits (truncated?)`,
    );
  const little = inst.transferSyntax !== '1.2.840.10008.1.2.2';
  const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + start, frameBytes);
  const { slope, intercept } = inst.frames[f];
  const mask = stored >= 32 ? 0xffffffff : 2 ** stored - 1;
  const signBit = 2 ** (stored - 1);
  for (let i = 0; i < n; i++) {
    let v =
      bits === 8 ? dv.getUint8(i) : bits === 16 ? dv.getUint16(2 * i, little) : dv.getUint32(4 * i, little);
    if (stored < bits) v &= mask;
    if (signed && v >= signBit) v -= 2 * signBit;
    out[at + i] = v * slope + intercept;
  }
}

/**
 * One series as a volume: slices (files, or frames of multi-frame files) ordered by ImagePositionPatient along the
 * normal of ImageOrientationPatient, which every slice must share, with the same size and pixel spacing and evenly
 * spaced positions. The affine is in RAS+ (DICOM's LPS with x and y negated), as nibabel and dcm2niix give it.
 */
export function assembleSeries(
  instances: readonly DicomInstance[],
  source: string,
  limits?: Partial<DecodeLimits>,
): ScanVolume {
  const l = resolveLimits(limits);
  if (instances.length === 0) throw new DataError(source, 'no DICOM images in the series');
  const seriesUids = new Set(instances.map((i) => i.seriesUid));
  if (seriesUids.size > 1)
    throw new DataError(
      source,
      `${seriesUids.size} series (SeriesInstanceUID (0020,000E)) where one was expected`,
    );
  const first = instances[0];
  const o = first.frames[0].orientation;
  const rowDir = o.slice(0, 3);
  const colDir = o.slice(3, 6);
  const normal = cross(rowDir, colDir);
  if (Math.abs(Math.hypot(...normal) - 1) > 1e-3)
    throw new DataError(
      first.file,
      `${tagName(T.orientation)} [${o.join(', ')}] is not two orthogonal unit vectors`,
    );
  const slices: { inst: DicomInstance; frame: number; d: number }[] = [];
  for (const inst of instances) {
    if (inst.rows !== first.rows || inst.columns !== first.columns)
      throw new DataError(
        inst.file,
        `${inst.columns}×${inst.rows} pixels (${tagName(T.rows)}, Columns), the series' first file ${first.file} has ${first.columns}×${first.rows}`,
      );
    inst.frames.forEach((f, k) => {
      if (f.orientation.some((v, i) => Math.abs(v - o[i]) > 1e-4))
        throw new DataError(
          inst.file,
          `${tagName(T.orientation)} [${f.orientation.join(', ')}] differs from ${first.file}'s [${o.join(', ')}]: more than one orientation in the series`,
        );
      const ps = first.frames[0].pixelSpacing;
      if (f.pixelSpacing.some((v, i) => Math.abs(v - ps[i]) > 1e-4 * ps[i]))
        throw new DataError(
          inst.file,
          `${tagName(T.pixelSpacing)} ${f.pixelSpacing.join('\\')} differs from ${first.file}'s ${ps.join('\\')}`,
        );
      slices.push({ inst, frame: k, d: dot(f.position, normal) });
    });
  }
  const nz = slices.length;
  const voxels = first.rows * first.columns * nz;
  if (voxels > l.maxScanVoxels || voxels * 4 > l.maxVolumeBytes)
    throw new DataError(
      source,
      `${nz} slices of ${first.columns}×${first.rows} (${voxels} voxels, ${voxels * 4} bytes as float32): more than the limit of ${l.maxScanVoxels} voxels or ${l.maxVolumeBytes} bytes`,
    );
  slices.sort((a, b) => a.d - b.d);
  const pos = (s: (typeof slices)[number]) => s.inst.frames[s.frame].position;
  const name = (s: (typeof slices)[number]) =>
    s.frame > 0 || s.inst.frames.length > 1 ? `${s.inst.file} frame ${s.frame + 1}` : s.inst.file;
  for (let k = 1; k < nz; k++)
    if (Math.abs(slices[k].d - slices[k - 1].d) < 1e-3)
      throw new DataError(
        name(slices[k]),
        `same ${tagName(T.position)} along the slice normal as ${name(slices[k - 1])}: two slices at one position (more than one acquisition, or echo, in the series?)`,
      );
  const [sr, sc] = first.frames[0].pixelSpacing;
  const p0 = pos(slices[0]);
  let step: number[];
  if (nz > 1) {
    const pl = pos(slices[nz - 1]);
    step = [0, 1, 2].map((a) => (pl[a] - p0[a]) / (nz - 1));
    const gap = Math.hypot(...step);
    for (let k = 1; k < nz - 1; k++) {
      const p = pos(slices[k]);
      const off = Math.hypot(...[0, 1, 2].map((a) => p[a] - (p0[a] + k * step[a])));
      if (off > Math.max(0.01, 0.05 * gap))
        throw new DataError(
          name(slices[k]),
          `${tagName(T.position)} is ${off.toFixed(3)} mm off the even spacing of ${gap.toFixed(3)} mm the series' first and last slices give: inconsistent slice spacing (missing slices?)`,
        );
    }
  } else {
    const f = first.frames[0];
    const ds = first.dataSet;
    const thick = ds.floatString(T.spacingBetweenSlices) ?? f.sliceThickness ?? 1;
    step = normal.map((v) => v * (thick > 0 ? thick : 1));
  }
  const lps: Affine = [
    [rowDir[0] * sc, colDir[0] * sr, step[0], p0[0]],
    [rowDir[1] * sc, colDir[1] * sr, step[1], p0[1]],
    [rowDir[2] * sc, colDir[2] * sr, step[2], p0[2]],
    [0, 0, 0, 1],
  ];
  const affine = lps.map((row, r) => (r < 2 ? row.map((v) => -v) : row));
  const plane = first.rows * first.columns;
  const data = new Float32Array(plane * nz);
  slices.forEach((s, k) => void readFrame(s.inst, s.frame, data, k * plane));
  const patientStudy: Record<string, string> = {};
  for (const [kw, tag] of Object.entries(PATIENT_STUDY_TAGS)) {
    const v = first.dataSet.string(tag);
    if (v !== undefined) patientStudy[kw] = v;
  }
  const dicomSlices: DicomSlice[] = slices.map((s) => ({
    file: s.inst.file,
    sopClassUid: s.inst.sopClassUid,
    sopInstanceUid: s.inst.sopInstanceUid,
    frame: s.inst.frames.length > 1 ? s.frame + 1 : null,
    position: pos(s),
  }));
  const series: DicomSeries = {
    seriesInstanceUid: first.seriesUid,
    seriesDescription: first.seriesDescription,
    studyInstanceUid: first.dataSet.string(T.studyUid) ?? '',
    frameOfReferenceUid: first.dataSet.string(T.frameOfReference) ?? '',
    orientation: o,
    pixelSpacing: [sr, sc],
    sliceThickness: first.frames[0].sliceThickness,
    patientStudy,
    slices: dicomSlices,
  };
  return {
    source,
    format: 'dicom',
    dims: [first.columns, first.rows, nz],
    frames: 1,
    data,
    dtype: `${first.dataSet.uint16(T.pixelRepresentation) === 1 ? 'int' : 'uint'}${first.dataSet.uint16(T.bitsAllocated)}`,
    affine,
    spacing: [sc, sr, Math.hypot(...step)],
    dicom: series,
  };
}
