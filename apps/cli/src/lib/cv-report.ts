/** cv-report.md: per-fold curves, the out-of-fold table and summary, and the post-processing chosen with its gain. */
import { join } from 'node:path';
import type { Summary } from '@mriseg/metrics';
import type { TrainConfig } from '../config.js';
import type { CvResult } from './cv-collect.js';
import { foldDir } from './cv-files.js';
import { writeFileSafe } from './files.js';
import type { EpochRecord } from './report.js';
import { readMetrics } from './run-folder.js';
import { lineChart, type Series } from './svg.js';

const f4 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(4));

function statLine(name: string, s: Summary): string {
  return `| ${name} | ${f4(s.mean)} ± ${f4(s.std)} | ${f4(s.median)} | ${f4(s.q1)}–${f4(s.q3)} (${f4(s.iqr)}) | ${f4(s.min)} | ${f4(s.max)} |`;
}

/** Writes cv-report.md and cv-dsc.svg into the cv folder. */
export function writeCvReport(out: string, c: TrainConfig, r: Omit<CvResult, never>): void {
  const { plan, summary, rows, selection } = r;
  const curves: EpochRecord[][] = Array.from(
    { length: plan.folds },
    (_, i) => readMetrics(join(foldDir(out, i), 'metrics.jsonl')).records,
  );
  const ema = curves.some((rs) => rs.some((x) => x.valMeanDscEma !== undefined));
  const series: Series[] = curves.flatMap((rs, i) => [
    {
      name: `fold ${i}`,
      points: rs
        .filter((x) => x.valMeanDsc !== undefined)
        .map((x) => [x.epoch, x.valMeanDsc!] as [number, number]),
    },
    ...(ema
      ? [
          {
            name: `fold ${i} EMA`,
            points: rs
              .filter((x) => x.valMeanDscEma !== undefined)
              .map((x) => [x.epoch, x.valMeanDscEma!] as [number, number]),
          },
        ]
      : []),
  ]);
  writeFileSafe(
    join(out, 'cv-dsc.svg'),
    lineChart('Validation mean DSC of each fold (its own held-out patients)', 'epoch', series, {
      yMin: 0,
      yMax: 1,
    }),
  );
  const epochs = Math.max(0, ...curves.map((rs) => rs.length));
  const foldHead = curves.map((_, i) => `fold ${i}${ema ? ` (raw / EMA)` : ''}`);
  const curveRows = Array.from({ length: epochs }, (_, e) => {
    const cells = curves.map((rs) => {
      const x = rs.find((q) => q.epoch === e + 1);
      if (!x) return '';
      return ema ? `${f4(x.valMeanDsc)} / ${f4(x.valMeanDscEma)}` : f4(x.valMeanDsc);
    });
    return `| ${e + 1} | ${cells.join(' | ')} |`;
  });
  const gain = plan.planDsc - plan.baselineDsc;
  const trialLine = (t: { threshold: number; steps: string[]; meanDsc: number }) =>
    `| ${t.threshold} | ${t.steps.length ? t.steps.join(', ') : 'none'} | ${f4(t.meanDsc)} |`;
  const lines = [
    '# mriseg cross-validation report',
    '',
    `Data: ${c.data ?? 'synthetic demo set (phantom patients)'}; ${plan.folds} folds by patient, stratified by tumour volume (seed ${c.seed}); ` +
      `model ${c.model} f${c.features}; loss ${c.loss}; ${c.optimizer} lr ${c.lr}; batch ${c['batch-size']}; ${c['image-size']}²; ` +
      `${c.epochs} epochs a fold${c.ema ? `; EMA of the weights, decay ${c.ema}` : ''}. Out-of-fold predictions: the ${plan.foldCheckpoint} checkpoint of each fold.`,
    '',
    `**Cross-validated mean DSC (reference metric, out of fold, ${rows.length} patients): ${f4(summary.reference_dsc.mean)} ± ${f4(summary.reference_dsc.std)}**, ` +
      `median ${f4(summary.reference_dsc.median)}, IQR ${f4(summary.reference_dsc.q1)}–${f4(summary.reference_dsc.q3)}.`,
    '',
    `Every patient is scored by the one fold that did not train on it${
      plan.foldCheckpoint.startsWith('best')
        ? `, but each fold's epoch (its ${plan.foldCheckpoint} checkpoint) was chosen on those same patients: optimistic. `
        : ` with that fold's ${plan.foldCheckpoint} checkpoint: nothing was chosen on it. `
    }` +
      'The reference metric: per patient, threshold 0.5, largest 3-D connected component, DSC pooled over the ' +
      'volume in the preprocessed space; sd is over patients (population).',
    '',
    '| metric | mean ± sd | median | Q1–Q3 (IQR) | min | max |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    statLine('reference DSC', summary.reference_dsc),
    statLine('raw DSC (rounded, no step)', summary.raw_dsc),
    statLine('HD95 (px)', summary.hd95),
    statLine('DSC with the plan', summary.plan_dsc),
    '',
    '## Post-processing chosen out of fold',
    '',
    `Threshold **${plan.threshold}**, post-processing **${plan.postprocess}**: mean DSC ${f4(plan.planDsc)} against ` +
      `${f4(plan.baselineDsc)} for the rounded predictions alone (gain ${gain >= 0 ? '+' : ''}${f4(gain)}; the reference metric's ` +
      `lcc3d at 0.5 gives ${f4(plan.referenceDsc)}). Tried as nnU-Net does: thresholds 0.30–0.70 first, then one step at a time ` +
      '(lcc3d, fill-holes2d, remove-small:N), each kept only when it raised the mean DSC. The choice is made on the ' +
      'patients it is reported on, so the figure after it is mildly optimistic. `plan.json` holds it; `predict`, ' +
      '`evaluate` and `ensemble` use it when given this folder (the fold ensemble) or one of its fold checkpoints.',
    '',
    '| threshold | steps | mean DSC |',
    '| ---: | --- | ---: |',
    ...selection.trials.map(trialLine),
    '',
    '## Per-fold validation curves',
    '',
    '![per-fold validation mean DSC](cv-dsc.svg)',
    '',
    `| epoch | ${foldHead.join(' | ')} |`,
    `| ---: | ${foldHead.map(() => '---:').join(' | ')} |`,
    ...curveRows,
    '',
    '## Patients (out of fold)',
    '',
    '| patient | fold | slices | reference DSC | raw DSC | HD95 | true volume | predicted volume | DSC with the plan |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (x) =>
        `| ${x.id} | ${x.fold} | ${x.slices} | ${f4(x.referenceDsc)} | ${f4(x.rawDsc)} | ${f4(x.hd95)} | ${x.trueVolume} | ${x.predVolume} | ${f4(x.planDsc)} |`,
    ),
    '',
  ];
  writeFileSafe(join(out, 'cv-report.md'), lines.join('\n'));
}
