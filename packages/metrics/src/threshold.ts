import { type Case, meanReferenceDsc } from './dsc.js';

export interface ThresholdSearchOptions {
  /** Candidate thresholds, each in [0, 1). Default 0.05, 0.10, …, 0.95. */
  thresholds?: readonly number[];
  /** Score with the largest-component step (default true, as the reference DSC). */
  lcc?: boolean;
  /** DSC of a patient whose prediction and truth are both empty (default 1). */
  bothEmpty?: number;
}

export interface ThresholdPoint {
  threshold: number;
  meanDsc: number;
}

export interface ThresholdSearchResult {
  /** The threshold with the highest mean DSC. */
  threshold: number;
  meanDsc: number;
  /** Mean DSC at every candidate, in the order given. */
  curve: ThresholdPoint[];
}

/** 0.05 … 0.95 by 0.05, computed from integers so every value is the nearest double to k/20. */
export function defaultThresholdGrid(): number[] {
  const out: number[] = [];
  for (let k = 1; k <= 19; k++) out.push(k / 20);
  return out;
}

/**
 * Finds the probability threshold that maximises the mean reference-style DSC (prob > t, largest component,
 * volume-pooled Dice) over validation patients. Ties go to the threshold nearest 0.5 (the reference's rounding),
 * then to the lower one. Choosing a threshold on the patients it is then reported on is optimistic: pick it on
 * validation data and report on held-out patients.
 */
export function searchThreshold(
  cases: readonly Case[],
  options: ThresholdSearchOptions = {},
): ThresholdSearchResult {
  if (cases.length === 0) throw new Error('searchThreshold: no cases given');
  const grid = options.thresholds ?? defaultThresholdGrid();
  if (grid.length === 0) throw new Error('searchThreshold: the threshold grid is empty');
  for (const t of grid) {
    if (!(t >= 0 && t < 1)) throw new Error(`searchThreshold: threshold ${t} is outside [0, 1)`);
  }
  const curve = grid.map((threshold) => ({
    threshold,
    meanDsc: meanReferenceDsc(cases, { threshold, lcc: options.lcc ?? true, bothEmpty: options.bothEmpty }),
  }));
  // Distances to 0.5 are compared with a small tolerance: 0.7 − 0.5 and 0.5 − 0.3 differ in the last bit.
  const dist = (t: number) => Math.abs(t - 0.5);
  let best = curve[0];
  for (const p of curve.slice(1)) {
    const dp = dist(p.threshold);
    const db = dist(best.threshold);
    const sameDistance = Math.abs(dp - db) < 1e-12;
    const better =
      p.meanDsc > best.meanDsc ||
      (p.meanDsc === best.meanDsc &&
        ((!sameDistance && dp < db) || (sameDistance && p.threshold < best.threshold)));
    if (better) best = p;
  }
  return { threshold: best.threshold, meanDsc: best.meanDsc, curve };
}
