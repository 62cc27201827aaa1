/** mriseg command line: dispatches to the commands. */
import { parse, UsageError } from './args.js';
import { doctor } from './commands/doctor.js';
import { VERSION } from './version.js';

const USAGE = `mriseg ${VERSION} — brain MRI glioma segmentation on WebGPU

usage: mriseg <command> [options]

commands:
  doctor [--json]     the WebGPU adapter, its features and limits, versions
  help                this text
`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  doctor: async (argv) => doctor(parse(argv, { json: { type: 'boolean' } }).values as { json?: boolean }),
  help: async () => {
    console.log(USAGE);
    return 0;
  },
};

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
