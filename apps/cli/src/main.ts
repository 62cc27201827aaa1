/** mriseg command line: dispatches to the commands. */
import { parse, UsageError } from './args.js';
import { type BenchOptions, formatBench, runBench } from './commands/bench.js';
import { doctor } from './commands/doctor.js';
import { ensemble, evaluate, predict } from './commands/infer.js';
import { train } from './commands/train.js';
import { AUTOTUNE_MODES, type AutotuneMode } from './lib/autotune.js';
import { VERSION } from './version.js';

const USAGE = `mriseg ${VERSION} — brain MRI glioma segmentation on WebGPU

usage: mriseg <command> [options]

commands:
  train [options]     train a model; no options: a small demo on synthetic data (a few minutes on a CPU)
      --data DIR (kaggle_3m, TIFF or PNG; none: demo)   --config FILE.json (same keys as the flags)
      --model unet|attention-unet|unet++|resunet (unet)   --features N (32; demo 4)   --[no-]deep-supervision
      --loss dice|dice-per-sample|bce|bce-dice|focal|tversky|focal-tversky (dice)
          --smooth --bce-weight --dice-weight --alpha --beta --gamma --pos-weight
      --optimizer adam|adamw|sgd (adam)   --lr X (1e-4; demo 3e-3)   --weight-decay X (0)   --momentum X
      --schedule none|step:N[:G]|multistep:E1,E2[:G]|exp:G|cosine[:MIN]|poly[:P]|plateau[:N[:F]]   --warmup EPOCHS
      --epochs N (100; demo 5)   --batch-size N (16; demo 4)   --image-size N (256; demo 64)   --epoch-size N
      --aug reference|none|strong   --sampler reference|uniform   --clip-grad X
      --split reference|random:SEED:N|kfold:K:I|file:PATH (reference; demo random:1:3)   --seed N (42)
      --val-every N (1)   --early-stop N validations (0: off)   --postprocess STEPS   --tta none|hflip|hvflip
      --out DIR (runs/<time>-<model>)   --resume RUN_DIR|CHECKPOINT   --cache DIR   --workers N   --log-every N
      --autotune auto|on|off (auto: time the convolution tilings first on a GPU, not on a CPU driver)
  evaluate --checkpoint FILE [--data DIR] [--split all|SPEC] [--postprocess STEPS|none] [--tta M] [--out DIR]
                      per-patient CSV (reference DSC, raw DSC, IoU, HD95, volumes) and summary (mean, median, IQR)
  predict --checkpoint FILE --input DIR --out DIR [--postprocess STEPS|none] [--tta M] [--threshold X]
                      masks (PNG + TIFF, Kaggle names, original 256² frame) and overlay PNGs
  ensemble --checkpoint A --checkpoint B … (evaluate's or predict's options)
                      averages the models' probabilities (e.g. the folds of kfold:K:I runs)
  doctor [--json]     the WebGPU adapter, its features and limits, versions
  bench [options]     training-step and inference img/s on synthetic data
      --model unet|attention-unet|unet++|resunet (unet)   --features N (32)
      --batch-size N (16)   --image-size N (256)   --warmup N (3)   --iters N (10)
      --mode train|infer|both (both)   --loss NAME (dice)   --profile (GPU ms of each kernel)   --json
      --autotune auto|on|off (auto: on a GPU, not on a CPU driver): time the conv tilings first
  help                this text
`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  train: (argv) => train(argv),
  evaluate: (argv) => evaluate(argv),
  predict: (argv) => predict(argv),
  ensemble: (argv) => ensemble(argv),
  doctor: async (argv) => doctor(parse(argv, { json: { type: 'boolean' } }).values as { json?: boolean }),
  bench: async (argv) => {
    const { values } = parse(argv, {
      model: { type: 'string', default: 'unet' },
      features: { type: 'string', default: '32' },
      'batch-size': { type: 'string', default: '16' },
      'image-size': { type: 'string', default: '256' },
      warmup: { type: 'string', default: '3' },
      iters: { type: 'string', default: '10' },
      mode: { type: 'string', default: 'both' },
      loss: { type: 'string', default: 'dice' },
      profile: { type: 'boolean', default: false },
      autotune: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
    });
    const mode = values.mode as string;
    if (!['train', 'infer', 'both'].includes(mode))
      throw new UsageError(`--mode must be train, infer or both, not "${mode}"`);
    const autotune = values.autotune as AutotuneMode;
    if (!AUTOTUNE_MODES.includes(autotune))
      throw new UsageError(`--autotune must be auto, on or off, not "${autotune}"`);
    const o: BenchOptions = {
      model: values.model as string,
      features: positiveInt('--features', values.features),
      batchSize: positiveInt('--batch-size', values['batch-size']),
      imageSize: positiveInt('--image-size', values['image-size']),
      warmup: positiveInt('--warmup', values.warmup, 0),
      iters: positiveInt('--iters', values.iters),
      mode: mode as BenchOptions['mode'],
      loss: values.loss as string,
      profile: values.profile as boolean,
      autotune,
    };
    const r = await runBench(o);
    console.log(values.json ? JSON.stringify(r) : formatBench(r));
    return 0;
  },
  help: async () => {
    console.log(USAGE);
    return 0;
  },
};

function positiveInt(flag: string, value: unknown, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${flag} must be an integer ≥ ${min}, not "${value}"`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    console.log(VERSION);
    return 0;
  }
  const cmd = commands[name];
  try {
    if (!cmd) throw new UsageError(`unknown command "${name}"`);
    return await cmd(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`mriseg: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}
