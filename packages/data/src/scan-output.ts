/**
 * A prediction made in the models' space carried back to a scanner case's own voxels, and written on its grid: the
 * last steps of `predict` on a NIfTI/DICOM case, shared by the command line and the viewer. Browser-safe.
 */
import { encodeNifti, niftiSpaceFromAffine } from './nifti-write.js';
import { type OriginalFrame, type PreprocessedGeometry, restoreVolume } from './restore.js';
import { type ModelFrame, toSourceGrid } from './scan-to-model.js';
import type { ScanVolume } from './scan-volume.js';

/**
 * Values (a 0/1 mask, or probabilities) of a preprocessed scan patient, (depth, height, width) in the preprocessed
 * space, on the source grid (x fastest): the reference preprocessing undone (crop, padding and resize; the dropped
 * end slices and everything outside the crop box are 0), then the model frame (`scanToModel`'s permutation and
 * in-plane resampling). `patient` is the scan patient the volume was preprocessed from.
 */
export function toSourceVoxels<T extends Uint8Array | Float32Array>(
  values: T,
  volume: PreprocessedGeometry,
  patient: OriginalFrame,
  frame: ModelFrame,
  options: { dropEnds?: boolean } = {},
): T {
  const inFrame = restoreVolume(values, volume, patient, options);
  if (inFrame instanceof Uint8Array) for (let i = 0; i < inFrame.length; i++) inFrame[i] = inFrame[i] ? 1 : 0;
  return toSourceGrid(inFrame, frame);
}

/** What a mask file needs of the volume it belongs to: its size and where it lies. */
export type ScanGrid = Pick<ScanVolume, 'dims' | 'affine' | 'nifti'>;

/**
 * A mask (0/1 on the source grid) as a gzip-compressed NIfTI file on `grid`: the input's own NIfTI header (version,
 * qform and sform with their codes, units) for a NIfTI input, else one made from the affine (a DICOM series), with
 * intent NIFTI_INTENT_LABEL and `description` in descrip.
 */
export function maskAsNifti(mask: Uint8Array, grid: ScanGrid, description: string): Uint8Array {
  const space = grid.nifti ?? niftiSpaceFromAffine(grid.affine);
  return encodeNifti(mask, grid.dims, space, { intentCode: 1002, description });
}
