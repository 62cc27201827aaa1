/**
 * The training configuration: defaults (the reference recipe, or the demo when no data folder is given), then a
 * `--config file.json` with the same keys as the flags, then the flags themselves. The options themselves (names,
 * defaults, checks) are declared in options/commands.ts.
 */
import { readFileSync } from 'node:fs';
import { type AugmentOptions, REFERENCE_AUGMENT } from '@mriseg/data';
import { UsageError } from './errors.js';
import { type AutotuneMode, TRAIN, type TtaMode } from './options/commands.js';
import { type ParsedOptions, parseCommandArgs } from './options/parse.js';
import { coerce, defaultsOf, demoDefaultsOf, findOption } from './options/schema.js';

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
  /** Optional preprocessing steps of @mriseg/data, recorded in the checkpoints' inference spec. */
  'bias-correct': boolean;
  'skull-strip': boolean;
  split: string;
  seed: number;
  'val-every': number;
  'val-batch-size': number;
  'early-stop': number;
  /** Decay of the exponential moving average of the weights (0: none). */
  ema: number;
  postprocess: string;
  tta: TtaMode;
  'log-every': number;
  workers: number;
  'demo-patients': number;
  /** Time the convolution tilings on the device before training: auto (on a GPU, not a CPU driver), on, off. */
  autotune: AutotuneMode;
  /** Replay training steps from captures (tensor-wgsl StepGraph): on, off. */
  replay: 'on' | 'off';
  out: string | null;
}

/** The reference recipe (brief §1): U-Net f32, 256², batch 16, Adam 1e-4, batch-pooled Dice, 100 epochs. */
export const REFERENCE_DEFAULTS = defaultsOf(TRAIN) as unknown as TrainConfig;

/**
 * The demo on the synthetic phantom set: small enough to finish in minutes on a 2-core CPU driver. A tiny
 * network learns faster with a larger lr; everything else is the reference recipe.
 */
export const DEMO_DEFAULTS = demoDefaultsOf(TRAIN) as Partial<TrainConfig>;

export const TRAIN_KEYS = Object.keys(REFERENCE_DEFAULTS) as (keyof TrainConfig)[];

/** Reads a JSON config file: keys as the option names, values checked as the flags' are. */
export function readConfigFile(path: string): Partial<TrainConfig> {
  const where = `--config ${path}`;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.message;
    throw new UsageError(`${where}: ${why}`, 'train');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new UsageError(`${where}: expected a JSON object of options`, 'train');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    const o = findOption(TRAIN, k);
    if (!o || o.config === false)
      throw new UsageError(`${where}: unknown key "${k}" (keys are the option names of train)`, 'train');
    out[k] = coerce(o, v, `${where}: ${k}`, 'train');
  }
  return out as Partial<TrainConfig>;
}

export interface ParsedTrainArgs {
  config: TrainConfig;
  /** Keys given explicitly (config file or flags), which a resumed run takes over its stored config. */
  explicit: Partial<TrainConfig>;
  resume: string | null;
}

/** Defaults ← (demo defaults without --data) ← --config file ← flags. */
export function resolveTrainConfig(p: ParsedOptions, stored?: TrainConfig): ParsedTrainArgs {
  const explicit: Record<string, unknown> = {};
  if (typeof p.values.config === 'string') Object.assign(explicit, readConfigFile(p.values.config));
  for (const k of TRAIN_KEYS) if (p.given.has(k)) explicit[k] = p.values[k];
  // Keys added since a stored run was started take their defaults.
  const base: TrainConfig = stored
    ? { ...REFERENCE_DEFAULTS, ...stored }
    : { ...REFERENCE_DEFAULTS, ...((explicit.data ?? null) === null ? DEMO_DEFAULTS : {}) };
  const config = { ...base, ...explicit } as TrainConfig;
  checkCombinations(config);
  const resume = typeof p.values.resume === 'string' ? p.values.resume : null;
  return { config, explicit: explicit as Partial<TrainConfig>, resume };
}

/** Models with deep-supervision heads (the others have one output, so the option would do nothing). */
const DEEP_SUPERVISED_MODELS = new Set(['unet++']);

/** Options that are each fine alone but contradict each other. */
function checkCombinations(c: TrainConfig): void {
  if (c['deep-supervision'] === true && !DEEP_SUPERVISED_MODELS.has(c.model))
    throw new UsageError(
      `--deep-supervision: ${c.model} has no deep-supervision heads (only ${[...DEEP_SUPERVISED_MODELS].join(', ')} has); leave it out`,
      'train',
    );
}

/** `train`'s argv (without the command name) to its configuration. */
export function parseTrainArgs(argv: string[], stored?: TrainConfig): ParsedTrainArgs {
  return resolveTrainConfig(parseCommandArgs(TRAIN, argv), stored);
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
