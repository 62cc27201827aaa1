import { keepLargestComponent } from './components.js';
import type { ImageVolume } from './crf.js';
import { confusion, diceFromConfusion } from './overlap.js';
import { assertSameShape, type BinaryVolume, binarize, dimsOf, type Volume } from './volume.js';

export interface ReferenceDscOptions {
  /** Keep only the largest connected component (6-connected in 3-D, 4 in 2-D). Default true, as the reference. */
  lcc?: boolean;
  /** Foreground where probability > threshold. Default 0.5, which is NumPy's round half to even on [0, 1]. */
  threshold?: number;
  /** DSC when both the processed prediction and the truth are empty (the reference divides 0 by 0). Default 1. */
  bothEmpty?: number;
}

/**
 * The prediction mask the reference scores: probabilities rounded at 0.5 (exactly 0.5 → 0), then the largest
 * 6-connected 3-D component, ties to the lowest scipy label (first in raster order). An all-zero probability volume
 * (the reference's `np.any(y_pred)` false) and a rounding that leaves nothing both give an empty mask.
 */
export function referencePrediction(
  prob: Volume,
  options: Omit<ReferenceDscOptions, 'bothEmpty'> = {},
): BinaryVolume {
  const rounded = binarize(prob, options.threshold ?? 0.5);
  return (options.lcc ?? true) ? keepLargestComponent(rounded) : rounded;
}

/**
 * Per-volume DSC as `brain-segmentation-pytorch` computes it (`dsc(y_pred, y_true, lcc=True)`):
 * P = largest 6-connected component of round(prob), DSC = 2|P∧G| / (|P| + |G|) pooled over the whole volume.
 *
 * Edge cases, defined here because the reference is undefined or crashes on them:
 * - prob all zeros: the reference skips rounding and LCC and scores the zero volume, i.e. 0 for a non-empty truth
 *   (same result here);
 * - rounded prediction empty but prob not all zeros: the reference's LCC crashes (medpy on an empty label image,
 *   its issue #45); here the DSC is 0 for a non-empty truth;
 * - prediction and truth both empty: `bothEmpty` (default 1; the reference would print NaN).
 *
 * With `lcc: false` the rounded prediction is scored without the LCC step. (The reference's own `lcc=False`
 * branch skips rounding too and computes a soft Dice of the raw probabilities; that is not what this computes.)
 */
export function referenceDsc(prob: Volume, truth: BinaryVolume, options: ReferenceDscOptions = {}): number {
  dimsOf('referenceDsc', 'probabilities', prob);
  dimsOf('referenceDsc', 'truth', truth);
  assertSameShape('referenceDsc', prob, 'probabilities', truth, 'truth');
  const pred = referencePrediction(prob, options);
  return diceFromConfusion(confusion(pred, truth), { undefinedValue: options.bothEmpty ?? 1 });
}

/**
 * One patient's data: the stacked sigmoid outputs and the ground-truth mask, same [D,H,W] shape; the (preprocessed)
 * image [D,C,H,W] where a post-processing step needs it (the dense CRF).
 */
export interface Case {
  readonly id?: string;
  readonly prob: Volume;
  readonly truth: BinaryVolume;
  readonly image?: ImageVolume;
  /**
   * Voxel spacing of this case in shape order (e.g. millimetres [slice, row, column] of a NIfTI or DICOM volume);
   * the distance metrics of `evaluateCases` use it before `EvaluateOptions.spacing`.
   */
  readonly spacing?: readonly number[];
}

/** Mean over patients of {@link referenceDsc} — the reference's "mean DSC". NaN for no cases. */
export function meanReferenceDsc(cases: readonly Case[], options: ReferenceDscOptions = {}): number {
  if (cases.length === 0) return Number.NaN;
  let s = 0;
  for (const c of cases) s += referenceDsc(c.prob, c.truth, options);
  return s / cases.length;
}
