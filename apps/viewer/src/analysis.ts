/**
 * Masks and scores from the model's probabilities, on the CPU with @mriseg/metrics: the displayed mask
 * (probability > threshold, then the post-processing pipeline), its DSC and per-slice DSC, tumour areas per slice,
 * and the per-volume reference DSC (round at 0.5, largest 3-D component; fixed, as the reference computes it).
 */
import {
  type BinaryVolume,
  binarize,
  confusion,
  diceFromConfusion,
  parsePostprocess,
  perSliceDsc,
  referenceDsc,
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

export function analyse(
  prob: Float32Array,
  truth: Uint8Array | null,
  shape: readonly [number, number, number],
  threshold: number,
  postprocess: readonly string[],
): Analysis {
  const [D, H, W] = shape;
  let pred: BinaryVolume = binarize({ data: prob, shape }, threshold);
  pred = parsePostprocess(postprocess)(pred);
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
