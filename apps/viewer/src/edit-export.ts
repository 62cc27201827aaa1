/**
 * Corrected masks out of the page, in the frame of the files they correct: a Kaggle-layout patient's masks as
 * `<patient>_<n>_mask.png|tif` (the original 256² slice grid, 0/255, the dataset's own names), a NIfTI/DICOM case's
 * mask as `<case>_mask.nii.gz` on the source voxels; several files zipped for "export all". The preprocessing is
 * undone with the data package's `restoreMask` (Kaggle) or `toSourceVoxels` (scanner cases), as `mriseg predict`
 * does for predictions. Pure: unit-tested in Node.
 */
import { encodePng, encodeTiff, type PreprocessedGeometry, restoreMask } from '@mriseg/data/browser';
import { zipSync } from 'fflate';
import type { MaskEditor } from './edit.js';
import type { LoadedPatient } from './files.js';
import { maskNiftiFile, predictionOnSource } from './scan.js';

export type MaskFormat = 'png' | 'tif';

export interface NamedFile {
  name: string;
  bytes: Uint8Array;
}

/**
 * The mask to export in the preprocessed space: the corrections on corrected slices, the displayed prediction
 * (threshold and post-processing as set) on the others, or background where there is no prediction.
 */
export function combinedMask(editor: MaskEditor, prediction: Uint8Array | null): Uint8Array {
  const out = prediction
    ? Uint8Array.from(prediction, (v) => (v ? 1 : 0))
    : new Uint8Array(editor.mask.length);
  if (out.length !== editor.mask.length) {
    throw new Error(`combinedMask: prediction of ${out.length} voxels, corrections of ${editor.mask.length}`);
  }
  const n = editor.plane;
  for (const z of editor.corrected()) out.set(editor.mask.subarray(z * n, (z + 1) * n), z * n);
  return out;
}

/** The Kaggle slice number of preprocessed slice `z` (the crop and the dropped first slice put back). */
export function sliceNumberOf(
  p: LoadedPatient,
  volume: PreprocessedGeometry,
  z: number,
  dropEnds: boolean,
): number {
  const s = z + volume.info.cropZYX[0] + (dropEnds ? 1 : 0);
  return p.raw.sliceNumbers[s] ?? s + 1;
}

/**
 * Kaggle-layout mask files for the given preprocessed slices (all when `slices` is null: every slice of the
 * original volume, the dropped end slices and the area outside the crop as background), in the original frame.
 */
export function kaggleMaskFiles(
  mask: Uint8Array,
  volume: PreprocessedGeometry,
  p: LoadedPatient,
  dropEnds: boolean,
  format: MaskFormat,
  slices: readonly number[] | null,
): NamedFile[] {
  if (p.scan) throw new Error('kaggleMaskFiles: a NIfTI/DICOM case is exported as NIfTI');
  const { depth, height, width, sliceNumbers, id } = p.raw;
  const restored = restoreMask(mask, volume, { depth, height, width }, { dropEnds });
  const plane = height * width;
  const first = volume.info.cropZYX[0] + (dropEnds ? 1 : 0);
  const raw = slices === null ? Array.from({ length: depth }, (_, s) => s) : slices.map((z) => z + first);
  return raw.map((s) => {
    const data = Uint8Array.from(restored.subarray(s * plane, (s + 1) * plane), (v) => (v ? 255 : 0));
    const raster = { width, height, channels: 1, data };
    return {
      name: `${id}_${sliceNumbers[s] ?? s + 1}_mask.${format}`,
      bytes: format === 'png' ? encodePng(raster) : encodeTiff(raster),
    };
  });
}

/** A scanner case's mask on its source grid, as `mriseg predict` writes it. */
export function scanMaskFile(
  mask: Uint8Array,
  volume: PreprocessedGeometry,
  p: LoadedPatient,
  dropEnds: boolean,
): NamedFile {
  return maskNiftiFile(predictionOnSource(mask, volume, p, dropEnds), p);
}

/** Files as one zip (PNG and gzip are stored as they are; TIFF and the rest deflated). */
export function zipFiles(files: readonly NamedFile[]): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  for (const f of files) {
    if (f.name in entries) throw new Error(`zipFiles: two files named ${f.name}`);
    entries[f.name] = [f.bytes, { level: /\.(png|gz)$/i.test(f.name) ? 0 : 6 }];
  }
  return zipSync(entries);
}
