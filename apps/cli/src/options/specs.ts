/**
 * The small languages of some option values: `--schedule cosine:1e-6`, `--split kfold:5:0`. The parsers throw
 * an Error saying what is wrong; the option schema adds the flag and the accepted forms to the message.
 */
import type { SplitSpec } from '@mriseg/data';
import { parsePostprocess } from '@mriseg/metrics';

export type ScheduleSpec =
  | { kind: 'none' }
  | { kind: 'step'; size: number; gamma: number }
  | { kind: 'multistep'; milestones: number[]; gamma: number }
  | { kind: 'exp'; gamma: number }
  | { kind: 'cosine'; minLr: number }
  | { kind: 'poly'; exponent: number }
  | { kind: 'plateau'; patience: number; factor: number };

export const SCHEDULE_SYNTAX =
  'none | step:N[:G] | multistep:E1,E2[:G] | exp:G | cosine[:MIN_LR] | poly[:P] | plateau[:N[:F]]';

export const SPLIT_SYNTAX = 'reference | random:SEED:N | kfold:K:I[:SEED] | file:PATH';

const num = (s: string | undefined, def?: number): number => {
  if ((s === undefined || s === '') && def !== undefined) return def;
  const n = Number(s);
  if (s === undefined || s === '' || !Number.isFinite(n)) throw new Error(`"${s ?? ''}" is not a number`);
  return n;
};

const int = (s: string | undefined, min: number, what: string): number => {
  const n = num(s);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what} "${s}" must be an integer ≥ ${min}`);
  return n;
};

/** none | step:SIZE[:GAMMA] | multistep:E1,E2[:GAMMA] | exp:GAMMA | cosine[:MIN_LR] | poly[:EXP] | plateau[:PATIENCE[:FACTOR]]. */
export function parseScheduleSpec(s: string): ScheduleSpec {
  const [kind, a, b] = s.split(':');
  switch (kind) {
    case 'none':
      return { kind };
    case 'step':
      return { kind, size: int(a, 1, 'step size'), gamma: num(b, 0.1) };
    case 'multistep':
      return {
        kind,
        milestones: (a ?? '').split(',').map((m) => int(m, 1, 'milestone')),
        gamma: num(b, 0.1),
      };
    case 'exp':
      return { kind, gamma: num(a) };
    case 'cosine':
      return { kind, minLr: num(a, 0) };
    case 'poly':
      return { kind, exponent: num(a, 0.9) };
    case 'plateau':
      return { kind, patience: int(a ?? '5', 0, 'patience'), factor: num(b, 0.5) };
    default:
      throw new Error(`unknown schedule "${kind}"`);
  }
}

/** reference | random:SEED:N | kfold:K:I[:SEED] | file:PATH (k-fold volumes are filled in once the data is loaded). */
export function parseSplitSpec(s: string): SplitSpec {
  const [kind, ...rest] = s.split(':');
  switch (kind) {
    case 'reference':
      if (rest.length > 0) throw new Error('reference takes no arguments');
      return { kind: 'reference' };
    case 'random':
      if (rest.length !== 2) throw new Error('random needs a seed and the number of validation patients');
      return {
        kind: 'random',
        seed: int(rest[0], 0, 'seed'),
        validation: int(rest[1], 1, 'validation patients'),
      };
    case 'kfold': {
      const k = int(rest[0], 2, 'K');
      const fold = int(rest[1], 0, 'fold');
      if (fold >= k) throw new Error(`fold ${fold} is not below K = ${k} (folds are 0-based)`);
      return { kind: 'kfold', k, fold, seed: rest[2] === undefined ? 42 : int(rest[2], 0, 'seed') };
    }
    case 'file':
      if (rest.join(':') === '') throw new Error('file:PATH needs a path');
      return { kind: 'file', path: rest.join(':') };
    default:
      throw new Error(`unknown split "${kind}"`);
  }
}

/** A post-processing pipeline (`lcc3d,fill-holes2d`), or `none`. */
export function checkPostprocess(s: string): void {
  if (s === 'none' || s === '') return;
  try {
    parsePostprocess(s);
  } catch (e) {
    throw new Error((e as Error).message.replace(/^parsePostprocess: /, ''));
  }
}
