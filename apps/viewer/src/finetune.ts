/**
 * Fine-tuning data in the page, pure (no GPU): which slices train and with which targets, and batches of them with
 * the reference augmentation (scale, rotation, flip; @mriseg/data's `augmentSlice`, as `mriseg train` applies it).
 * The corrected slices train on their corrections; optional neighbours (uncorrected slices within ±k of a corrected
 * one) train on the model's own prediction from before fine-tuning, which holds the model near where it was on
 * slices nobody checked instead of letting a few corrections pull it anywhere.
 */
import {
  type AugmentOptions,
  augmentSlice,
  drawAugmentParams,
  REFERENCE_AUGMENT,
} from '@mriseg/data/browser';
import { Rng } from '@mriseg/tensor-wgsl';

/** Training slices of one volume, copied out of it (the worker takes them). */
export interface TrainingSet {
  /** (count, 3, h, w) preprocessed images. */
  images: Float32Array;
  /** (count, h, w) 0/1 targets. */
  masks: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** Which volume slice each sample is, and whether its target is a correction or a pseudo-label. */
  slices: { z: number; target: 'correction' | 'prediction' }[];
}

/**
 * The slices to train on: every corrected slice, then (neighbours k > 0) the uncorrected ones within ±k of a
 * corrected slice when there is a prediction to take as their target.
 */
export function trainingSlices(
  corrected: readonly number[],
  depth: number,
  neighbours: number,
  hasPrediction: boolean,
): TrainingSet['slices'] {
  const set = new Set(corrected);
  const out: TrainingSet['slices'] = corrected.map((z) => ({ z, target: 'correction' as const }));
  if (neighbours <= 0 || !hasPrediction) return out;
  const extra = new Set<number>();
  for (const z of corrected) {
    for (let d = -neighbours; d <= neighbours; d++) {
      const n = z + d;
      if (n >= 0 && n < depth && !set.has(n)) extra.add(n);
    }
  }
  for (const z of [...extra].sort((a, b) => a - b)) out.push({ z, target: 'prediction' });
  return out;
}

/** Copies the training slices' images and targets out of the volume, corrections, and prediction. */
export function buildTrainingSet(
  volume: { image: Float32Array; depth: number; height: number; width: number },
  corrections: Uint8Array,
  prediction: Uint8Array | null,
  slices: TrainingSet['slices'],
): TrainingSet {
  const { height: h, width: w } = volume;
  const plane = h * w;
  const images = new Float32Array(slices.length * 3 * plane);
  const masks = new Uint8Array(slices.length * plane);
  slices.forEach(({ z, target }, i) => {
    images.set(volume.image.subarray(z * 3 * plane, (z + 1) * 3 * plane), i * 3 * plane);
    const src = target === 'correction' ? corrections : prediction;
    if (!src) throw new Error(`slice ${z + 1}: no prediction to take as its target`);
    masks.set(src.subarray(z * plane, (z + 1) * plane), i * plane);
  });
  return { images, masks, count: slices.length, height: h, width: w, slices };
}

/**
 * Draws batches from a training set: samples in a shuffled order (an epoch visits each once), each augmented with
 * its own draw. Seeded, so a run is repeatable.
 */
export class BatchSampler {
  private readonly rng: Rng;
  private order: number[] = [];
  private at = 0;
  private readonly plane: number;

  constructor(
    private readonly set: TrainingSet,
    readonly batchSize: number,
    seed: number,
    private readonly augment: AugmentOptions | null = REFERENCE_AUGMENT,
  ) {
    if (set.count === 0) throw new Error('no slices to train on: correct at least one slice first');
    this.rng = new Rng(seed);
    this.plane = set.height * set.width;
  }

  private nextIndex(): number {
    if (this.at >= this.order.length) {
      this.order = Array.from({ length: this.set.count }, (_, i) => i);
      for (let i = this.order.length - 1; i > 0; i--) {
        const j = this.rng.int(i + 1);
        [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
      }
      this.at = 0;
    }
    return this.order[this.at++];
  }

  /** The next batch: images (n, 3, h, w) and targets (n, 1, h, w) as float32. */
  next(): { image: Float32Array; mask: Float32Array; shape: [number, number, number, number] } {
    const n = this.batchSize;
    const { height: h, width: w } = this.set;
    const plane = this.plane;
    const image = new Float32Array(n * 3 * plane);
    const mask = new Float32Array(n * plane);
    for (let b = 0; b < n; b++) {
      const i = this.nextIndex();
      const src = this.set.images.subarray(i * 3 * plane, (i + 1) * 3 * plane);
      const m = this.set.masks.subarray(i * plane, (i + 1) * plane);
      const outImage = image.subarray(b * 3 * plane, (b + 1) * 3 * plane);
      const outMask = mask.subarray(b * plane, (b + 1) * plane);
      if (this.augment) {
        augmentSlice(src, m, 3, h, w, drawAugmentParams(this.rng, this.augment), outImage, outMask);
      } else {
        outImage.set(src);
        for (let k = 0; k < plane; k++) outMask[k] = m[k];
      }
    }
    return { image, mask, shape: [n, 3, h, w] };
  }
}

/** DSC of probabilities (thresholded) against 0/1 targets over the given planes (1 when both are empty). */
export function dscAt(prob: Float32Array, target: Uint8Array, threshold: number): number {
  if (prob.length !== target.length) throw new Error(`dscAt: ${prob.length} vs ${target.length} values`);
  let both = 0;
  let sum = 0;
  for (let i = 0; i < prob.length; i++) {
    const p = prob[i] > threshold ? 1 : 0;
    both += p & target[i];
    sum += p + target[i];
  }
  return sum === 0 ? 1 : (2 * both) / sum;
}
