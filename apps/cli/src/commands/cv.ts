/**
 * `cv`: K-fold cross-validation by patient. Each fold is an ordinary `train` run in `<cv>/fold-I` (so it locks,
 * checkpoints and resumes as train does); then `collectFolds` (lib/cv-collect.ts) gathers the out-of-fold
 * predictions, the tables, the post-processing plan and the report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { assertOutsideSource, scanDataset } from '@mriseg/data';
import { resolveTrainConfig, TRAIN_KEYS } from '../config.js';
import { CliError, UsageError } from '../errors.js';
import { collectFolds } from '../lib/cv-collect.js';
import { CV_MANIFEST, FOLD_DONE, foldDir, readFoldDone } from '../lib/cv-files.js';
import { checkDataFolder } from '../lib/data.js';
import { prepareOutputFolder, writeFileSafe } from '../lib/files.js';
import { readCheckpoint, readTrainMeta } from '../lib/infer.js';
import { commandLine, shownPath } from '../lib/paths.js';
import { runStamp } from '../lib/run-dir.js';
import { existingRunFiles } from '../lib/run-folder.js';
import type { ParsedOptions } from '../options/parse.js';
import { runTrain, type TrainHooks } from './train.js';

/** What `cv.json` records: what makes the folds (a later call with other values would mix two splits). */
interface CvManifest {
  folds: number;
  seed: number;
  data: string | null;
}

/** The cv folder's manifest, written by the first call and checked by every later one. */
function checkManifest(dir: string, want: CvManifest): void {
  const path = join(dir, CV_MANIFEST);
  if (existsSync(path)) {
    let have: CvManifest;
    try {
      have = JSON.parse(readFileSync(path, 'utf8')) as CvManifest;
    } catch (e) {
      throw new CliError(`${shownPath(path)}: not valid JSON (${(e as Error).message})`);
    }
    for (const k of ['folds', 'seed', 'data'] as const)
      if (have[k] !== want[k])
        throw new UsageError(
          `${shownPath(dir)} holds a cross-validation with ${k} ${String(have[k])}, not ${String(want[k])}: its folds would mix two splits; give that ${k} or another --out`,
          'cv',
        );
    return;
  }
  writeFileSafe(path, `${JSON.stringify(want, null, 2)}\n`);
}

/** How far a fold is: done (its marker says so for at least these epochs), resumable, or to start. */
function foldState(dir: string, epochs: number): 'done' | 'resume' | 'start' | 'restart' {
  const done = readFoldDone(dir);
  if (done && done.epochs >= epochs) return 'done';
  if (existsSync(join(dir, 'last.safetensors'))) return 'resume';
  // Killed before its first epoch ended: nothing to resume; its files (config.json, split.json) are replaced.
  return existsSync(dir) && existingRunFiles(dir).length > 0 ? 'restart' : 'start';
}

/**
 * Train's parsed options for fold `i`: cv's own train options, with the fold's split (seeded by the run's seed, as
 * resolved from flags and --config) and folder.
 */
function foldOptions(
  p: ParsedOptions,
  seed: number,
  i: number,
  dir: string,
  resume: boolean,
  restart: boolean,
): ParsedOptions {
  const k = p.values.folds as number;
  const values = {
    ...p.values,
    split: `kfold:${k}:${i}:${seed}`,
    out: resume ? null : dir,
    resume: resume ? dir : null,
    force: restart,
  };
  const given = new Set([...p.given].filter((n) => (TRAIN_KEYS as string[]).includes(n) || n === 'config'));
  given.add('split');
  if (!resume) given.add('out');
  given.delete('resume');
  return { values, given };
}

export async function runCv(p: ParsedOptions, hooks: TrainHooks = {}): Promise<number> {
  const log = hooks.log ?? ((l: string) => console.log(l));
  const k = p.values.folds as number;
  const only = p.values.fold as number | null;
  const collect = p.values.collect === true;
  if (only !== null && only >= k)
    throw new UsageError(`--fold ${only}: folds are 0 to ${k - 1} (0-based) for --folds ${k}`, 'cv');
  if (only !== null && collect)
    throw new UsageError('--fold trains one fold; --collect gathers them all: give one of them', 'cv');
  // What each fold will be trained with (defaults, the demo's without --data, --config, flags).
  const c = resolveTrainConfig(foldOptions(p, 0, 0, '', false, false)).config;
  const out =
    (p.values.out as string | null) ?? join('runs', `${runStamp()}-cv-${c.data === null ? 'demo' : c.model}`);
  if (!collect) {
    // The cv folder lies outside the data, as each fold's run folder must (checked again by train).
    if (c.data !== null) {
      checkDataFolder('--data', c.data);
      assertOutsideSource(out, [c.data, ...scanDataset(c.data).map((f) => f.dir)], 'cv folder (--out)');
    }
    prepareOutputFolder('--out', out);
    checkManifest(out, { folds: k, seed: c.seed, data: c.data === null ? null : resolve(c.data) });
    const folds = only === null ? Array.from({ length: k }, (_, i) => i) : [only];
    for (const i of folds) {
      const dir = foldDir(out, i);
      const state = foldState(dir, c.epochs);
      if (state === 'done') {
        log(`fold ${i}/${k}: already trained (${shownPath(dir)})`);
        continue;
      }
      log(`fold ${i}/${k}: ${state === 'resume' ? 'resuming' : 'training'} in ${shownPath(dir)}`);
      const code = await runTrain(
        foldOptions(p, c.seed, i, dir, state === 'resume', state === 'restart'),
        hooks,
      );
      if (code !== 0) {
        log(
          `cv stopped in fold ${i} (exit ${code}); run the same command again to continue: ${commandLine(['cv', '--out', shownPath(out), '...'])}`,
        );
        return code;
      }
      markDone(dir);
    }
    if (only !== null) {
      const left = Array.from({ length: k }, (_, i) => i).filter(
        (i) => readFoldDone(foldDir(out, i)) === null,
      );
      log(
        left.length === 0
          ? `all ${k} folds trained; gather them: ${commandLine(['cv', '--folds', String(k), '--collect', '--out', shownPath(out)])}`
          : `fold ${only} trained; folds still to train: ${left.join(', ')}`,
      );
      return 0;
    }
  }
  return collectFolds(out, k, p, log);
}

/** The marker of a finished fold: the epochs its checkpoint has trained. */
function markDone(dir: string): void {
  const last = join(dir, 'last.safetensors');
  const meta = readTrainMeta(readCheckpoint(last), last);
  const epochs = meta?.config.epochs ?? 0;
  writeFileSafe(
    join(dir, FOLD_DONE),
    `${JSON.stringify({ epochs, trainedEpochs: meta?.state.epoch ?? 0, finished: new Date().toISOString() }, null, 2)}\n`,
  );
}
