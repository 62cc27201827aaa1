/** mriseg command line: dispatches to the commands. */
import { parse, UsageError } from './args.js';
import { type BenchOptions, formatBench, runBench } from './commands/bench.js';
import { doctor } from './commands/doctor.js';
import { VERSION } from './version.js';

const USAGE = `mriseg ${VERSION} — brain MRI glioma segmentation on WebGPU

usage: mriseg <command> [options]

commands:
  doctor [--json]     the WebGPU adapter, its features and limits, versions
  bench [options]     training-step and inference img/s on synthetic data
      --model unet|attention-unet|unet++|resunet (unet)   --features N (32)
      --batch-size N (16)   --image-size N (256)   --warmup N (3)   --iters N (10)
      --mode train|infer|both (both)   --loss NAME (dice)   --json
  help                this text
`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
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
      json: { type: 'boolean', default: false },
    });
    const mode = values.mode as string;
    if (!['train', 'infer', 'both'].includes(mode))
      throw new UsageError(`--mode must be train, infer or both, not "${mode}"`);
    const o: BenchOptions = {
      model: values.model as string,
      features: positiveInt('--features', values.features),
      batchSize: positiveInt('--batch-size', values['batch-size']),
      imageSize: positiveInt('--image-size', values['image-size']),
      warmup: positiveInt('--warmup', values.warmup, 0),
      iters: positiveInt('--iters', values.iters),
      mode: mode as BenchOptions['mode'],
      loss: values.loss as string,
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
