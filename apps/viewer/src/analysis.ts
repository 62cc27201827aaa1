/**
 * Masks and scores from the model's probabilities, on the CPU with @mriseg/metrics: the displayed mask
 * (a dense CRF on the probabilities and the image if the pipeline starts with one, probability > threshold, then the
 * mask steps), its DSC and per-slice DSC, tumour areas per slice, and the per-volume reference DSC (round at 0.5,
 * largest 3-D component; fixed, as the reference computes it).
 */
import {
  type BinaryVolume,
  binarize,
  confusion,
  diceFromConfusion,
  type ImageVolume,
  parsePostprocess,
  perSliceDsc,
  referenceDsc,
  type Volume,
} from '@mriseg/metrics';

export interface Analysis {
  /** (D, H, W) 0/1: the displayed prediction. */
  prediction: Uint8Array;
  /** DSC of the displayed prediction over the volume; null without ground truth. */
  dsc: number | null;
  /** Per slice; null where prediction and truth are both empty (or no truth). */
  perSlice: (number | null)[];
  truthArea: number[];
  predictionArea: number[];
}

export function sliceAreas(mask: Uint8Array | null, depth: number, plane: number): number[] {
  const out = new Array<number>(depth).fill(0);
  if (!mask) return out;
  for (let z = 0; z < depth; z++) {
    let a = 0;
    for (let i = z * plane; i < (z + 1) * plane; i++) a += mask[i];
    out[z] = a;
  }
  return out;
}

/**
 * The last CRF result: the CRF runs before the threshold, so moving the threshold (or changing the mask steps)
 * reuses it instead of spending a second of CPU on every change.
 */
let refined: { prob: Float32Array; image: ImageVolume['data']; step: string; out: Volume } | null = null;

function refine(
  post: ReturnType<typeof parsePostprocess>,
  prob: Float32Array,
  image: ImageVolume,
  shape: readonly [number, number, number],
): Volume {
  const step = post.steps[0];
  if (refined && refined.prob === prob && refined.image === image.data && refined.step === step)
    return refined.out;
  const out = post.refine!({ data: prob, shape }, image);
  refined = { prob, image: image.data, step, out };
  return out;
}

/**
 * The displayed mask and its scores. `image` ([D,C,H,W], the preprocessed volume) is needed only when the pipeline
 * starts with a CRF step.
 */
export function analyse(
  prob: Float32Array,
  truth: Uint8Array | null,
  shape: readonly [number, number, number],
  threshold: number,
  postprocess: readonly string[],
  image?: ImageVolume,
): Analysis {
  const [D, H, W] = shape;
  const post = parsePostprocess(postprocess);
  let source: Volume = { data: prob, shape };
  if (post.refine) {
    if (!image) throw new Error(`post-processing step "${post.steps[0]}" needs the image`);
    source = refine(post, prob, image, shape);
  }
  const pred: BinaryVolume = post.masks(binarize(source, threshold));
  const truthArea = sliceAreas(truth, D, H * W);
  const predictionArea = sliceAreas(pred.data, D, H * W);
  if (!truth) {
    return { prediction: pred.data, dsc: null, perSlice: new Array(D).fill(null), truthArea, predictionArea };
  }
  const t = { data: truth, shape };
  return {
    prediction: pred.data,
    dsc: diceFromConfusion(confusion(pred, t)),
    perSlice: perSliceDsc(pred, t, 'skip').perSlice,
    truthArea,
    predictionArea,
  };
}

/** The reference per-volume DSC of the probabilities (null without ground truth). */
export function volumeReferenceDsc(
  prob: Float32Array,
  truth: Uint8Array | null,
  shape: readonly [number, number, number],
): number | null {
  return truth ? referenceDsc({ data: prob, shape }, { data: truth, shape }) : null;
}
