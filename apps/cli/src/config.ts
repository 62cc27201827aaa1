/**
 * The training configuration: defaults (the reference recipe, or the demo when no data folder is given), then a
 * `--config file.json` with the same keys as the flags, then the flags themselves.
 */
import { readFileSync } from 'node:fs';
import { type AugmentOptions, REFERENCE_AUGMENT, type SplitSpec } from '@mriseg/data';
import { parsePostprocess } from '@mriseg/metrics';
import { MODEL_NAMES } from '@mriseg/models';
import { LOSS_NAMES } from '@mriseg/nn';
import { parse, UsageError } from './args.js';

export interface TrainConfig {
  /** Kaggle-layout folder; null: the synthetic demo data set. */
  data: string | null;
  cache: string | null;
  model: string;
  features: number;
  'deep-supervision': boolean | null;
  loss: string;
  smooth: number | null;
  'bce-weight': number | null;
  'dice-weight': number | null;
  alpha: number | null;
  beta: number | null;
  gamma: number | null;
  'pos-weight': number | null;
  optimizer: 'adam' | 'adamw' | 'sgd';
  lr: number;
  'weight-decay': number;
  momentum: number;
  'clip-grad': number;
  schedule: string;
  warmup: number;
  epochs: number;
  'batch-size': number;
  'epoch-size': number;
  'image-size': number;
  aug: 'reference' | 'none' | 'strong';
  sampler: 'reference' | 'uniform';
  split: string;
  seed: number;
  'val-every': number;
  'val-batch-size': number;
  'early-stop': number;
  postprocess: string;
  tta: 'none' | 'hflip' | 'hvflip';
  'log-every': number;
  workers: number;
  'demo-patients': number;
  /** Time the convolution tilings on the device before training: auto (on a GPU, not a CPU driver), on, off. */
  autotune: 'auto' | 'on' | 'off';
  out: string | null;
}

/** The reference recipe (brief §1): U-Net f32, 256², batch 16, Adam 1e-4, batch-pooled Dice, 100 epochs. */
export const REFERENCE_DEFAULTS: TrainConfig = {
  data: null,
  cache: null,
  model: 'unet',
  features: 32,
  'deep-supervision': null,
  loss: 'dice',
  smooth: null,
  'bce-weight': null,
  'dice-weight': null,
  alpha: null,
  beta: null,
  gamma: null,
  'pos-weight': null,
  optimizer: 'adam',
  lr: 1e-4,
  'weight-decay': 0,
  momentum: 0.9,
  'clip-grad': 0,
  schedule: 'none',
  warmup: 0,
  epochs: 100,
  'batch-size': 16,
  'epoch-size': 0,
  'image-size': 256,
  aug: 'reference',
  sampler: 'reference',
  split: 'reference',
  seed: 42,
  'val-every': 1,
  'val-batch-size': 16,
  'early-stop': 0,
  postprocess: '',
  tta: 'none',
  'log-every': 10,
  workers: -1,
  'demo-patients': 12,
  autotune: 'auto',
  out: null,
};

/**
 * The demo on the synthetic phantom set: small enough to finish in a few minutes on a 2-core CPU driver. A
 * tiny network learns faster with a larger lr; everything else is the reference recipe.
 */
export const DEMO_DEFAULTS: Partial<TrainConfig> = {
  features: 4,
  'image-size': 64,
  'batch-size': 4,
  lr: 3e-3,
  epochs: 5,
  split: 'random:1:3',
  'val-batch-size': 32,
};

/** Keys whose values are integers; the other numeric keys take any number. */
const INT_KEY_LIST = [
  'features',
  'epochs',
  'batch-size',
  'epoch-size',
  'image-size',
  'seed',
  'val-every',
  'val-batch-size',
  'early-stop',
  'log-every',
  'workers',
  'demo-patients',
] as const;
const NUMBER_KEYS = [
  ...INT_KEY_LIST,
  'smooth',
  'bce-weight',
  'dice-weight',
  'alpha',
  'beta',
  'gamma',
  'pos-weight',
  'lr',
  'weight-decay',
  'momentum',
  'clip-grad',
  'warmup',
] as const;
const INT_KEYS = new Set<string>(INT_KEY_LIST);
const POSITIVE_KEYS = new Set<string>([
  'features',
  'lr',
  'epochs',
  'batch-size',
  'image-size',
  'val-every',
  'val-batch-size',
  'log-every',
  'demo-patients',
]);
const BOOLEAN_KEYS = ['deep-supervision'] as const;
const STRING_KEYS = [
  'data',
  'cache',
  'model',
  'loss',
  'optimizer',
  'schedule',
  'aug',
  'sampler',
  'split',
  'postprocess',
  'tta',
  'autotune',
  'out',
] as const;

export const TRAIN_KEYS = Object.keys(REFERENCE_DEFAULTS) as (keyof TrainConfig)[];

/** parseArgs options for `train`: every config key as a flag, plus --config and --resume. */
export function trainFlagOptions() {
  const o: Record<string, { type: 'string' | 'boolean' }> = {
    config: { type: 'string' },
    resume: { type: 'string' },
  };
  for (const k of TRAIN_KEYS)
    o[k] = { type: (BOOLEAN_KEYS as readonly string[]).includes(k) ? 'boolean' : 'string' };
  o['no-deep-supervision'] = { type: 'boolean' };
  return o;
}

/** Checks and converts one value (from a flag: a string; from a config file: any JSON value). */
function coerce(key: string, value: unknown, source: string): unknown {
  if (value === null) return null;
  if ((NUMBER_KEYS as readonly string[]).includes(key)) {
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && value.trim() !== ''
          ? Number(value)
          : Number.NaN;
    if (!Number.isFinite(n)) throw new UsageError(`${source}: ${key} must be a number, not "${value}"`);
    if (INT_KEYS.has(key) && !Number.isInteger(n))
      throw new UsageError(`${source}: ${key} must be an integer, not "${value}"`);
    if (POSITIVE_KEYS.has(key) ? !(n > 0) : n < 0 && key !== 'workers')
      throw new UsageError(
        `${source}: ${key} must be ${POSITIVE_KEYS.has(key) ? '> 0' : '≥ 0'}, not "${value}"`,
      );
    return n;
  }
  if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
    if (typeof value !== 'boolean') throw new UsageError(`${source}: ${key} must be true or false`);
    return value;
  }
  if ((STRING_KEYS as readonly string[]).includes(key)) {
    if (typeof value !== 'string') throw new UsageError(`${source}: ${key} must be a string`);
    return value;
  }
  throw new UsageError(`${source}: unknown key "${key}"`);
}

/** Reads a JSON config file (keys as the flags, without dashes in front). */
export function readConfigFile(path: string): Partial<TrainConfig> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config ${path}: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new UsageError(`--config ${path}: expected a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) out[k] = coerce(k, v, `--config ${path}`);
  return out as Partial<TrainConfig>;
}

export interface ParsedTrainArgs {
  config: TrainConfig;
  /** Keys given explicitly (config file or flags), which a resumed run takes over its stored config. */
  explicit: Partial<TrainConfig>;
  resume: string | null;
}

/** Defaults ← (demo defaults without --data) ← --config file ← flags; everything checked. */
export function parseTrainArgs(argv: string[], stored?: TrainConfig): ParsedTrainArgs {
  const { values, positionals } = parse(argv, trainFlagOptions());
  if (positionals.length > 0)
    throw new UsageError(`train takes no positional arguments (got "${positionals[0]}")`);
  const explicit: Record<string, unknown> = {};
  if (typeof values.config === 'string') Object.assign(explicit, readConfigFile(values.config));
  for (const k of TRAIN_KEYS) if (values[k] !== undefined) explicit[k] = coerce(k, values[k], `--${k}`);
  if (values['no-deep-supervision']) explicit['deep-supervision'] = false;
  const resume = typeof values.resume === 'string' ? values.resume : null;
  // Keys added since a stored run was started take their defaults.
  const base: TrainConfig = stored
    ? { ...REFERENCE_DEFAULTS, ...stored }
    : { ...REFERENCE_DEFAULTS, ...((explicit.data ?? null) === null ? DEMO_DEFAULTS : {}) };
  const config = { ...base, ...explicit } as TrainConfig;
  validate(config);
  return { config, explicit: explicit as Partial<TrainConfig>, resume };
}

function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): void {
  if (!allowed.includes(value as T))
    throw new UsageError(`--${key} must be one of ${allowed.join(', ')}, not "${value}"`);
}

export function validate(c: TrainConfig): void {
  oneOf('model', c.model.toLowerCase(), [
    ...MODEL_NAMES,
    'attention-unet',
    'nested-unet',
    'unetplusplus',
    'res-unet',
    'attn-unet',
  ]);
  oneOf('loss', c.loss, LOSS_NAMES);
  oneOf('optimizer', c.optimizer, ['adam', 'adamw', 'sgd']);
  oneOf('aug', c.aug, ['reference', 'none', 'strong']);
  oneOf('sampler', c.sampler, ['reference', 'uniform']);
  oneOf('tta', c.tta, ['none', 'hflip', 'hvflip']);
  oneOf('autotune', c.autotune, ['auto', 'on', 'off']);
  parseScheduleSpec(c.schedule);
  parseSplitSpec(c.split);
  try {
    if (c.postprocess) parsePostprocess(c.postprocess);
  } catch (e) {
    throw new UsageError(`--postprocess: ${(e as Error).message}`);
  }
  if (c['image-size'] % 16 !== 0)
    throw new UsageError(`--image-size must be a multiple of 16 (four poolings), not ${c['image-size']}`);
}

export type ScheduleSpec =
  | { kind: 'none' }
  | { kind: 'step'; size: number; gamma: number }
  | { kind: 'multistep'; milestones: number[]; gamma: number }
  | { kind: 'exp'; gamma: number }
  | { kind: 'cosine'; minLr: number }
  | { kind: 'poly'; exponent: number }
  | { kind: 'plateau'; patience: number; factor: number };

const num = (s: string | undefined, what: string, def?: number): number => {
  if ((s === undefined || s === '') && def !== undefined) return def;
  const n = Number(s);
  if (s === undefined || s === '' || !Number.isFinite(n))
    throw new UsageError(`${what}: "${s}" is not a number`);
  return n;
};

/** none | step:SIZE[:GAMMA] | multistep:E1,E2[:GAMMA] | exp:GAMMA | cosine[:MIN_LR] | poly[:EXP] | plateau[:PATIENCE[:FACTOR]]. */
export function parseScheduleSpec(s: string): ScheduleSpec {
  const [kind, a, b] = s.split(':');
  const w = `--schedule ${s}`;
  switch (kind) {
    case 'none':
      return { kind };
    case 'step':
      return { kind, size: num(a, w), gamma: num(b, w, 0.1) };
    case 'multistep':
      return { kind, milestones: (a ?? '').split(',').map((m) => num(m, w)), gamma: num(b, w, 0.1) };
    case 'exp':
      return { kind, gamma: num(a, w) };
    case 'cosine':
      return { kind, minLr: num(a, w, 0) };
    case 'poly':
      return { kind, exponent: num(a, w, 0.9) };
    case 'plateau':
      return { kind, patience: num(a, w, 5), factor: num(b, w, 0.5) };
    default:
      throw new UsageError(
        `--schedule must be none, step:N[:G], multistep:E1,E2[:G], exp:G, cosine[:MIN], poly[:P] or plateau[:N[:F]], not "${s}"`,
      );
  }
}

/** reference | random:SEED:N | kfold:K:I | file:PATH (k-fold volumes are filled in once the data is loaded). */
export function parseSplitSpec(s: string): SplitSpec {
  const [kind, ...rest] = s.split(':');
  const w = `--split ${s}`;
  const int = (v: string | undefined, min: number) => {
    const n = num(v, w);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${w}: "${v}" must be an integer ≥ ${min}`);
    return n;
  };
  switch (kind) {
    case 'reference':
      return { kind: 'reference' };
    case 'random':
      return { kind: 'random', seed: int(rest[0], 0), validation: int(rest[1], 1) };
    case 'kfold': {
      const k = int(rest[0], 2);
      const fold = int(rest[1], 0);
      if (fold >= k) throw new UsageError(`${w}: fold ${fold} is not below K = ${k} (folds are 0-based)`);
      return { kind: 'kfold', k, fold, seed: rest[2] === undefined ? 42 : int(rest[2], 0) };
    }
    case 'file':
      if (rest.length === 0 || rest.join(':') === '') throw new UsageError(`${w}: file:PATH needs a path`);
      return { kind: 'file', path: rest.join(':') };
    default:
      throw new UsageError(`--split must be reference, random:SEED:N, kfold:K:I or file:PATH, not "${s}"`);
  }
}

/** Augmentation by name: the reference's transforms, none, or those plus elastic, gamma, intensity and noise. */
export function augmentOptions(name: TrainConfig['aug']): AugmentOptions | null {
  if (name === 'none') return null;
  if (name === 'reference') return REFERENCE_AUGMENT;
  return {
    ...REFERENCE_AUGMENT,
    elastic: { prob: 0.25, alpha: 2, sigma: 12 },
    gamma: { prob: 0.3, range: [0.7, 1.5] },
    brightnessContrast: { prob: 0.3, brightness: 0.1, contrast: 0.1 },
    noise: { prob: 0.2, std: 0.05 },
  };
}
