/**
 * The optional steps around the model that the commands share: the preprocessing options of @mriseg/data a run
 * asked for, and a post-processing pipeline (which may start with the dense CRF and so needs the image).
 */
import type { Volume } from '@mriseg/data';
import { type ImageVolume, type Postprocess, parsePostprocess } from '@mriseg/metrics';

export interface PreprocessingChoice {
  biasCorrect: boolean;
  skullStrip: boolean;
}

/** The options of `preprocess()` beyond the reference for these choices; {} for the reference itself. */
export function preprocessingOptions(c: PreprocessingChoice): { biasCorrect?: true; skullStrip?: true } {
  return { ...(c.biasCorrect ? { biasCorrect: true } : {}), ...(c.skullStrip ? { skullStrip: true } : {}) };
}

/** A post-processing spec as the commands take it: steps, or `none` / '' for none. */
export const pipelineOf = (spec: string): Postprocess => parsePostprocess(spec === 'none' ? '' : spec);

/** A preprocessed volume's image as the dense CRF reads it, [D,3,H,W]. */
export const imageOf = (v: Volume): ImageVolume => ({
  data: v.image,
  shape: [v.depth, 3, v.height, v.width],
});
