/**
 * The files of a cross-validation folder: `cv.json` (how the folds are made), `fold-I/` (a train run each, with
 * `cv-fold.json` once finished), and `plan.json` (the threshold and post-processing chosen out of fold, and the
 * fold checkpoints the ensemble averages), which evaluate, predict and ensemble read.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError } from '../errors.js';
import { shownPath } from './paths.js';

export const CV_MANIFEST = 'cv.json';
export const FOLD_DONE = 'cv-fold.json';
export const PLAN_FILE = 'plan.json';
export const PLAN_KIND = 'mriseg-cv-plan';

export const foldDir = (cv: string, i: number) => join(cv, `fold-${i}`);

/** A finished fold's marker (null when the fold has not finished). */
export function readFoldDone(dir: string): { epochs: number } | null {
  const path = join(dir, FOLD_DONE);
  if (!existsSync(path)) return null;
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as { epochs?: unknown };
    return typeof j.epochs === 'number' ? { epochs: j.epochs } : null;
  } catch {
    // A torn marker is an unfinished fold: it is trained on (resumed) and the marker written again.
    return null;
  }
}

/** What plan.json holds. */
export interface CvPlan {
  kind: typeof PLAN_KIND;
  folds: number;
  /** The fold checkpoints, relative to the cv folder, fold 0 first. */
  checkpoints: string[];
  foldCheckpoint: string;
  threshold: number;
  /** Post-processing steps, comma-separated, or 'none'. */
  postprocess: string;
  /** Mean DSC out of fold: the rounded predictions alone, the reference metric, and with the plan. */
  baselineDsc: number;
  referenceDsc: number;
  planDsc: number;
  patients: number;
}

/** A plan and the folder it lies in. */
export interface FoundPlan {
  dir: string;
  plan: CvPlan;
  /** The fold checkpoints as paths from here. */
  checkpoints: string[];
}

/** Reads `<dir>/plan.json`, checked; errors name the file. */
export function readPlan(dir: string): FoundPlan {
  const path = join(dir, PLAN_FILE);
  let plan: CvPlan;
  try {
    plan = JSON.parse(readFileSync(path, 'utf8')) as CvPlan;
  } catch (e) {
    throw new CliError(`${shownPath(path)}: cannot read the cross-validation plan (${(e as Error).message})`);
  }
  const bad = (what: string) =>
    new CliError(`${shownPath(path)}: ${what} (a damaged plan; run cv --collect again)`);
  if (plan?.kind !== PLAN_KIND) throw bad(`not a plan of mriseg cv (kind ${JSON.stringify(plan?.kind)})`);
  if (
    !Array.isArray(plan.checkpoints) ||
    plan.checkpoints.length < 2 ||
    !plan.checkpoints.every((c) => typeof c === 'string')
  )
    throw bad('lists no fold checkpoints');
  if (typeof plan.threshold !== 'number' || !(plan.threshold > 0 && plan.threshold < 1))
    throw bad(`has threshold ${JSON.stringify(plan.threshold)}`);
  if (typeof plan.postprocess !== 'string') throw bad('has no post-processing');
  return { dir, plan, checkpoints: plan.checkpoints.map((c) => join(dir, c)) };
}

/** Whether `path` is a cross-validation folder (one holding plan.json). */
export function isCvFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, PLAN_FILE));
}

/**
 * The plan that covers a fold checkpoint: `<cv>/fold-I/<file>` when `<cv>/plan.json` lists that file. A
 * checkpoint of a fold trained by cv is run with the plan chosen for it unless the options say otherwise.
 */
export function planOfCheckpoint(path: string): FoundPlan | null {
  const fold = dirname(resolve(path));
  if (!/^fold-\d+$/.test(basename(fold))) return null;
  const cv = dirname(fold);
  if (!existsSync(join(cv, PLAN_FILE))) return null;
  const found = readPlan(cv);
  return found.checkpoints.some((c) => resolve(c) === resolve(path)) ? found : null;
}
