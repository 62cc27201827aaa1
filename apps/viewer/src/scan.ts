/**
 * NIfTI files and DICOM folders in the page. The picked files become a case through @mriseg/data — the command
 * line's own reading, series grouping, channel mapping and refusals — then a patient in the models' frame
 * (`scanToModel`: axial, shown the radiological way, in-plane pixels made square from the pixel spacing, so every
 * slice the page draws has the true aspect). The reference volume's header stays with it, so that a predicted mask
 * can be carried back onto the source voxels and written on that grid. Pure: runs in the decode worker and in tests.
 */
import {
  type ChannelMap,
  caseFromFiles,
  DataError,
  type DecodeLimits,
  encodeDicomSeg,
  isDicomPart10,
  isNiftiPath,
  type ModelFrame,
  maskAsNifti,
  type PreprocessedGeometry,
  parseChannelMap,
  type ScanVolume,
  scanToModel,
  toSourceVoxels,
} from '@mriseg/data/browser';
import type { LoadedPatient, NamedBytes } from './files.js';

/** What the page keeps of a scanner case besides its voxels in the models' frame. */
export interface ScanInfo {
  /** The reference (FLAIR) volume without its voxels: the grid and header an exported mask is written with. */
  grid: Omit<ScanVolume, 'data'>;
  frame: ModelFrame;
  /** The file (or DICOM series) each channel came from: pre-contrast, FLAIR, post-contrast. */
  channels: [string, string, string];
  /** The channels are the three frames of one 4-D file. */
  fourD: boolean;
}

/** A file the scan path reads: NIfTI by its name, DICOM by its Part-10 marker (DICOM files often have no extension). */
export function isScanFile(f: NamedBytes): boolean {
  return isNiftiPath(f.name) || isDicomPart10(f.bytes);
}

/** The mapping field's text as a channel mapping; empty means none. Errors name the field. */
export function channelMapOf(text: string): ChannelMap | null {
  if (text.trim() === '') return null;
  try {
    return parseChannelMap(text);
  } catch (e) {
    throw new DataError('channel mapping', (e as Error).message);
  }
}

/**
 * A patient from picked scanner files: one NIfTI file, several mapped to channels (`pre=FILE,flair=FILE,post=FILE`,
 * or guessed from names like `…_t1`, `…_flair`, `…_t1ce`), or the files of a DICOM folder (SeriesDescription
 * patterns choose among several series). Errors are DataErrors naming the file and the problem.
 */
export function scanPatientFromFiles(
  files: readonly NamedBytes[],
  channels: string,
  limits: Partial<DecodeLimits> = {},
): LoadedPatient {
  const c = caseFromFiles(files, channelMapOf(channels), limits);
  const { patient, frame, notes } = scanToModel(c.id, c.volumes);
  const { data: _voxels, ...grid } = c.reference;
  return {
    raw: patient,
    hasMask: false,
    warnings: [...c.notes, ...notes],
    scan: {
      grid,
      frame,
      // A DICOM channel is a series of the folder: its description says which.
      channels: c.volumes.map((v) =>
        v.dicom ? `"${v.dicom.seriesDescription}"` : v.source,
      ) as ScanInfo['channels'],
      // One sequence for all channels is one volume thrice; a 4-D file's frames are three views of its data.
      fourD: c.volumes[0].data !== c.volumes[1].data && c.volumes[0].source === c.volumes[1].source,
    },
  };
}

/** Millimetres a displayed pixel spans: the model frame's square pixel through the padding and the resize. */
export function displayPixelMm(volume: PreprocessedGeometry, frame: ModelFrame): number {
  const [, , y0, y1, x0, x1] = volume.info.cropZYX;
  const [pt, pb, pl, pr] = volume.info.padYX;
  const padded = Math.max(y1 - y0 + pt + pb, x1 - x0 + pl + pr);
  return (frame.spacing[0] * padded) / volume.width;
}

/**
 * The source slice (index along the grid's own slice axis, and that axis' letter) that model-frame slice `s`
 * (0-based, before the preprocessing dropped or cropped any) came from.
 */
export function sourceSlice(frame: ModelFrame, s: number): { axis: string; index: number } {
  const a = frame.axes[2];
  const n = frame.oriented[2];
  return { axis: 'ijk'[a.source], index: a.flip ? n - 1 - s : s };
}

/** One line for the page: the source grid, the channels, and the frame the model sees. */
export function describeScan(p: LoadedPatient, volume: PreprocessedGeometry): string {
  const s = p.scan!;
  const g = s.grid;
  const f = s.frame;
  const kind = g.format === 'dicom' ? 'DICOM series' : g.format === 'nifti2' ? 'NIfTI-2' : 'NIfTI-1';
  const mm = (v: number) => v.toFixed(2);
  const unique = new Set(s.channels);
  const channels =
    unique.size > 1
      ? `pre ${s.channels[0]}, FLAIR ${s.channels[1]}, post ${s.channels[2]}`
      : s.fourD
        ? `${s.channels[1]} frames 1–3 as pre, FLAIR, post`
        : `${s.channels[1]} for all three channels`;
  return (
    `${p.raw.id}: ${kind} of ${g.dims.join('×')} voxels, ${g.spacing.map(mm).join('×')} mm (${f.sourceOrientation}); ` +
    `${channels}. Axial model frame ${f.resampled[0]}×${f.resampled[1]}×${f.oriented[2]}, square ${mm(f.spacing[0])} mm pixels; ` +
    `after the reference preprocessing ${volume.depth} slices of ${volume.width}×${volume.height}, ` +
    `${mm(displayPixelMm(volume, f))} mm a displayed pixel`
  );
}

/** Which file formats an exported mask can take for this patient. */
export function exportFormats(p: LoadedPatient | null): { nifti: boolean; seg: boolean } {
  return { nifti: p?.scan !== undefined, seg: p?.scan?.grid.dicom !== undefined };
}

/**
 * The displayed prediction ((depth, height, width) 0/1 in the preprocessed space) on the source voxels: the
 * reference preprocessing and the model frame undone, exactly as `mriseg predict` does.
 */
export function predictionOnSource(
  prediction: Uint8Array,
  volume: PreprocessedGeometry,
  p: LoadedPatient,
  dropEnds: boolean,
): Uint8Array {
  if (!p.scan) throw new Error('predictionOnSource: not a NIfTI/DICOM case');
  return toSourceVoxels(prediction, volume, p.raw, p.scan.frame, { dropEnds });
}

/** The mask as `<case>_mask.nii.gz` on the source grid, with the input's NIfTI header (or one from a DICOM's geometry). */
export function maskNiftiFile(mask: Uint8Array, p: LoadedPatient): { bytes: Uint8Array; name: string } {
  return {
    bytes: maskAsNifti(mask, p.scan!.grid, 'mriseg viewer mask'),
    name: `${p.raw.id}_mask.nii.gz`,
  };
}

/** The mask as `<case>_seg.dcm`, a DICOM SEG referencing the source series (DICOM input only). */
export function maskSegFile(mask: Uint8Array, p: LoadedPatient): { bytes: Uint8Array; name: string } {
  return {
    bytes: encodeDicomSeg(mask, p.scan!.grid, { softwareVersion: 'mriseg viewer' }),
    name: `${p.raw.id}_seg.dcm`,
  };
}
