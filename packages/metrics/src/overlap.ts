import { wordView } from './scan.js';
import { assertSameShape, type BinaryVolume, dimsOf } from './volume.js';

/** Voxel counts of a prediction against the truth (non-zero = foreground in both). */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export function confusion(pred: BinaryVolume, truth: BinaryVolume): Confusion {
  dimsOf('confusion', 'prediction', pred);
  dimsOf('confusion', 'truth', truth);
  assertSameShape('confusion', pred, 'prediction', truth, 'truth');
  return confusionRange(pred.data, truth.data, 0, pred.data.length);
}

function confusionRange(p: Uint8Array, t: Uint8Array, start: number, end: number): Confusion {
  let tp = 0;
  let np = 0;
  let nt = 0;
  const pw = wordView(p);
  const tw = wordView(t);
  if (pw !== null && tw !== null) {
    // Four voxels at a time: a word's non-zero bytes as one high bit each, counted by a multiply.
    for (let k = (start + 3) >> 2; k < end >> 2; k++) {
      const a = pw[k];
      const c = tw[k];
      if ((a | c) === 0) continue;
      const na = (((a & 0x7f7f7f7f) + 0x7f7f7f7f) | a) & 0x80808080;
      const nc = (((c & 0x7f7f7f7f) + 0x7f7f7f7f) | c) & 0x80808080;
      np += Math.imul(na >>> 7, 0x01010101) >>> 24;
      nt += Math.imul(nc >>> 7, 0x01010101) >>> 24;
      tp += Math.imul((na & nc) >>> 7, 0x01010101) >>> 24;
    }
  }
  // The bytes outside whole words (all of them without word views).
  const head = pw !== null && tw !== null ? Math.min((start + 3) & ~3, end) : end;
  const tail = pw !== null && tw !== null ? Math.max(head, end & ~3) : end;
  for (const [from, to] of [
    [start, head],
    [tail, end],
  ]) {
    for (let i = from; i < to; i++) {
      const a = p[i] !== 0;
      const c = t[i] !== 0;
      if (a) np++;
      if (c) nt++;
      if (a && c) tp++;
    }
  }
  return { tp, fp: np - tp, fn: nt - tp, tn: end - start - np - nt + tp };
}

/**
 * A ratio whose denominator is 0 has no defined value. The rule used everywhere here: it is 1 when prediction and
 * truth agree on every voxel (no false positive, no false negative) and 0 otherwise — e.g. Dice of two empty
 * masks is 1, recall of a non-empty prediction against an empty truth is 0. `options.undefinedValue` overrides it.
 */
export interface RatioOptions {
  undefinedValue?: number;
}

function ratio(num: number, den: number, c: Confusion, options: RatioOptions): number {
  if (den !== 0) return num / den;
  if (options.undefinedValue !== undefined) return options.undefinedValue;
  return c.fp === 0 && c.fn === 0 ? 1 : 0;
}

/** Every overlap metric of one confusion count, under the same undefined-ratio rule. */
export interface OverlapMetrics {
  /** 2TP / (2TP + FP + FN) = 2|P∧G| / (|P| + |G|). */
  dice: number;
  /** Jaccard: TP / (TP + FP + FN). */
  iou: number;
  /** Positive predictive value: TP / (TP + FP). */
  precision: number;
  /** Sensitivity: TP / (TP + FN). */
  recall: number;
  /** TN / (TN + FP). */
  specificity: number;
  /** 1 − |FN − FP| / (2TP + FP + FN) = 1 − ||P| − |G|| / (|P| + |G|). */
  volumeSimilarity: number;
}

export function overlapFromConfusion(c: Confusion, options: RatioOptions = {}): OverlapMetrics {
  const sum = 2 * c.tp + c.fp + c.fn;
  return {
    dice: ratio(2 * c.tp, sum, c, options),
    iou: ratio(c.tp, c.tp + c.fp + c.fn, c, options),
    precision: ratio(c.tp, c.tp + c.fp, c, options),
    recall: ratio(c.tp, c.tp + c.fn, c, options),
    specificity: ratio(c.tn, c.tn + c.fp, c, options),
    volumeSimilarity: sum === 0 ? ratio(0, 0, c, options) : 1 - Math.abs(c.fn - c.fp) / sum,
  };
}

/** Dice from counts: 2TP / (2TP + FP + FN). */
export function diceFromConfusion(c: Confusion, options: RatioOptions = {}): number {
  return ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, c, options);
}

/** Dice (DSC) pooled over every voxel of the volume. */
export function dice(pred: BinaryVolume, truth: BinaryVolume, options: RatioOptions = {}): number {
  return diceFromConfusion(confusion(pred, truth), options);
}

/** Intersection over union (Jaccard): TP / (TP + FP + FN). */
export function iou(pred: BinaryVolume, truth: BinaryVolume, options: RatioOptions = {}): number {
  return overlapFromConfusion(confusion(pred, truth), options).iou;
}

/** Precision (positive predictive value): TP / (TP + FP). */
export function precision(pred: BinaryVolume, truth: BinaryVolume, options: RatioOptions = {}): number {
  return overlapFromConfusion(confusion(pred, truth), options).precision;
}

/** Recall (sensitivity): TP / (TP + FN). */
export function recall(pred: BinaryVolume, truth: BinaryVolume, options: RatioOptions = {}): number {
  return overlapFromConfusion(confusion(pred, truth), options).recall;
}

/** Specificity: TN / (TN + FP). */
export function specificity(pred: BinaryVolume, truth: BinaryVolume, options: RatioOptions = {}): number {
  return overlapFromConfusion(confusion(pred, truth), options).specificity;
}

/** Volume similarity: 1 − |FN − FP| / (2TP + FP + FN). */
export function volumeSimilarity(
  pred: BinaryVolume,
  truth: BinaryVolume,
  options: RatioOptions = {},
): number {
  return overlapFromConfusion(confusion(pred, truth), options).volumeSimilarity;
}

/**
 * What a slice without foreground in both prediction and truth scores: `'one'` (perfect agreement, as the
 * per-slice Dice figures in blog posts count it), `'zero'`, or `'skip'` (left out of the mean).
 */
export type EmptySlicePolicy = 'one' | 'zero' | 'skip';

export interface PerSliceDsc {
  /** One entry per slice; null for slices skipped under the `'skip'` policy. */
  readonly perSlice: (number | null)[];
  /** Mean over the slices not skipped; NaN when every slice was skipped. */
  readonly mean: number;
  /** Number of slices in the mean. */
  readonly counted: number;
}

/**
 * Dice of every slice of a [D,H,W] volume on its own. The empty-slice policy is required: it changes the figure
 * a lot on this dataset (about 65 % of slices are empty) and a per-slice mean is never comparable with the
 * volume-pooled reference DSC.
 */
export function perSliceDsc(
  pred: BinaryVolume,
  truth: BinaryVolume,
  emptySlices: EmptySlicePolicy,
): PerSliceDsc {
  const dims = dimsOf('perSliceDsc', 'prediction', pred);
  dimsOf('perSliceDsc', 'truth', truth);
  assertSameShape('perSliceDsc', pred, 'prediction', truth, 'truth');
  if (emptySlices !== 'one' && emptySlices !== 'zero' && emptySlices !== 'skip') {
    throw new Error(
      `perSliceDsc: empty-slice policy must be 'one', 'zero' or 'skip', got ${String(emptySlices)}`,
    );
  }
  const plane = dims.height * dims.width;
  const perSlice: (number | null)[] = [];
  let sum = 0;
  let counted = 0;
  for (let z = 0; z < dims.depth; z++) {
    const c = confusionRange(pred.data, truth.data, z * plane, (z + 1) * plane);
    const den = 2 * c.tp + c.fp + c.fn;
    let v: number | null;
    if (den > 0) v = (2 * c.tp) / den;
    else v = emptySlices === 'one' ? 1 : emptySlices === 'zero' ? 0 : null;
    perSlice.push(v);
    if (v !== null) {
      sum += v;
      counted++;
    }
  }
  return { perSlice, mean: counted > 0 ? sum / counted : Number.NaN, counted };
}
