/**
 * Gathers a cross-validation: every patient predicted by the one fold that did not train on it (out of fold), the
 * per-patient table (reference DSC, raw DSC, HD95, volumes) and its summary, the threshold and post-processing
 * chosen on those predictions (plan.json), and cv-report.md.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Volume } from '@mriseg/data';
import {
  binarize,
  binaryVolume,
  type Case,
  confusion,
  countForeground,
  diceFromConfusion,
  evaluateCases,
  type MetricsReport,
  parsePostprocess,
  type SelectResult,
  type Summary,
  selectPostprocess,
  summarize,
  volume,
} from '@mriseg/metrics';
import { initDevice } from '@mriseg/tensor-wgsl';
import type { TrainConfig } from '../config.js';
import { makePool } from '../env.js';
import { CliError } from '../errors.js';
import type { FoldCheckpoint } from '../options/commands.js';
import type { ParsedOptions } from '../options/parse.js';
import { type CvPlan, foldDir, PLAN_FILE, PLAN_KIND } from './cv-files.js';
import { writeCvReport } from './cv-report.js';
import { loadTrainingVolumes } from './data.js';
import { writeFileSafe } from './files.js';
import { ensembleProbabilities, type LoadedCheckpoint, openCheckpoint } from './infer.js';
import { commandLine, shownPath } from './paths.js';
import { plural } from './words.js';

/** One patient's out-of-fold result. */
export interface OofRow {
  id: string;
  fold: number;
  slices: number;
  referenceDsc: number;
  rawDsc: number;
  hd95: number;
  trueVolume: number;
  predVolume: number;
  planDsc: number;
  planVolume: number;
}

/** The columns of the table that are summarised, by their CSV names. */
export const OOF_STATS: readonly [string, keyof OofRow][] = [
  ['reference_dsc', 'referenceDsc'],
  ['raw_dsc', 'rawDsc'],
  ['hd95', 'hd95'],
  ['plan_dsc', 'planDsc'],
  ['true_volume', 'trueVolume'],
  ['pred_volume', 'predVolume'],
];

export interface CvResult {
  rows: OofRow[];
  summary: Record<string, Summary>;
  selection: SelectResult;
  plan: CvPlan;
}

const f6 = (v: number) => (Number.isFinite(v) ? v.toFixed(6) : String(v));

function oofCsv(rows: readonly OofRow[]): string {
  const head = 'patient,fold,slices,reference_dsc,raw_dsc,hd95,true_volume,pred_volume,plan_dsc,plan_volume';
  const lines = rows.map((r) =>
    [
      r.id,
      r.fold,
      r.slices,
      f6(r.referenceDsc),
      f6(r.rawDsc),
      f6(r.hd95),
      r.trueVolume,
      r.predVolume,
      f6(r.planDsc),
      r.planVolume,
    ].join(','),
  );
  return `${[head, ...lines].join('\n')}\n`;
}

function summaryCsv(summary: Record<string, Summary>): string {
  const stats = ['count', 'mean', 'std', 'min', 'q1', 'median', 'q3', 'iqr', 'max'] as const;
  const lines = [['metric', ...stats].join(',')];
  for (const [name] of OOF_STATS) lines.push([name, ...stats.map((s) => f6(summary[name][s]))].join(','));
  return `${lines.join('\n')}\n`;
}

/** The fold checkpoint files, checked to exist (a missing one names the fold and how to train it). */
function foldCheckpoints(out: string, k: number, kind: FoldCheckpoint): string[] {
  const paths = Array.from({ length: k }, (_, i) => join(foldDir(out, i), `${kind}.safetensors`));
  const missing = paths.map((p, i) => (existsSync(p) ? -1 : i)).filter((i) => i >= 0);
  if (missing.length > 0)
    throw new CliError(
      `${shownPath(out)}: ${plural(missing.length, 'fold')} without ${kind}.safetensors (${missing.join(', ')}); train ${missing.length > 1 ? 'them' : 'it'} first (${commandLine(['cv', '--out', shownPath(out), '--folds', String(k), '--fold', String(missing[0]), '…'])})${kind.endsWith('ema') ? ', with --ema' : ''}`,
    );
  return paths;
}

/**
 * The folds' validation patients must partition the data: each patient in exactly one fold, none left out (data
 * added or removed since the folds were trained would otherwise be scored by a model that saw it, or not at all).
 */
function assignFolds(loaded: readonly LoadedCheckpoint[], ids: readonly string[]): Map<string, number> {
  const fold = new Map<string, number>();
  loaded.forEach((l, i) => {
    if (!l.train)
      throw new CliError(`${shownPath(l.path)}: has no training record (not a fold of mriseg cv)`);
    for (const id of l.train.split.validation) {
      if (fold.has(id))
        throw new CliError(`${shownPath(l.path)}: patient ${id} is also validated by fold ${fold.get(id)}`);
      fold.set(id, i);
    }
  });
  const have = new Set(ids);
  const outside = [...fold.keys()].filter((id) => !have.has(id));
  const unscored = ids.filter((id) => !fold.has(id));
  if (outside.length > 0 || unscored.length > 0)
    throw new CliError(
      `the folds' validation patients and the data differ (${outside.length} not in the data${outside.length ? `: ${outside[0]}…` : ''}; ${unscored.length} in no fold${unscored.length ? `: ${unscored[0]}…` : ''}): the data changed since the folds were trained`,
    );
  return fold;
}

/** Out-of-fold probabilities of every patient, fold by fold (one model on the device at a time). */
async function outOfFold(
  paths: readonly string[],
  volumes: readonly Volume[],
  c: TrainConfig,
  log: (s: string) => void,
): Promise<{ cases: (Case & { id: string; fold: number; slices: number })[]; loadedConfigs: TrainConfig[] }> {
  const loaded: LoadedCheckpoint[] = [];
  try {
    for (const p of paths) loaded.push(openCheckpoint(p));
    const fold = assignFolds(
      loaded,
      volumes.map((v) => v.id),
    );
    const cases: (Case & { id: string; fold: number; slices: number })[] = [];
    for (const [i, l] of loaded.entries()) {
      const mine = volumes.filter((v) => fold.get(v.id) === i);
      for (const v of mine) {
        const probs = await ensembleProbabilities([l.model], v, {
          batchSize: c['val-batch-size'],
          tta: c.tta,
        });
        const shape = [v.depth, v.height, v.width];
        cases.push({
          id: v.id,
          fold: i,
          slices: v.depth,
          prob: volume(probs, shape),
          truth: binaryVolume(v.mask, shape),
        });
      }
      log(`  fold ${i}: ${plural(mine.length, 'patient')} predicted by ${shownPath(l.path)}`);
    }
    cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { cases, loadedConfigs: loaded.map((l) => l.train!.config) };
  } finally {
    for (const l of loaded) l.model.dispose();
  }
}

/**
 * The per-patient rows: the reference setting (0.5, lcc3d; its report gives HD95 too) and the plan's DSC and
 * volume, side by side. (The plan's surface distances are not computed: a second distance transform of every
 * volume would double the gathering's time at full scale for a column that is not the headline.)
 */
function oofRows(
  cases: readonly (Case & { id: string; fold: number; slices: number })[],
  ref: MetricsReport,
  sel: SelectResult,
): OofRow[] {
  const post = sel.steps.length ? parsePostprocess(sel.steps) : null;
  const lcc = parsePostprocess('lcc3d');
  return cases.map((c, i) => {
    const r = ref.rows[i];
    const bin = binarize(c.prob, sel.threshold);
    const planMask = post ? post(bin) : bin;
    return {
      id: c.id,
      fold: c.fold,
      slices: c.slices,
      referenceDsc: r.referenceDsc,
      rawDsc: r.dscNoLcc,
      hd95: r.hd95,
      trueVolume: countForeground(c.truth),
      predVolume: countForeground(lcc(binarize(c.prob, 0.5))),
      planDsc: diceFromConfusion(confusion(planMask, c.truth), { undefinedValue: 1 }),
      planVolume: countForeground(planMask),
    };
  });
}

/** `cv --collect` (and the end of a full `cv`): the tables, the plan and the report of the trained folds. */
export async function collectFolds(
  out: string,
  k: number,
  p: ParsedOptions,
  log: (s: string) => void,
): Promise<number> {
  const kind = p.values['fold-checkpoint'] as FoldCheckpoint;
  const paths = foldCheckpoints(out, k, kind);
  await initDevice();
  // The folds' own record of how they were trained: the data, its preprocessing and inference settings.
  const first = openCheckpoint(paths[0]);
  first.model.dispose();
  const c = first.train?.config;
  if (!c) throw new CliError(`${shownPath(paths[0])}: has no training record (not a fold of mriseg cv)`);
  const pool = makePool(p.given.has('workers') ? (p.values.workers as number) : c.workers);
  try {
    const data = await loadTrainingVolumes(c, pool, log);
    log(
      `cv: out-of-fold predictions of ${plural(data.volumes.length, 'patient')} (${kind} checkpoint of each fold)`,
    );
    const { cases, loadedConfigs } = await outOfFold(paths, data.volumes, c, log);
    for (const [i, fc] of loadedConfigs.entries())
      if (fc['image-size'] !== c['image-size'] || fc.data !== c.data)
        throw new CliError(`${shownPath(paths[i])}: trained on other data or at another size than fold 0`);
    const ref = evaluateCases(cases, { threshold: 0.5, postprocess: parsePostprocess('lcc3d') });
    const sel = selectPostprocess(cases);
    const rows = oofRows(cases, ref, sel);
    const summary = Object.fromEntries(
      OOF_STATS.map(([name, key]) => [name, summarize(rows.map((r) => r[key] as number))]),
    );
    const plan: CvPlan = {
      kind: PLAN_KIND,
      folds: k,
      checkpoints: paths.map((x) => relative(out, x)),
      foldCheckpoint: kind,
      threshold: sel.threshold,
      postprocess: sel.steps.length ? sel.steps.join(',') : 'none',
      baselineDsc: sel.baselineDsc,
      referenceDsc: summary.reference_dsc.mean,
      planDsc: sel.meanDsc,
      patients: rows.length,
    };
    writeFileSafe(join(out, 'oof-patients.csv'), oofCsv(rows));
    writeFileSafe(join(out, 'oof-summary.csv'), summaryCsv(summary));
    writeFileSafe(
      join(out, 'cv-summary.json'),
      `${JSON.stringify({ plan, summary, patients: rows, selection: sel.trials }, null, 2)}\n`,
    );
    writeFileSafe(join(out, PLAN_FILE), `${JSON.stringify(plan, null, 2)}\n`);
    writeCvReport(out, c, { rows, summary, selection: sel, plan });
    printResult(rows, summary, plan, log);
    log(
      `wrote ${shownPath(join(out, 'oof-patients.csv'))}, oof-summary.csv, cv-summary.json, ${PLAN_FILE} and cv-report.md in ${shownPath(out)}`,
    );
    log(
      `fold ensemble with the plan: ${commandLine(['predict', '--checkpoint', shownPath(out), '--input', '<patients>', '--out', '<masks>'])}`,
    );
    return 0;
  } finally {
    await pool.close();
  }
}

function printResult(
  rows: readonly OofRow[],
  summary: Record<string, Summary>,
  plan: CvPlan,
  log: (s: string) => void,
): void {
  const f4 = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : String(v));
  for (const r of rows)
    log(
      `  ${r.id.padEnd(24)} fold ${r.fold}  DSC ${f4(r.referenceDsc)}  raw ${f4(r.rawDsc)}  plan ${f4(r.planDsc)}  HD95 ${f4(r.hd95)}  volume ${r.trueVolume} → ${r.predVolume}`,
    );
  const s = summary.reference_dsc;
  log(
    `Cross-validated mean DSC (reference metric, out of fold, ${plural(rows.length, 'patient')}): ${f4(s.mean)} ± ${f4(s.std)}  median ${f4(s.median)}  IQR ${f4(s.iqr)} (${f4(s.q1)}–${f4(s.q3)})`,
  );
  const gain = plan.planDsc - plan.baselineDsc;
  log(
    `plan (chosen out of fold): threshold ${plan.threshold}, post-processing ${plan.postprocess}: mean DSC ${f4(plan.planDsc)} (rounded alone ${f4(plan.baselineDsc)}, ${gain >= 0 ? '+' : ''}${f4(gain)}; chosen on these patients, so mildly optimistic)`,
  );
}
