/**
 * DICOM Segmentation objects (SEG, binary): written for a mask on the grid of a DICOM series, referencing that
 * series and its instances (so OHIF, 3D Slicer, pydicom/highdicom place it), and read back onto a volume's grid
 * for evaluation.
 */
import dicomParser from 'dicom-parser';
import { isDicomPart10, tagName } from './dicom.js';
import { type DicomAttr, type DicomItem, encodePart10, newUid } from './dicom-write.js';
import { DataError } from './errors.js';
import type { ScanVolume } from './scan-volume.js';

export const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';

export interface SegOptions {
  /** SegmentLabel of the one segment. Default "Tumour". */
  label?: string;
  /** SeriesDescription of the SEG. Default "mriseg segmentation". */
  seriesDescription?: string;
  /** SegmentAlgorithmName. Default "mriseg". */
  algorithmName?: string;
  /** SoftwareVersions. */
  softwareVersion?: string;
  /** Fixed UIDs (tests); new ones by default. */
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /** ContentDate/Time; now by default. */
  date?: Date;
}

const code = (value: string, scheme: string, meaning: string): DicomItem => [
  { tag: 0x00080100, vr: 'SH', value },
  { tag: 0x00080102, vr: 'SH', value: scheme },
  { tag: 0x00080104, vr: 'LO', value: meaning },
];

const ds = (v: number) => String(Number(v.toPrecision(10))).slice(0, 16);

/** Packs 0/1 frames into DICOM's 1-bit pixel data: bits continue across frames, least significant bit first. */
export function packBits(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[i >> 3] |= 1 << (i & 7);
  return out;
}

/**
 * A binary DICOM SEG for `mask` (0/1, on the grid of `source`, which must have come from a DICOM series): one
 * frame for each source slice, each frame pointing at its source instance (and frame), the patient, study and
 * frame of reference copied from the series.
 */
export function encodeDicomSeg(
  mask: Uint8Array,
  source: Omit<ScanVolume, 'data'>,
  options: SegOptions = {},
): Uint8Array {
  const s = source.dicom;
  if (!s) throw new Error(`encodeDicomSeg: ${source.source} is not a DICOM series`);
  const [nx, ny, nz] = source.dims;
  if (mask.length !== nx * ny * nz)
    throw new Error(`encodeDicomSeg: ${mask.length} mask values for a ${nx}×${ny}×${nz} series`);
  const now = options.date ?? new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  const sopInstanceUid = options.sopInstanceUid ?? newUid();
  const ps = s.patientStudy;
  const copied: DicomAttr[] = [
    { tag: 0x00100010, vr: 'PN', value: ps.PatientName ?? '' },
    { tag: 0x00100020, vr: 'LO', value: ps.PatientID ?? '' },
    { tag: 0x00100030, vr: 'DA', value: ps.PatientBirthDate ?? '' },
    { tag: 0x00100040, vr: 'CS', value: ps.PatientSex ?? '' },
    { tag: 0x00080020, vr: 'DA', value: ps.StudyDate ?? '' },
    { tag: 0x00080030, vr: 'TM', value: ps.StudyTime ?? '' },
    { tag: 0x00080090, vr: 'PN', value: ps.ReferringPhysicianName ?? '' },
    { tag: 0x00200010, vr: 'SH', value: ps.StudyID ?? '' },
    { tag: 0x00080050, vr: 'SH', value: ps.AccessionNumber ?? '' },
  ];
  const [rowSpacing, colSpacing] = s.pixelSpacing;
  const step = source.spacing[2];
  const perFrame: DicomItem[] = s.slices.map((sl, k) => {
    const sourceImage: DicomItem = [
      { tag: 0x00081150, vr: 'UI', value: sl.sopClassUid },
      { tag: 0x00081155, vr: 'UI', value: sl.sopInstanceUid },
      {
        tag: 0x0040a170,
        vr: 'SQ',
        value: [code('121322', 'DCM', 'Source image for image processing operation')],
      },
    ];
    if (sl.frame !== null) sourceImage.push({ tag: 0x00081160, vr: 'IS', value: sl.frame });
    return [
      {
        tag: 0x00089124,
        vr: 'SQ',
        value: [
          [
            { tag: 0x00082112, vr: 'SQ', value: [sourceImage] },
            { tag: 0x00089215, vr: 'SQ', value: [code('113076', 'DCM', 'Segmentation')] },
          ],
        ],
      },
      { tag: 0x00209111, vr: 'SQ', value: [[{ tag: 0x00209157, vr: 'UL', value: [1, k + 1] }]] },
      { tag: 0x00209113, vr: 'SQ', value: [[{ tag: 0x00200032, vr: 'DS', value: sl.position.map(ds) }]] },
      { tag: 0x0062000a, vr: 'SQ', value: [[{ tag: 0x0062000b, vr: 'US', value: 1 }]] },
    ];
  });
  const dimensionOrg = newUid();
  const instances = new Map<string, string>();
  for (const sl of s.slices) instances.set(sl.sopInstanceUid, sl.sopClassUid);
  const dataset: DicomAttr[] = [
    { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' },
    { tag: 0x00080008, vr: 'CS', value: ['DERIVED', 'PRIMARY'] },
    { tag: 0x00080016, vr: 'UI', value: SEG_SOP_CLASS },
    { tag: 0x00080018, vr: 'UI', value: sopInstanceUid },
    { tag: 0x00080023, vr: 'DA', value: date },
    { tag: 0x00080033, vr: 'TM', value: time },
    { tag: 0x00080060, vr: 'CS', value: 'SEG' },
    { tag: 0x00080070, vr: 'LO', value: 'mriseg' },
    { tag: 0x0008103e, vr: 'LO', value: options.seriesDescription ?? 'mriseg segmentation' },
    { tag: 0x00081090, vr: 'LO', value: 'mriseg' },
    {
      tag: 0x00081115,
      vr: 'SQ',
      value: [
        [
          {
            tag: 0x0008114a,
            vr: 'SQ',
            value: [...instances].map(([uid, cls]) => [
              { tag: 0x00081150, vr: 'UI', value: cls },
              { tag: 0x00081155, vr: 'UI', value: uid },
            ]),
          },
          { tag: 0x0020000e, vr: 'UI', value: s.seriesInstanceUid },
        ],
      ],
    },
    ...copied,
    { tag: 0x00181000, vr: 'LO', value: '0' },
    { tag: 0x00181020, vr: 'LO', value: options.softwareVersion ?? 'mriseg' },
    { tag: 0x0020000d, vr: 'UI', value: s.studyInstanceUid },
    { tag: 0x0020000e, vr: 'UI', value: options.seriesInstanceUid ?? newUid() },
    { tag: 0x00200011, vr: 'IS', value: 9901 },
    { tag: 0x00200013, vr: 'IS', value: 1 },
    { tag: 0x00200052, vr: 'UI', value: s.frameOfReferenceUid },
    { tag: 0x00201040, vr: 'LO', value: '' },
    {
      tag: 0x00209221,
      vr: 'SQ',
      value: [[{ tag: 0x00209164, vr: 'UI', value: dimensionOrg }]],
    },
    {
      tag: 0x00209222,
      vr: 'SQ',
      value: [
        [
          { tag: 0x00209164, vr: 'UI', value: dimensionOrg },
          { tag: 0x00209165, vr: 'AT', value: 0x0062000b },
          { tag: 0x00209167, vr: 'AT', value: 0x0062000a },
        ],
        [
          { tag: 0x00209164, vr: 'UI', value: dimensionOrg },
          { tag: 0x00209165, vr: 'AT', value: 0x00200032 },
          { tag: 0x00209167, vr: 'AT', value: 0x00209113 },
        ],
      ],
    },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280008, vr: 'IS', value: nz },
    { tag: 0x00280010, vr: 'US', value: ny },
    { tag: 0x00280011, vr: 'US', value: nx },
    { tag: 0x00280100, vr: 'US', value: 1 },
    { tag: 0x00280101, vr: 'US', value: 1 },
    { tag: 0x00280102, vr: 'US', value: 0 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x00282110, vr: 'CS', value: '00' },
    {
      tag: 0x52009229,
      vr: 'SQ',
      value: [
        [
          {
            tag: 0x00209116,
            vr: 'SQ',
            value: [[{ tag: 0x00200037, vr: 'DS', value: s.orientation.map(ds) }]],
          },
          {
            tag: 0x00289110,
            vr: 'SQ',
            value: [
              [
                { tag: 0x00180050, vr: 'DS', value: ds(s.sliceThickness ?? step) },
                { tag: 0x00180088, vr: 'DS', value: ds(step) },
                { tag: 0x00280030, vr: 'DS', value: [ds(rowSpacing), ds(colSpacing)] },
              ],
            ],
          },
        ],
      ],
    },
    { tag: 0x52009230, vr: 'SQ', value: perFrame },
    { tag: 0x00620001, vr: 'CS', value: 'BINARY' },
    {
      tag: 0x00620002,
      vr: 'SQ',
      value: [
        [
          {
            tag: 0x00620003,
            vr: 'SQ',
            value: [code('49755003', 'SCT', 'Morphologically Altered Structure')],
          },
          { tag: 0x00620004, vr: 'US', value: 1 },
          { tag: 0x00620005, vr: 'LO', value: options.label ?? 'Tumour' },
          { tag: 0x00620008, vr: 'CS', value: 'AUTOMATIC' },
          { tag: 0x00620009, vr: 'LO', value: options.algorithmName ?? 'mriseg' },
          { tag: 0x0062000f, vr: 'SQ', value: [code('108369006', 'SCT', 'Neoplasm')] },
        ],
      ],
    },
    { tag: 0x00700080, vr: 'CS', value: 'MRISEG' },
    { tag: 0x00700081, vr: 'LO', value: 'automatic segmentation' },
    { tag: 0x00700084, vr: 'PN', value: 'mriseg' },
    { tag: 0x7fe00010, vr: 'OB', value: packBits(mask) },
  ];
  return encodePart10(SEG_SOP_CLASS, sopInstanceUid, dataset);
}

const sub = (a: readonly number[], b: readonly number[]) => a.map((v, i) => v - b[i]);
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

/**
 * Reads a DICOM SEG onto the grid of `reference` (the series it segments, or any volume on the same grid): frames
 * are placed by their ImagePositionPatient, every segment is merged into one 0/1 mask (a FRACTIONAL SEG is
 * thresholded at half its maximum). Frames that fit no slice of the grid are an error naming the file.
 */
export function readDicomSeg(
  bytes: Uint8Array,
  file: string,
  reference: ScanVolume,
): { mask: Uint8Array; segments: string[] } {
  if (!isDicomPart10(bytes))
    throw new DataError(file, 'not a DICOM Part-10 file (no "DICM" after the preamble)');
  let d: dicomParser.DataSet;
  try {
    d = dicomParser.parseDicom(bytes);
  } catch (e) {
    throw new DataError(file, `unreadable DICOM file (${e instanceof Error ? e.message : String(e)})`);
  }
  if (d.string('x00080016') !== SEG_SOP_CLASS)
    throw new DataError(
      file,
      `SOPClassUID (0008,0016) is ${d.string('x00080016')}, not Segmentation Storage (${SEG_SOP_CLASS})`,
    );
  const [nx, ny, nz] = reference.dims;
  const rows = d.uint16('x00280010');
  const cols = d.uint16('x00280011');
  if (rows !== ny || cols !== nx)
    throw new DataError(
      file,
      `frames of ${cols}×${rows}, the reference grid ${reference.source} has ${nx}×${ny}`,
    );
  const frames = d.intString('x00280008') ?? 1;
  const type = (d.string('x00620001') ?? '').trim();
  const bits = d.uint16('x00280100');
  if (!((type === 'BINARY' && bits === 1) || (type === 'FRACTIONAL' && bits === 8)))
    throw new DataError(
      file,
      `SegmentationType ${type || '(none)'} with BitsAllocated ${bits}: BINARY (1 bit) or FRACTIONAL (8 bits) expected`,
    );
  const px = d.elements.x7fe00010;
  if (!px) throw new DataError(file, `no ${tagName('x7fe00010')}`);
  const plane = nx * ny;
  const needBytes = type === 'BINARY' ? Math.ceil((frames * plane) / 8) : frames * plane;
  if (px.length < needBytes || px.dataOffset + needBytes > d.byteArray.length)
    throw new DataError(
      file,
      `${tagName('x7fe00010')} holds ${px.length} bytes, ${needBytes} expected for ${frames} frames`,
    );
  const perFrame = d.elements.x52009230?.items ?? [];
  if (perFrame.length !== frames)
    throw new DataError(
      file,
      `${frames} frames but ${perFrame.length} items in PerFrameFunctionalGroupsSequence (5200,9230)`,
    );
  // Reference geometry in LPS: slice k's origin and the slice axis.
  const lps = reference.affine.map((row, r) => (r < 2 ? row.map((v) => -v) : row));
  const origin = [lps[0][3], lps[1][3], lps[2][3]];
  const kAxis = [lps[0][2], lps[1][2], lps[2][2]];
  const kLen2 = dot(kAxis, kAxis);
  const maxFrac = d.uint16('x00620010') ?? 255;
  const mask = new Uint8Array(plane * nz);
  const raw = d.byteArray;
  for (let f = 0; f < frames; f++) {
    const pos = perFrame[f].dataSet?.elements.x00209113?.items?.[0]?.dataSet;
    const ipp = [0, 1, 2].map((i) => pos?.floatString('x00200032', i) ?? Number.NaN);
    if (!ipp.every(Number.isFinite))
      throw new DataError(
        file,
        `frame ${f + 1}: no ImagePositionPatient (0020,0032) in its PlanePositionSequence`,
      );
    const rel = sub(ipp, origin);
    const k = Math.round(dot(rel, kAxis) / kLen2);
    const off = sub(
      rel,
      kAxis.map((v) => v * k),
    );
    if (k < 0 || k >= nz || Math.hypot(...off) > 0.05 * Math.sqrt(kLen2) + 0.01)
      throw new DataError(
        file,
        `frame ${f + 1} at ImagePositionPatient [${ipp.map((v) => v.toFixed(2)).join(', ')}] lies on no slice of ${reference.source}`,
      );
    const dst = k * plane;
    for (let p = 0; p < plane; p++) {
      const bit = f * plane + p;
      const on =
        type === 'BINARY'
          ? (raw[px.dataOffset + (bit >> 3)] >> (bit & 7)) & 1
          : raw[px.dataOffset + bit] * 2 >= maxFrac
            ? 1
            : 0;
      if (on) mask[dst + p] = 1;
    }
  }
  const segments = (d.elements.x00620002?.items ?? []).map((it) => it.dataSet?.string('x00620005') ?? '');
  return { mask, segments };
}
