import { keepLargestComponent } from './components.js';
import { type Case, referenceDsc } from './dsc.js';
import { confusion, overlapFromConfusion } from './overlap.js';
import type { Postprocess } from './postprocess.js';
import { type Summary, summarize } from './summary.js';
import {
  averageSurfaceDistanceFromDistances,
  hausdorffFromDistances,
  surfaceDiceFromDistances,
  surfaceDistances,
} from './surface.js';
import { assertSameShape, type BinaryVolume, binarize, dimsOf, type Spacing } from './volume.js';

/** Columns of the per-patient table, in display order. */
export const METRIC_NAMES = [
  'referenceDsc',
  'dscNoLcc',
  'dice',
  'iou',
  'precision',
  'recall',
  'specificity',
  'volumeSimilarity',
  'hd95',
  'assd',
  'surfaceDice',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * One patient's row. `referenceDsc` is always the reference metric (round at 0.5, largest component) and `dscNoLcc`
 * the rounded prediction without that step; every other column scores the evaluated mask: `postprocess` applied to
 * prob > threshold (by default the largest component, i.e. the reference's mask).
 */
export type CaseMetrics = { id: string } & Record<MetricName, number>;

export interface EvaluateOptions {
  /** Threshold for the evaluated mask (default 0.5). The `referenceDsc` column always uses 0.5. */
  threshold?: number;
  /**
   * Post-processing of the thresholded mask (default: keep the largest component, as the reference), or a parsed
   * pipeline, whose probability step (the dense CRF) runs before the threshold on each case's `image`.
   */
  postprocess?: ((mask: BinaryVolume) => BinaryVolume) | Postprocess;
  /** Voxel spacing for the distance metrics of cases that carry none (default unit spacing: distances in voxels). */
  spacing?: Spacing;
  /** Tolerance of the surface Dice, in spacing units (default 1: one voxel, or 1 mm with spacing in mm). */
  surfaceTolerance?: number;
}

export interface MetricsReport {
  rows: CaseMetrics[];
  /** Mean, median, quartiles… of every column over patients (see {@link summarize}). */
  summary: Record<MetricName, Summary>;
}

const isPipeline = (f: ((mask: BinaryVolume) => BinaryVolume) | Postprocess): f is Postprocess =>
  typeof (f as Partial<Postprocess>).fromProbabilities === 'function';

/** Scores every patient and summarises each metric over patients. */
export function evaluateCases(cases: readonly Case[], options: EvaluateOptions = {}): MetricsReport {
  const post = options.postprocess ?? ((m: BinaryVolume) => keepLargestComponent(m));
  const tol = options.surfaceTolerance ?? 1;
  const rows = cases.map((c, index): CaseMetrics => {
    const id = c.id ?? String(index);
    dimsOf(`evaluateCases (case ${id})`, 'probabilities', c.prob);
    assertSameShape(`evaluateCases (case ${id})`, c.prob, 'probabilities', c.truth, 'truth');
    const threshold = options.threshold ?? 0.5;
    let mask: BinaryVolume;
    if (isPipeline(post)) {
      try {
        mask = post.fromProbabilities(c.prob, threshold, c.image);
      } catch (e) {
        throw new Error(`evaluateCases (case ${id}): ${(e as Error).message}`);
      }
    } else mask = post(binarize(c.prob, threshold));
    assertSameShape(`evaluateCases (case ${id})`, mask, 'post-processed mask', c.truth, 'truth');
    const k = confusion(mask, c.truth);
    const sd = surfaceDistances(mask, c.truth, { spacing: c.spacing ?? options.spacing });
    const o = overlapFromConfusion(k);
    return {
      id,
      referenceDsc: referenceDsc(c.prob, c.truth),
      dscNoLcc: referenceDsc(c.prob, c.truth, { lcc: false }),
      ...o,
      hd95: hausdorffFromDistances(sd, 95),
      assd: averageSurfaceDistanceFromDistances(sd),
      surfaceDice: surfaceDiceFromDistances(sd, tol),
    };
  });
  const summary = Object.fromEntries(
    METRIC_NAMES.map((m) => [m, summarize(rows.map((r) => r[m]))]),
  ) as Record<MetricName, Summary>;
  return { rows, summary };
}

/** A plain-text table: one row per patient, then mean, median, q1, q3 and IQR rows. */
export function formatReport(report: MetricsReport, digits = 4): string {
  const header = ['patient', ...METRIC_NAMES];
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
  const lines: string[][] = [header];
  for (const r of report.rows) lines.push([r.id, ...METRIC_NAMES.map((m) => fmt(r[m]))]);
  for (const stat of ['mean', 'median', 'q1', 'q3', 'iqr'] as const) {
    lines.push([stat, ...METRIC_NAMES.map((m) => fmt(report.summary[m][stat]))]);
  }
  const widths = header.map((_, j) => Math.max(...lines.map((l) => l[j].length)));
  return lines
    .map((l) => l.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  '))
    .join('\n');
}
