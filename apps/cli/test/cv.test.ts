/**
 * `cv`: folds by patient (disjoint, covering, stratified), trained one after another and resumed after an
 * interruption, out-of-fold predictions of every patient, the plan chosen on them and used by predict, and the
 * fold ensemble. Tiny settings (f2 U-Net, 32², 5 phantom patients, 3 folds).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { restoreMask } from '@mriseg/data';
import { binarize, parsePostprocess, volume } from '@mriseg/metrics';
import { loadCheckpoint } from '@mriseg/nn/node';
import { initDevice } from '@mriseg/tensor-wgsl';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCv } from '../src/commands/cv.js';
import { findPatients, predictPatient, readImages } from '../src/commands/infer.js';
import { EXIT_INTERRUPTED } from '../src/commands/train.js';
import { ensembleProbabilities, openCheckpoint } from '../src/lib/infer.js';
import type { EpochRecord } from '../src/lib/report.js';
import { main } from '../src/main.js';
import { CV } from '../src/options/commands.js';
import { parseCommandArgs } from '../src/options/parse.js';
import { captureConsole, tinyDataset, tinyTrainArgs } from './fixture.js';

let fx: ReturnType<typeof tinyDataset>;
let lines: string[];
const log = (s: string) => void lines.push(s);
const io = captureConsole();

beforeAll(async () => {
  await initDevice();
  fx = tinyDataset();
});
beforeEach(() => {
  lines = [];
});

/** cv's flags: the tiny train run's, less its split, with the cv folder as --out. */
function cvArgs(out: string, extra: string[] = []): string[] {
  const a = tinyTrainArgs(fx.data, out, ['--folds', '3', ...extra]);
  a.splice(a.indexOf('--split'), 2);
  return a;
}

const cv = (argv: string[], onStep?: (s: number) => void) =>
  runCv(parseCommandArgs(CV, argv), { log, ...(onStep ? { onStep } : {}) });

const json = <T>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T;
const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochRecord);

describe('cv', () => {
  const dir = () => join(fx.root, 'cv3');

  it('trains the folds, resumes an interrupted one, and gathers out-of-fold predictions of every patient', async () => {
    // Interrupted (Ctrl-C) in the second batch of fold 1's second epoch.
    let foldsStarted = 0;
    const code = await cv(cvArgs(dir()), (step) => {
      if (step === 1) foldsStarted++;
      if (foldsStarted === 2 && step === 6)
        (process.listeners('SIGINT').at(-1) as (s: string) => void)('SIGINT');
    });
    expect(code).toBe(EXIT_INTERRUPTED);
    expect(existsSync(join(dir(), 'fold-0', 'cv-fold.json'))).toBe(true);
    expect(existsSync(join(dir(), 'fold-1', 'cv-fold.json'))).toBe(false);
    const fold0 = readFileSync(join(dir(), 'fold-0', 'last.safetensors'));

    // The same command again: fold 0 is kept, fold 1 resumes where it stopped, fold 2 trains, then the tables.
    lines = [];
    expect(await cv(cvArgs(dir()))).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/fold 0\/3: already trained/);
    expect(text).toMatch(/fold 1\/3: resuming/);
    expect(text).toMatch(/fold 2\/3: training/);
    expect(readFileSync(join(dir(), 'fold-0', 'last.safetensors')).equals(fold0)).toBe(true);
    expect(metrics(join(dir(), 'fold-1')).map((r) => r.epoch)).toEqual([1, 2]);

    // Folds: disjoint, covering all 5 patients, k-fold stratified by tumour volume with the cv seed.
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = json<{ spec: Record<string, unknown>; validation: string[]; train: string[] }>(
        join(dir(), `fold-${i}`, 'split.json'),
      );
      expect(s.spec).toMatchObject({ kind: 'kfold', k: 3, fold: i, seed: 5, volumes: '(given)' });
      expect(s.validation.filter((id) => s.train.includes(id))).toEqual([]);
      seen.push(...s.validation);
    }
    expect(seen.sort()).toEqual(
      findPatients(fx.data)
        .map((p) => p.id)
        .sort(),
    );

    // Out of fold: every patient once, by the fold that validated it.
    const csv = readFileSync(join(dir(), 'oof-patients.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(
      'patient,fold,slices,reference_dsc,raw_dsc,hd95,true_volume,pred_volume,plan_dsc,plan_volume',
    );
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => r[0]).sort()).toEqual([...seen].sort());
    for (const r of rows) {
      const fold = Number(r[1]);
      expect(json<{ validation: string[] }>(join(dir(), `fold-${fold}`, 'split.json')).validation).toContain(
        r[0],
      );
      expect(Number(r[3])).toBeGreaterThanOrEqual(0);
      expect(Number(r[3])).toBeLessThanOrEqual(1);
    }
    // Stratified: by tumour volume (the table's true_volume, the same preprocessed masks the split counted), each run
    // of K patients is spread over K different folds.
    const byVolume = [...rows].sort((a, b) => Number(a[6]) - Number(b[6]));
    expect(new Set(byVolume.slice(0, 3).map((r) => r[1])).size).toBe(3);
    expect(new Set(byVolume.slice(3).map((r) => r[1])).size).toBe(2);
    // The summary's mean is the mean of the table's reference DSC column.
    const summary = readFileSync(join(dir(), 'oof-summary.csv'), 'utf8').split('\n');
    const refMean = Number(summary.find((l) => l.startsWith('reference_dsc,'))!.split(',')[2]);
    const mean = rows.reduce((a, r) => a + Number(r[3]), 0) / rows.length;
    expect(refMean).toBeCloseTo(mean, 5);
    expect(text).toMatch(/Cross-validated mean DSC \(reference metric, out of fold, 5 patients\): /);

    // The plan: a threshold of the grid, and a mean DSC no lower than the rounded predictions'.
    const plan = json<{
      threshold: number;
      postprocess: string;
      checkpoints: string[];
      planDsc: number;
      baselineDsc: number;
    }>(join(dir(), 'plan.json'));
    expect(plan.threshold).toBeGreaterThanOrEqual(0.3);
    expect(plan.threshold).toBeLessThanOrEqual(0.7);
    expect(plan.planDsc).toBeGreaterThanOrEqual(plan.baselineDsc);
    // The table's plan column is what the choice scored; its raw column what it started from.
    expect(rows.reduce((a, r) => a + Number(r[8]), 0) / rows.length).toBeCloseTo(plan.planDsc, 5);
    expect(rows.reduce((a, r) => a + Number(r[4]), 0) / rows.length).toBeCloseTo(plan.baselineDsc, 5);
    expect(plan.checkpoints).toEqual([0, 1, 2].map((i) => join(`fold-${i}`, 'last.safetensors')));
    const report = readFileSync(join(dir(), 'cv-report.md'), 'utf8');
    expect(report).toContain('## Post-processing chosen out of fold');
    expect(report).toContain('## Per-fold validation curves');
    for (const r of rows) expect(report).toContain(`| ${r[0]} | ${r[1]} |`);
  });

  it('predict --checkpoint <cv folder>: the fold ensemble with the plan', async () => {
    const plan = json<{ threshold: number; postprocess: string }>(join(dir(), 'plan.json'));
    const [patient] = findPatients(fx.data);
    const masks = join(fx.root, 'cv-masks');
    io.out = [];
    expect(await main(['predict', '--checkpoint', dir(), '--input', patient.dir, '--out', masks])).toBe(0);
    const said = io.out.join('\n');
    expect(said).toContain('(3 models;');
    expect(said).toContain(`threshold ${plan.threshold}, post-processing ${plan.postprocess}`);
    expect(said).toMatch(/note: the cross-validation plan .*plan\.json/);

    // evaluate takes the folder too (all patients, said to be in-sample) and a fold checkpoint alone takes the plan.
    io.out = [];
    expect(await main(['evaluate', '--checkpoint', dir(), '--workers', '0'])).toBe(0);
    expect(io.out.join('\n')).toMatch(/evaluate: 3 models on 5 patients .*split all/);
    expect(io.out.join('\n')).toMatch(/in-sample/);
    expect(existsSync(join(dir(), 'evaluation', 'patients.csv'))).toBe(true);
    io.out = [];
    const fold0 = join(dir(), 'fold-0', 'last.safetensors');
    expect(await main(['evaluate', '--checkpoint', fold0, '--workers', '0', '--threshold', '0.6'])).toBe(0);
    expect(io.out.join('\n')).toContain(`threshold 0.6 (given), post-processing ${plan.postprocess}`);

    // The ensemble is the mean of the folds' probabilities, thresholded and post-processed as the plan says.
    const loaded = [0, 1, 2].map((i) => openCheckpoint(join(dir(), `fold-${i}`, 'last.safetensors')));
    try {
      const raw = readImages(patient);
      const o = { batchSize: 16, tta: 'none' as const, preprocess: { size: 32 } };
      const got = await predictPatient(loaded, raw, {
        ...o,
        threshold: plan.threshold,
        postprocess: plan.postprocess,
      });
      const v = got.volume;
      const each = [];
      for (const l of loaded) each.push(await ensembleProbabilities([l.model], v));
      const mean = new Float32Array(each[0].length);
      for (let i = 0; i < mean.length; i++) mean[i] = (each[0][i] + each[1][i] + each[2][i]) / 3;
      const bin = binarize(volume(mean, [v.depth, v.height, v.width]), plan.threshold);
      const want = plan.postprocess === 'none' ? bin : parsePostprocess(plan.postprocess)(bin);
      expect(got.mask).toEqual(restoreMask(want.data, v, raw));
    } finally {
      for (const l of loaded) l.model.dispose();
    }
  });

  it('--fold trains one fold; --collect names the folds still missing; bad fold numbers are usage errors', async () => {
    const one = join(fx.root, 'cv-one');
    // What a fold killed before its first epoch ended leaves: no checkpoint; it starts again.
    mkdirSync(join(one, 'fold-1'), { recursive: true });
    writeFileSync(join(one, 'fold-1', 'config.json'), '{}');
    expect(await cv(cvArgs(one, ['--fold', '1', '--epochs', '1']))).toBe(0);
    expect(lines.join('\n')).toMatch(/--force: removed the earlier run's config\.json/);
    expect(existsSync(join(one, 'fold-1', 'cv-fold.json'))).toBe(true);
    expect(existsSync(join(one, 'fold-0'))).toBe(false);
    expect(lines.join('\n')).toMatch(/folds still to train: 0, 2/);
    await expect(cv(cvArgs(one, ['--collect']))).rejects.toThrow(
      /2 folds without last\.safetensors \(0, 2\)/,
    );
    await expect(cv(cvArgs(one, ['--fold', '3']))).rejects.toThrow(/--fold 3: folds are 0 to 2/);
    await expect(cv(cvArgs(one, ['--folds', '4', '--fold', '0']))).rejects.toThrow(/folds 3, not 4/);
    expect(loadCheckpoint(join(one, 'fold-1', 'last.safetensors')).metadata.epoch).toBe(1);
  });
});
