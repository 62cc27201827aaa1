/**
 * The small languages of some option values: `--schedule cosine:1e-6`, `--split kfold:5:0`. The parsers throw
 * an Error saying what is wrong; the option schema adds the flag and the accepted forms to the message.
 */
import type { SplitSpec } from '@mriseg/data';
import { parsePostprocess } from '@mriseg/metrics';
import { toNumber } from './schema.js';

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
  const n = toNumber(s ?? '');
  if (!Number.isFinite(n)) throw new Error(`"${s ?? ''}" is not a number`);
  return n;
};

const int = (s: string | undefined, min: number, what: string): number => {
  const n = toNumber(s ?? '', true);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`${what} "${s ?? ''}" must be an integer ≥ ${min}`);
  return n;
};

/**
 * A factor the learning rate is multiplied by: it must be > 0, or the lr would become zero or negative (a
 * negative lr climbs the loss instead of descending it). `below1`: it must also shrink the lr (plateau's factor,
 * as PyTorch's ReduceLROnPlateau requires).
 */
const factor = (s: string | undefined, def: number, what: string, below1 = false): number => {
  const n = num(s, def);
  if (n <= 0 || (below1 && n >= 1))
    throw new Error(
      `${what} ${n} must be ${below1 ? 'in (0, 1)' : '> 0'}: the learning rate is multiplied by it${below1 ? ' to lower it' : ''}, and a factor ≤ 0 makes it zero or negative`,
    );
  return n;
};

/** A value ≥ 0 (a minimum learning rate, an exponent). */
const nonNegative = (s: string | undefined, def: number, what: string): number => {
  const n = num(s, def);
  if (n < 0) throw new Error(`${what} ${n} must be ≥ 0`);
  return n;
};

/** none | step:SIZE[:GAMMA] | multistep:E1,E2[:GAMMA] | exp:GAMMA | cosine[:MIN_LR] | poly[:EXP] | plateau[:PATIENCE[:FACTOR]]. */
export function parseScheduleSpec(s: string): ScheduleSpec {
  const [kind, a, b] = s.split(':');
  switch (kind) {
    case 'none':
      return { kind };
    case 'step':
      return { kind, size: int(a, 1, 'step size'), gamma: factor(b, 0.1, 'gamma') };
    case 'multistep':
      return {
        kind,
        milestones: (a ?? '').split(',').map((m) => int(m, 1, 'milestone')),
        gamma: factor(b, 0.1, 'gamma'),
      };
    case 'exp':
      if (a === undefined || a === '') throw new Error('exp needs its factor G (exp:0.95)');
      return { kind, gamma: factor(a, 1, 'gamma') };
    case 'cosine':
      return { kind, minLr: nonNegative(a, 0, 'minimum lr') };
    case 'poly':
      return { kind, exponent: nonNegative(a, 0.9, 'exponent') };
    case 'plateau':
      return {
        kind,
        patience: int(a === undefined || a === '' ? '5' : a, 0, 'patience'),
        factor: factor(b, 0.5, 'factor', true),
      };
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
