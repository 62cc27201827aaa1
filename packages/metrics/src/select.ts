import type { Case } from './dsc.js';
import { confusion, diceFromConfusion } from './overlap.js';
import { parsePostprocess } from './postprocess.js';
import { type BinaryVolume, binarize } from './volume.js';

/**
 * Choosing the threshold and post-processing on out-of-fold predictions, as nnU-Net chooses its post-processing
 * on its cross-validation: a change is kept only when it raises the mean DSC over the patients. Selected on the
 * out-of-fold predictions, the figure after selection is mildly optimistic (one threshold and a few steps fitted
 * to those patients); the figure before it is not.
 */

export interface SelectOptions {
  /** Thresholds tried, before any step (default 0.30, 0.35, …, 0.70). */
  thresholds?: readonly number[];
  /** Steps tried, greedily, each at most once (default lcc3d, fill-holes2d, remove-small:N for a few N). */
  steps?: readonly string[];
  /** DSC of a patient whose mask and truth are both empty (default 1). */
  bothEmpty?: number;
}

export interface SelectTrial {
  threshold: number;
  steps: string[];
  meanDsc: number;
}

export interface SelectResult {
  threshold: number;
  /** The chosen steps in order (empty: none). */
  steps: string[];
  /** Mean DSC of the rounded predictions alone (threshold 0.5, no step): where the choice starts. */
  baselineDsc: number;
  /** Mean DSC with the chosen threshold and steps. */
  meanDsc: number;
  /** Every setting scored, in the order tried. */
  trials: SelectTrial[];
}

/** 0.30 … 0.70 by 0.05 (from integers, so each is the nearest double to k/20). */
export function defaultSelectThresholds(): number[] {
  const out: number[] = [];
  for (let k = 6; k <= 14; k++) out.push(k / 20);
  return out;
}

/** Removal sizes tried by default, in voxels (a 256² slice holds 65,536). */
export const DEFAULT_REMOVE_SMALL_SIZES = [10, 50, 200, 1000] as const;

export function defaultSelectSteps(): string[] {
  return ['lcc3d', 'fill-holes2d', ...DEFAULT_REMOVE_SMALL_SIZES.map((n) => `remove-small:${n}`)];
}

/** The family of a step (`remove-small:50` and `remove-small:200` are one choice: at most one of them is kept). */
const family = (step: string) => step.split(':')[0];

/**
 * Picks the threshold (with no step), then adds steps one at a time — each round the one that raises the mean DSC
 * most — until none raises it. Ties keep the simpler setting: threshold 0.5 (the reference's rounding), then the
 * one nearest it, and no step over a step.
 */
export function selectPostprocess(cases: readonly Case[], options: SelectOptions = {}): SelectResult {
  if (cases.length === 0) throw new Error('selectPostprocess: no cases given');
  const thresholds = options.thresholds ?? defaultSelectThresholds();
  for (const t of thresholds)
    if (!(t > 0 && t < 1)) throw new Error(`selectPostprocess: threshold ${t} is outside (0, 1)`);
  const candidates = options.steps ?? defaultSelectSteps();
  const ops = new Map(candidates.map((s) => [s, parsePostprocess(s)]));
  const bothEmpty = options.bothEmpty ?? 1;
  const trials: SelectTrial[] = [];
  // The masks of one threshold at a time: at full scale (110 patients at 256²) each set is about 260 MB.
  let held: { t: number; masks: BinaryVolume[] } | null = null;
  const maskAt = (t: number) => {
    if (held?.t !== t) held = { t, masks: cases.map((c) => binarize(c.prob, t)) };
    return held.masks;
  };
  const score = (threshold: number, steps: string[]): number => {
    let sum = 0;
    maskAt(threshold).forEach((mask, i) => {
      const out = steps.reduce((m, s) => ops.get(s)!(m), mask);
      sum += diceFromConfusion(confusion(out, cases[i].truth), { undefinedValue: bothEmpty });
    });
    const meanDsc = sum / cases.length;
    trials.push({ threshold, steps: [...steps], meanDsc });
    return meanDsc;
  };

  const baselineDsc = score(0.5, []);
  let threshold = 0.5;
  let best = baselineDsc;
  // Nearest 0.5 first, so that a tie keeps the threshold closer to the reference's rounding.
  const byDistance = [...thresholds]
    .filter((t) => t !== 0.5)
    .sort((a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5) || a - b);
  for (const t of byDistance) {
    const s = score(t, []);
    if (s > best) {
      best = s;
      threshold = t;
    }
  }

  const steps: string[] = [];
  for (;;) {
    const used = new Set(steps.map(family));
    let pick: string | null = null;
    let pickScore = best;
    for (const c of candidates) {
      if (used.has(family(c))) continue;
      const s = score(threshold, [...steps, c]);
      if (s > pickScore) {
        pickScore = s;
        pick = c;
      }
    }
    if (pick === null) break;
    steps.push(pick);
    best = pickScore;
  }
  return { threshold, steps, baselineDsc, meanDsc: best, trials };
}
