/**
 * Every command's options, declared once. The parser, `mriseg <command> --help`, `--config` file checking and
 * the option tables of apps/cli/README.md are all made from these declarations.
 */
import { availableParallelism } from 'node:os';
import { MAX_PREPROCESS_SIZE } from '@mriseg/data';
import { MODEL_NAMES } from '@mriseg/models';
import { LOSS_NAMES } from '@mriseg/nn';
import type { CommandSpec, OptionSpec } from './schema.js';
import {
  checkPostprocess,
  parseScheduleSpec,
  parseSplitSpec,
  SCHEDULE_SYNTAX,
  SPLIT_SYNTAX,
} from './specs.js';

/** Model names and the other spellings `createModel` accepts. */
const MODEL_ALIASES = {
  attentionunet: 'attention-unet',
  'attn-unet': 'attention-unet',
  unetplusplus: 'unet++',
  'nested-unet': 'unet++',
  'res-unet': 'resunet',
} as const;

export const TTA_MODES = ['none', 'hflip', 'hvflip'] as const;
export type TtaMode = (typeof TTA_MODES)[number];
export const AUTOTUNE_MODES = ['auto', 'on', 'off'] as const;
export type AutotuneMode = (typeof AUTOTUNE_MODES)[number];

const POSTPROCESS_SYNTAX =
  'STEP[,STEP…] | none (steps of @mriseg/metrics: lcc3d, fill-holes2d, remove-small:N, …; crf[:KEY=V…] first)';

// -------------------------------------------------------------------------------------------- shared pieces

const model = (group: string): OptionSpec => ({
  name: 'model',
  kind: 'choice',
  choices: MODEL_NAMES,
  aliases: MODEL_ALIASES,
  default: 'unet',
  help: 'architecture',
  group,
});

const autotune = (group: string): OptionSpec => ({
  name: 'autotune',
  kind: 'choice',
  choices: AUTOTUNE_MODES,
  arg: 'MODE',
  default: 'auto',
  help: "time each convolution's candidate tilings on the device first and keep the fastest (auto: on a GPU, not on a CPU driver)",
  group,
});

/**
 * More decode threads than cores only add memory (each worker thread has its own heap and batch buffers) and
 * contention; 4 × cores leaves room for threads waiting on slow disks and stops `--workers 500`.
 */
const MAX_WORKERS = 4 * availableParallelism();

const workers = (group: string): OptionSpec => ({
  name: 'workers',
  kind: 'int',
  min: -1,
  max: { value: MAX_WORKERS, why: `4 × the ${availableParallelism()} cores` },
  default: -1,
  help: 'threads decoding and augmenting slices (-1: cores − 1; 0: in the main thread; at most 4 × cores)',
  group,
});

const cache = (group: string): OptionSpec => ({
  name: 'cache',
  kind: 'text',
  arg: 'DIR',
  default: null,
  defaultText: '~/.cache/mriseg/volumes',
  help: 'folder of preprocessed volumes, reused by later runs',
  group,
});

const imageSize = (
  group: string,
  o: { default: number | null; demo?: number; defaultText?: string; help?: string },
): OptionSpec => ({
  name: 'image-size',
  kind: 'int',
  min: 16,
  max: { value: MAX_PREPROCESS_SIZE, why: 'the largest side the preprocessing makes' },
  multipleOf: 16,
  help: 'in-plane size the slices are resized to (a multiple of 16: four poolings)',
  group,
  ...o,
});

/**
 * The optional preprocessing steps of @mriseg/data (before normalisation). train records them in its checkpoints;
 * evaluate, predict and ensemble follow the checkpoint unless given.
 */
const preprocessingSteps = (group: string, inference: boolean): OptionSpec[] =>
  [
    [
      'bias-correct',
      'N4-style bias-field correction of each channel before normalisation (about 3 s of CPU a patient, cached)',
    ],
    [
      'skull-strip',
      'zero everything outside a brain mask computed from the three channels, before normalisation',
    ],
  ].map(([name, help]) => ({
    name,
    kind: 'toggle',
    default: inference ? null : false,
    defaultText: inference ? "the checkpoint's (off)" : undefined,
    help,
    group,
  }));

/** The options of applying models (evaluate, predict, ensemble). */
function inferenceOptions(): OptionSpec[] {
  const g = 'Inference';
  return [
    {
      name: 'postprocess',
      kind: 'text',
      arg: 'STEPS',
      syntax: POSTPROCESS_SYNTAX,
      check: checkPostprocess,
      default: null,
      defaultText: "the checkpoint's (lcc3d)",
      help: 'post-processing of the probabilities (a crf step, first) and of the thresholded mask',
      group: g,
    },
    {
      name: 'threshold',
      kind: 'number',
      range: [0, 1],
      open: [true, true],
      default: null,
      defaultText: "the checkpoint's (0.5)",
      help: 'probability above which a voxel is tumour',
      group: g,
    },
    {
      name: 'tta',
      kind: 'choice',
      choices: TTA_MODES,
      arg: 'MODE',
      default: 'none',
      help: 'test-time augmentation: mean over flips',
      group: g,
    },
    imageSize(g, {
      default: null,
      defaultText: "the checkpoint's",
      help: 'override the input size the checkpoint records (a multiple of 16)',
    }),
    { name: 'batch-size', kind: 'int', min: 1, default: 16, help: 'slices a forward pass', group: g },
    ...preprocessingSteps(g, true),
  ];
}

const channelsOption = (group: string): OptionSpec => ({
  name: 'channels',
  kind: 'text',
  arg: 'MAP',
  default: null,
  help: 'sequences to the three input channels: pre=FILE,flair=FILE,post=FILE (NIfTI files or DICOM folders), or with a DICOM folder as --input pre=PATTERN,flair=PATTERN,post=PATTERN (SeriesDescription, * any text); a missing pre or post is replaced by FLAIR',
  group,
});

const checkpoint = (repeatable: boolean): OptionSpec => ({
  name: 'checkpoint',
  kind: 'text',
  arg: 'FILE',
  repeatable,
  required: true,
  default: null,
  help: repeatable
    ? 'a model (.safetensors from train); give it once for each model, two or more; a cv folder stands for its folds (and brings its plan)'
    : 'the model (.safetensors from train, or a PyTorch state dict with a known architecture), or a cv folder: the ensemble of its folds with its plan',
  group: 'Model',
});

const evaluationData = (): OptionSpec[] => [
  {
    name: 'data',
    kind: 'text',
    arg: 'DIR',
    default: null,
    defaultText: "the run's data (the demo set for a demo run)",
    help: 'Kaggle-layout folder to evaluate on',
    group: 'Data',
  },
  {
    name: 'split',
    kind: 'text',
    arg: 'SPEC',
    syntax: `all | ${SPLIT_SYNTAX}`,
    check: (s) => {
      if (s !== 'all') parseSplitSpec(s);
    },
    default: null,
    defaultText: "the run's validation patients",
    help: 'which patients: all, or the validation patients of a split',
    group: 'Data',
  },
  cache('Data'),
  workers('Data'),
];

// -------------------------------------------------------------------------------------------------- train

const T_DATA = 'Data';
const T_MODEL = 'Model';
const T_LOSS = 'Loss';
const T_OPT = 'Optimizer and schedule';
const T_LOOP = 'Training loop';
const T_VAL = 'Validation';
const T_RUN = 'Run folder';

const lossWeight = (name: string, help: string): OptionSpec => ({
  name,
  kind: 'number',
  range: [0, null],
  default: null,
  defaultText: "the loss's",
  help,
  group: T_LOSS,
});

export const TRAIN: CommandSpec = {
  name: 'train',
  summary: 'train a model; without --data a small demo on synthetic data (minutes on a CPU)',
  description:
    'Without --data, writes a synthetic demo data set once (phantom patients in the Kaggle layout) and trains a ' +
    'small U-Net on it with the demo defaults; with --data, the reference recipe (U-Net f32, 256², batch 16, ' +
    'Adam 1e-4, batch-pooled Dice, 100 epochs). Options can also come from a JSON file (--config) whose keys ' +
    'are the option names; flags override it.',
  options: [
    {
      name: 'data',
      kind: 'text',
      arg: 'DIR',
      default: null,
      defaultText: 'none: the synthetic demo set',
      help: 'Kaggle-layout folder (kaggle_3m: TCGA_*/<id>_<n>.tif and _mask.tif, or PNG)',
      group: T_DATA,
    },
    {
      name: 'split',
      kind: 'text',
      arg: 'SPEC',
      syntax: SPLIT_SYNTAX,
      check: (s) => void parseSplitSpec(s),
      default: 'reference',
      demo: 'random:1:3',
      help:
        "validation patients: the reference's 10; N drawn with SEED; fold I (0-based) of K, stratified by " +
        'tumour volume; or the IDs in a file (one a line, or a split.json)',
      group: T_DATA,
    },
    imageSize(T_DATA, { default: 256, demo: 64 }),
    {
      name: 'aug',
      kind: 'choice',
      choices: ['reference', 'none', 'strong'],
      default: 'reference',
      help: "augmentation: the reference's scale, rotate, flip; none; or those plus elastic, gamma, contrast, noise",
      group: T_DATA,
    },
    {
      name: 'sampler',
      kind: 'choice',
      choices: ['reference', 'uniform'],
      default: 'reference',
      help: 'slice sampling: weighted by tumour area within a random patient (reference), or uniform',
      group: T_DATA,
    },
    ...preprocessingSteps(T_DATA, false),
    cache(T_DATA),
    workers(T_DATA),
    {
      name: 'demo-patients',
      kind: 'int',
      min: 2,
      default: 12,
      help: 'phantom patients in the demo data set (without --data)',
      group: T_DATA,
    },
    model(T_MODEL),
    {
      name: 'features',
      kind: 'int',
      min: 1,
      default: 32,
      demo: 4,
      help: 'first-level width',
      group: T_MODEL,
    },
    {
      name: 'deep-supervision',
      kind: 'toggle',
      default: null,
      defaultText: "the model's",
      help: 'UNet++: train on the mean loss of every head (--no-deep-supervision: the last head only)',
      group: T_MODEL,
    },
    {
      name: 'loss',
      kind: 'choice',
      choices: LOSS_NAMES,
      default: 'dice',
      help: 'training loss (dice: batch-pooled soft Dice, smooth 1, as the reference)',
      group: T_LOSS,
    },
    lossWeight('smooth', 'Dice/Tversky smoothing term'),
    lossWeight('bce-weight', 'weight of BCE in bce-dice'),
    lossWeight('dice-weight', 'weight of Dice in bce-dice'),
    lossWeight('alpha', 'focal α / Tversky false-positive weight'),
    lossWeight('beta', 'Tversky false-negative weight'),
    lossWeight('gamma', 'focal γ'),
    lossWeight('pos-weight', 'BCE weight of positive voxels'),
    {
      name: 'optimizer',
      kind: 'choice',
      choices: ['adam', 'adamw', 'sgd'],
      default: 'adam',
      help: 'optimizer',
      group: T_OPT,
    },
    {
      name: 'lr',
      kind: 'number',
      range: [0, null],
      open: [true, false],
      default: 1e-4,
      demo: 3e-3,
      help: 'learning rate',
      group: T_OPT,
    },
    {
      name: 'weight-decay',
      kind: 'number',
      range: [0, null],
      default: 0,
      help: 'weight decay (decoupled for adamw)',
      group: T_OPT,
    },
    {
      name: 'momentum',
      kind: 'number',
      // PyTorch takes any μ ≥ 0, but the velocity μv + g weighs a gradient k steps old by μ^k: at μ ≥ 1 old
      // gradients never fade and the steps grow without bound.
      range: [0, 1],
      open: [false, true],
      default: 0.9,
      help: 'SGD momentum, below 1 (Nesterov when > 0)',
      group: T_OPT,
    },
    {
      name: 'schedule',
      kind: 'text',
      arg: 'SPEC',
      syntax: SCHEDULE_SYNTAX,
      check: (s) => void parseScheduleSpec(s),
      default: 'none',
      help: 'learning-rate schedule (cosine and poly advance every step, step/multistep/exp every epoch, plateau on the validation DSC)',
      group: T_OPT,
    },
    {
      name: 'warmup',
      kind: 'number',
      arg: 'EPOCHS',
      range: [0, null],
      default: 0,
      help: 'linear learning-rate warm-up, in epochs (converted to steps)',
      group: T_OPT,
    },
    {
      name: 'clip-grad',
      kind: 'number',
      range: [0, null],
      default: 0,
      help: 'clip the global L2 norm of the gradients to X (0: off)',
      group: T_OPT,
    },
    { name: 'epochs', kind: 'int', min: 1, default: 100, demo: 5, help: 'epochs to train', group: T_LOOP },
    { name: 'batch-size', kind: 'int', min: 1, default: 16, demo: 4, help: 'slices a step', group: T_LOOP },
    {
      name: 'epoch-size',
      kind: 'int',
      min: 0,
      default: 0,
      help: 'samples an epoch (0: as many as there are training slices)',
      group: T_LOOP,
    },
    {
      name: 'seed',
      kind: 'int',
      min: 0,
      default: 42,
      help: 'seed of initialisation, sampling and augmentation',
      group: T_LOOP,
    },
    {
      name: 'log-every',
      kind: 'int',
      min: 1,
      default: 10,
      help: 'read the loss back from the GPU every N steps (no per-step synchronisation)',
      group: T_LOOP,
    },
    autotune(T_LOOP),
    {
      name: 'replay',
      kind: 'choice',
      choices: ['on', 'off'],
      default: 'on',
      help: "replay each training step from a capture of its dispatches once two captures agree (same results; off: every step runs the ops' JavaScript)",
      group: T_LOOP,
    },
    {
      name: 'val-every',
      kind: 'int',
      min: 1,
      default: 1,
      help: 'validate every N epochs (and after the last)',
      group: T_VAL,
    },
    {
      name: 'val-batch-size',
      kind: 'int',
      min: 1,
      default: 16,
      demo: 32,
      help: 'slices a validation forward pass',
      group: T_VAL,
    },
    {
      name: 'early-stop',
      kind: 'int',
      min: 0,
      default: 0,
      help: 'stop after N validations without a better mean DSC (0: off)',
      group: T_VAL,
    },
    {
      name: 'ema',
      kind: 'number',
      arg: 'DECAY',
      range: [0, 1],
      open: [false, true],
      default: 0,
      help: 'also keep an exponential moving average of the weights (e.g. 0.999 a step), validated and checkpointed beside them (last-ema, best-ema); 0: off',
      group: T_VAL,
    },
    {
      name: 'postprocess',
      kind: 'text',
      arg: 'STEPS',
      syntax: POSTPROCESS_SYNTAX,
      check: checkPostprocess,
      default: 'lcc3d',
      help: 'post-processing recorded in the checkpoints, the default of evaluate, predict and the viewer; validation also reports its DSC when it is not lcc3d (the best epoch is chosen on the reference metric)',
      group: T_VAL,
    },
    {
      name: 'tta',
      kind: 'choice',
      choices: TTA_MODES,
      arg: 'MODE',
      default: 'none',
      help: 'test-time augmentation of the validation DSC: mean over flips',
      group: T_VAL,
    },
    {
      name: 'out',
      kind: 'text',
      arg: 'DIR',
      default: null,
      defaultText: 'runs/<time>-<model> (demo: runs/<time>-demo)',
      help: 'run folder (checkpoints, metrics, report)',
      group: T_RUN,
    },
    {
      name: 'resume',
      kind: 'text',
      arg: 'RUN',
      config: false,
      default: null,
      help: 'continue a run folder (or a checkpoint of one) where it stopped; flags given override its stored options',
      group: T_RUN,
    },
    {
      name: 'force',
      kind: 'flag',
      config: false,
      help: 'start anew in an --out folder that holds a run: its checkpoints, metrics and report are deleted first (without it, train refuses such a folder; it never writes into one another process is running)',
      group: T_RUN,
    },
    {
      name: 'config',
      kind: 'text',
      arg: 'FILE',
      config: false,
      default: null,
      help: 'JSON file of options (keys as the option names, e.g. {"lr": 0.0003}); flags override it',
      group: T_RUN,
    },
  ],
  examples: [
    'train                                        # the demo on synthetic data',
    'train --data /data/kaggle_3m                 # the reference recipe (wants a GPU)',
    'train --data /data/kaggle_3m --split kfold:5:0 --epochs 20 --out runs/fold0',
    'train --resume runs/fold0 --epochs 40        # train on to epoch 40',
  ],
};

// ------------------------------------------------------------------------------------------------------ cv

/** Which checkpoint of each fold the out-of-fold predictions and the fold ensemble use. */
export const FOLD_CHECKPOINTS = ['last', 'best', 'last-ema', 'best-ema'] as const;
export type FoldCheckpoint = (typeof FOLD_CHECKPOINTS)[number];

/** Train's options a cross-validation sets itself (the split, the folder of each fold, resuming, starting anew). */
const CV_OWN = new Set(['split', 'out', 'resume', 'force']);

const T_CV = 'Cross-validation';

export const CV: CommandSpec = {
  name: 'cv',
  summary:
    'K-fold cross-validation by patient: trains the folds, then out-of-fold metrics and a post-processing plan',
  description:
    'Splits the patients into K folds stratified by tumour volume (seeded by --seed) and trains fold I on the ' +
    'others, into <out>/fold-I, one fold after another (or only --fold I, e.g. one fold per batch job). Running ' +
    'the same command again resumes: finished folds are skipped, interrupted ones continue from their last ' +
    'checkpoint. Once every fold is trained (or with --collect), each patient is predicted by the fold that did ' +
    'not train on it; the per-patient table, its summary and cv-report.md are written, and the threshold and ' +
    'post-processing are chosen on those out-of-fold predictions into plan.json, which predict, evaluate and ' +
    'ensemble use when given the cv folder. Every train option applies to each fold.',
  options: [
    {
      name: 'folds',
      kind: 'int',
      min: 2,
      default: 5,
      help: 'K: folds of patients',
      group: T_CV,
    },
    {
      name: 'fold',
      kind: 'int',
      min: 0,
      default: null,
      defaultText: 'all, one after another',
      help: 'train only fold I (0-based), e.g. as one task of a job array; --collect gathers the folds afterwards',
      group: T_CV,
    },
    {
      name: 'collect',
      kind: 'flag',
      help: 'train nothing: gather the trained folds into the out-of-fold table, the plan and the report',
      group: T_CV,
    },
    {
      name: 'fold-checkpoint',
      kind: 'choice',
      choices: FOLD_CHECKPOINTS,
      default: 'last',
      help: "each fold's checkpoint for the out-of-fold predictions and the ensemble (best: chosen on the fold's own validation patients, so optimistic; -ema: the weight average of --ema)",
      group: T_CV,
    },
    ...TRAIN.options.filter((o) => !CV_OWN.has(o.name)),
    {
      name: 'out',
      kind: 'text',
      arg: 'DIR',
      default: null,
      defaultText: 'runs/<time>-cv-<model> (demo: runs/<time>-cv-demo)',
      help: 'the cross-validation folder: fold-0 … fold-K−1 (run folders of train), the tables, plan.json, cv-report.md; give the same folder again to resume',
      group: T_RUN,
    },
  ],
  examples: [
    'cv --data /data/kaggle_3m --folds 5 --epochs 20 --out runs/cv5          # all folds, then the tables',
    'cv --data /data/kaggle_3m --folds 5 --fold 2 --out runs/cv5             # one fold (a job of an array)',
    'cv --data /data/kaggle_3m --folds 5 --collect --out runs/cv5            # gather the folds',
    'predict --checkpoint runs/cv5 --input /data/new_patient --out masks     # fold ensemble with the plan',
  ],
};

// ------------------------------------------------------------------------------- evaluate, predict, ensemble

export const EVALUATE: CommandSpec = {
  name: 'evaluate',
  summary: 'per-patient metrics of a checkpoint (reference DSC, HD95, …) as CSV and a summary',
  description:
    "Preprocesses the data as the checkpoint records (input size, preprocessing), takes the run's validation " +
    'patients (or --split), and writes patients.csv and summary.csv.',
  options: [
    checkpoint(false),
    ...evaluationData(),
    {
      name: 'input',
      kind: 'text',
      arg: 'PATH',
      default: null,
      help: 'a NIfTI or DICOM case instead of --data: a .nii/.nii.gz file (3-D FLAIR, or 4-D pre, FLAIR, post) or a DICOM folder; scored on its own grid, distances in mm',
      group: 'Data',
    },
    channelsOption('Data'),
    {
      name: 'truth',
      kind: 'text',
      arg: 'FILE',
      default: null,
      help: 'ground truth of --input/--channels: a NIfTI mask (non-zero is tumour) or a DICOM SEG on the same grid',
      group: 'Data',
    },
    ...inferenceOptions(),
    {
      name: 'out',
      kind: 'text',
      arg: 'DIR',
      default: null,
      defaultText: '<checkpoint folder>/evaluation',
      help: 'folder for patients.csv and summary.csv',
      group: 'Output',
    },
  ],
  examples: [
    'evaluate --checkpoint runs/<run>/best.safetensors --split all',
    'evaluate --checkpoint unet.safetensors --input case.nii.gz --truth case_seg.nii.gz --out eval',
  ],
};

export const PREDICT: CommandSpec = {
  name: 'predict',
  summary:
    'masks for new patients: NIfTI (and DICOM SEG) on the source grid, or Kaggle-named PNG/TIFF and overlays',
  description:
    "A NIfTI file or a DICOM folder (or --channels) gives <out>/<case>_mask.nii.gz with the input's affine and " +
    'header, and <out>/<case>_seg.dcm (DICOM SEG referencing the source series) for DICOM; a Kaggle-layout ' +
    'patient folder gives PNG and TIFF masks and overlays in its original frame.',
  options: [
    checkpoint(false),
    {
      name: 'input',
      kind: 'text',
      arg: 'PATH',
      default: null,
      help: 'a patient folder of <id>_<n>.tif|png slices (or a folder of such folders), a .nii/.nii.gz file (3-D FLAIR, or 4-D pre, FLAIR, post) or a DICOM folder',
      group: 'Data',
    },
    channelsOption('Data'),
    ...inferenceOptions(),
    {
      name: 'out',
      kind: 'text',
      arg: 'DIR',
      required: true,
      default: null,
      help: 'folder the masks are written to (<out>/<patient>/)',
      group: 'Output',
    },
    {
      name: 'force',
      kind: 'flag',
      help: 'overwrite masks and overlays that already exist in --out (without it, predict refuses before writing anything)',
      group: 'Output',
    },
  ],
  examples: [
    'predict --checkpoint runs/<run>/best.safetensors --input /data/TCGA_CS_4941_19960909 --out masks',
    'predict --checkpoint unet.safetensors --channels pre=t1.nii.gz,flair=flair.nii.gz,post=t1c.nii.gz --out masks',
    'predict --checkpoint unet.safetensors --input dicom/ --channels "pre=*T1*PRE*,flair=FLAIR,post=*POST*" --out masks',
  ],
};

export const ENSEMBLE: CommandSpec = {
  name: 'ensemble',
  summary: "average several models' probabilities (e.g. k-fold runs), then evaluate, or predict with --input",
  options: [
    checkpoint(true),
    ...evaluationData(),
    {
      name: 'input',
      kind: 'text',
      arg: 'PATH',
      default: null,
      help: 'predict masks for these patients (as predict: Kaggle-layout folders, a NIfTI file or a DICOM folder) instead of evaluating',
      group: 'Data',
    },
    channelsOption('Data'),
    ...inferenceOptions(),
    {
      name: 'out',
      kind: 'text',
      arg: 'DIR',
      default: null,
      defaultText: 'runs/<time>-ensemble (required with --input)',
      help: 'folder for the CSVs (or the masks), and ensemble.json naming the checkpoints',
      group: 'Output',
    },
    {
      name: 'force',
      kind: 'flag',
      help: 'with --input: overwrite masks and overlays that already exist in --out (without it, nothing is written then)',
      group: 'Output',
    },
  ],
  examples: [
    'ensemble --checkpoint runs/fold0/best.safetensors --checkpoint runs/fold1/best.safetensors --split all',
    'ensemble --checkpoint fold0.safetensors --checkpoint fold1.safetensors --channels pre=t1.nii.gz,flair=flair.nii.gz --out masks',
  ],
};

// ---------------------------------------------------------------------------------------------- bench, doctor

export const BENCH_MODES = ['train', 'infer', 'both'] as const;

export const BENCH: CommandSpec = {
  name: 'bench',
  summary: 'training-step and inference img/s, host and GPU ms, peak memory, on synthetic data',
  options: [
    {
      name: 'checkpoint',
      kind: 'text',
      arg: 'FILE',
      default: null,
      help: "measure this checkpoint's model at its recorded input size (instead of --model, --features)",
      group: 'Model',
    },
    { ...model('Model'), default: null, defaultText: 'unet' },
    {
      name: 'features',
      kind: 'int',
      min: 1,
      default: null,
      defaultText: '32',
      help: 'first-level width',
      group: 'Model',
    },
    imageSize('Input', { default: null, defaultText: "256 (the checkpoint's with --checkpoint)" }),
    { name: 'batch-size', kind: 'int', min: 1, default: 16, help: 'images a step', group: 'Input' },
    {
      name: 'loss',
      kind: 'choice',
      choices: LOSS_NAMES,
      default: 'dice',
      help: 'loss of the training step',
      group: 'Input',
    },
    {
      name: 'mode',
      kind: 'choice',
      choices: BENCH_MODES,
      arg: 'MODE',
      default: 'both',
      help: 'what to time',
      group: 'Timing',
    },
    { name: 'warmup', kind: 'int', min: 0, default: 3, help: 'untimed steps first', group: 'Timing' },
    { name: 'iters', kind: 'int', min: 1, default: 10, help: 'timed steps', group: 'Timing' },
    {
      name: 'profile',
      kind: 'flag',
      help: "then the GPU ms of each kernel of one more step (needs the adapter's timestamp-query)",
      group: 'Timing',
    },
    autotune('Timing'),
    {
      name: 'replay',
      kind: 'choice',
      choices: ['on', 'off'],
      default: 'on',
      help: "replay each step from a capture of its dispatches once two captures agree, as train does (off: every step runs the ops' JavaScript)",
      group: 'Timing',
    },
    {
      name: 'tilings',
      kind: 'text',
      arg: 'FILE',
      default: null,
      help: 'pin the convolution tilings a tilings file chose (as --autotune saves them), matched by layer, so a smaller run launches the kernels a tuned run at another batch or size chose',
      group: 'Timing',
    },
    {
      name: 'backend',
      kind: 'choice',
      choices: ['default', 'null'],
      default: 'default',
      help: "Dawn's backend: null accepts every dispatch and runs none — the host's cost of issuing a step, measurable without a GPU (no autotuning; memory capped at 512 MiB)",
      group: 'Timing',
    },
    { name: 'json', kind: 'flag', help: 'print the result as one JSON object', group: 'Output' },
  ],
  examples: [
    'bench --model unet --batch-size 16 --image-size 256 --profile',
    'bench --backend null --model unet --batch-size 1 --image-size 256 --tilings tilings.json',
  ],
};

export const DOCTOR: CommandSpec = {
  name: 'doctor',
  summary: 'the WebGPU adapter, its features and limits, versions',
  options: [{ name: 'json', kind: 'flag', help: 'print the report as JSON', group: 'Output' }],
};

// ---------------------------------------------------------------------------------- export, convert (interop)

export const EXPORT_FORMATS = ['onnx'] as const;
export const BATCH_NORM_EXPORTS = ['fold', 'node'] as const;
export const UNETPP_HEADS = ['last', 'mean', '1', '2', '3', '4'] as const;

export const EXPORT: CommandSpec = {
  name: 'export',
  summary: 'a checkpoint as an ONNX model (ONNX Runtime, Triton, 3D Slicer, …), eval mode, dynamic batch',
  description:
    "Writes the model in eval mode for the checkpoint's input size (batch dimension dynamic), the output as logits " +
    '(or probabilities with --sigmoid), and its preprocessing, channels and threshold as metadata properties.',
  options: [
    checkpoint(false),
    {
      name: 'format',
      kind: 'choice',
      choices: EXPORT_FORMATS,
      default: 'onnx',
      help: 'file format',
      group: 'Output',
    },
    {
      name: 'out',
      kind: 'text',
      arg: 'FILE',
      required: true,
      default: null,
      help: 'file to write (written whole or not at all; never the checkpoint)',
      group: 'Output',
    },
    imageSize('Graph', {
      default: null,
      defaultText: "the checkpoint's",
      help: 'input height and width of the graph (a multiple of 16)',
    }),
    {
      name: 'batch-norm',
      kind: 'choice',
      choices: BATCH_NORM_EXPORTS,
      default: 'fold',
      help: 'BatchNorm folded into the convolutions, or as BatchNormalization nodes',
      group: 'Graph',
    },
    {
      name: 'sigmoid',
      kind: 'flag',
      help: 'end with a sigmoid: the output is probabilities instead of logits',
      group: 'Graph',
    },
    {
      name: 'head',
      kind: 'choice',
      choices: UNETPP_HEADS,
      default: null,
      defaultText: "the checkpoint's, else last",
      help: 'UNet++ only: the output of the last head, the mean of the four, or head 1–4',
      group: 'Graph',
    },
  ],
  examples: [
    'export --checkpoint runs/<run>/best.safetensors --format onnx --out model.onnx',
    'export --checkpoint unet.pt --out unet.onnx --sigmoid',
  ],
};

export const CONVERT: CommandSpec = {
  name: 'convert',
  summary: 'a PyTorch .pt state dict (e.g. the reference U-Net) into a checkpoint the other commands run',
  description:
    'Reads a torch.save file (zip format or the legacy format) without Python, refusing any pickle that asks for ' +
    'more than tensors; takes the architecture from its keys and shapes, checks every weight against it, and ' +
    "writes a .safetensors checkpoint with that configuration and inference settings (the reference's unless given).",
  positional: ['input', 'out'],
  options: [
    {
      name: 'input',
      kind: 'text',
      arg: 'FILE',
      required: true,
      default: null,
      help: 'the state dict: a PyTorch .pt file (or a safetensors file without mriseg metadata)',
      group: 'Files',
    },
    {
      name: 'out',
      kind: 'text',
      arg: 'FILE',
      required: true,
      default: null,
      help: 'the .safetensors checkpoint to write (written whole or not at all; never the input)',
      group: 'Files',
    },
    imageSize('Inference settings', {
      default: null,
      defaultText: '256',
      help: 'input size to record (a multiple of 16); the rest are the reference settings',
    }),
  ],
  examples: [
    'convert unet.pt unet.safetensors',
    'convert --input unet.pt --out unet.safetensors --image-size 256',
  ],
};

export const COMMAND_SPECS: readonly CommandSpec[] = [
  TRAIN,
  CV,
  EVALUATE,
  PREDICT,
  ENSEMBLE,
  BENCH,
  DOCTOR,
  EXPORT,
  CONVERT,
];
