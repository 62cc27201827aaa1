/** The run report: report.md with SVG plots of the loss and DSC curves and the per-patient DSC of the best epoch. */
import { join } from 'node:path';
import type { TrainConfig } from '../config.js';
import { writeFileSafe } from './files.js';
import { formatDuration } from './progress.js';
import { barChart, lineChart } from './svg.js';

/** One line of metrics.jsonl. */
export interface EpochRecord {
  epoch: number;
  step: number;
  lr: number;
  trainLoss: number;
  imgPerSec: number;
  valLoss?: number;
  valMeanDsc?: number;
  valDsc?: Record<string, number>;
  /** Mean DSC of the run's post-processed masks, when its post-processing is not lcc3d. */
  valPostMeanDsc?: number;
  /** The same of the EMA weights (--ema). */
  valLossEma?: number;
  valMeanDscEma?: number;
  valDscEma?: Record<string, number>;
  valSeconds?: number;
  seconds?: number;
  liveBuffers?: number;
}

export interface ReportSummary {
  bestDsc: number;
  bestEpoch: number;
  train: string[];
  validation: string[];
  seconds: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Writes report.md, loss.svg, dsc.svg and patients.svg into the run folder; returns the report's name. */
export function writeReport(dir: string, c: TrainConfig, records: EpochRecord[], s: ReportSummary): string {
  writeFileSafe(
    join(dir, 'loss.svg'),
    lineChart('Loss', 'epoch', [
      { name: 'train', points: records.map((r) => [r.epoch, r.trainLoss]) },
      {
        name: 'validation',
        points: records.filter((r) => r.valLoss !== undefined).map((r) => [r.epoch, r.valLoss!]),
      },
    ]),
  );
  const val = records.filter((r) => r.valMeanDsc !== undefined);
  const ema = val.some((r) => r.valMeanDscEma !== undefined);
  writeFileSafe(
    join(dir, 'dsc.svg'),
    lineChart(
      'Validation mean DSC (reference metric)',
      'epoch',
      [
        { name: 'validation mean DSC', points: val.map((r) => [r.epoch, r.valMeanDsc!]) },
        ...(ema
          ? [
              {
                name: 'EMA of the weights',
                points: val
                  .filter((r) => r.valMeanDscEma !== undefined)
                  .map((r) => [r.epoch, r.valMeanDscEma!] as [number, number]),
              },
            ]
          : []),
      ],
      { yMin: 0, yMax: 1 },
    ),
  );
  const best = records.find((r) => r.epoch === s.bestEpoch);
  const perPatient = Object.entries(best?.valDsc ?? {}).sort((a, b) => b[1] - a[1]);
  writeFileSafe(
    join(dir, 'patients.svg'),
    barChart(
      `Per-patient DSC at the best epoch (${s.bestEpoch})`,
      perPatient.map(([label, value]) => ({ label, value })),
    ),
  );
  const f4 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(4));
  const lines = [
    `# mriseg training report`,
    '',
    `Data: ${c.data ?? 'synthetic demo set (phantom patients)'}; model ${c.model} f${c.features}; loss ${c.loss}; ${c.optimizer} lr ${c.lr}` +
      `${c['weight-decay'] ? ` wd ${c['weight-decay']}` : ''}; schedule ${c.schedule}; batch ${c['batch-size']}; ${c['image-size']}²; ` +
      `augmentation ${c.aug}; split ${c.split} (${s.train.length} training / ${s.validation.length} validation patients); seed ${c.seed}.`,
    '',
    s.bestEpoch > 0
      ? `**Best validation mean DSC: ${s.bestDsc.toFixed(4)}** (epoch ${s.bestEpoch} of ${records.length}; median over patients ${median(perPatient.map((p) => p[1])).toFixed(4)}).`
      : 'No validation was run.',
    '',
    'The best epoch is chosen on the same validation patients it is reported on, so this figure is optimistic. ' +
      'For an honest held-out figure, evaluate on patients no choice was made on (e.g. `mriseg evaluate` on another ' +
      'k-fold fold, or cross-validation over all folds with `--split kfold:K:I`). DSC is the reference metric: per ' +
      'patient, threshold 0.5, largest 3-D connected component, pooled over the volume, in the preprocessed space.',
    '',
    `Total time ${formatDuration(s.seconds)}.`,
    '',
    '![loss](loss.svg)',
    '',
    '![validation mean DSC](dsc.svg)',
    '',
    '![per-patient DSC](patients.svg)',
    '',
    '## Epochs',
    '',
    `| epoch | step | lr | train loss | val loss | val mean DSC |${ema ? ' EMA val mean DSC |' : ''} img/s | seconds |`,
    `| ---: | ---: | ---: | ---: | ---: | ---: |${ema ? ' ---: |' : ''} ---: | ---: |`,
    ...records.map(
      (r) =>
        `| ${r.epoch} | ${r.step} | ${r.lr.toPrecision(3)} | ${f4(r.trainLoss)} | ${f4(r.valLoss)} | ${f4(r.valMeanDsc)} |${ema ? ` ${f4(r.valMeanDscEma)} |` : ''} ${r.imgPerSec.toFixed(1)} | ${(r.seconds ?? 0).toFixed(1)} |`,
    ),
    '',
    `## Validation patients at epoch ${s.bestEpoch}`,
    '',
    '| patient | DSC |',
    '| --- | ---: |',
    ...perPatient.map(([id, v]) => `| ${id} | ${v.toFixed(4)} |`),
    '',
  ];
  writeFileSafe(join(dir, 'report.md'), lines.join('\n'));
  return 'report.md';
}
