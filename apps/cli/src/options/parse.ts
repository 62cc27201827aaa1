/**
 * The command line, parsed by commander from the declarations in commands.ts. Commander (a well-kept library)
 * does what a hand-written parser would do worse: per-command `--help` laid out to the terminal's width,
 * "did you mean" for mistyped options and commands, `--no-` forms, repeated options and `--opt=value`. It sees
 * every value as a string; checking and converting is the schema's (schema.ts `coerce`), the same code that
 * checks `--config` files, so a flag and a config key cannot disagree.
 */
import { Command, CommanderError, Option } from 'commander';
import { UsageError } from '../errors.js';
import { selfCommand } from '../lib/paths.js';
import { VERSION } from '../version.js';
import { COMMAND_SPECS } from './commands.js';
import {
  argName,
  type CommandSpec,
  coerce,
  defaultShown,
  type OptionSpec,
  showValue,
  type Value,
  valuesShort,
} from './schema.js';

export interface ParsedOptions {
  /** Every option of the command: the value given, else its default (null where the default is unset). */
  values: Record<string, Value>;
  /** The options given on the command line. */
  given: Set<string>;
}

export interface Invocation extends ParsedOptions {
  command: string;
  /** `-C DIR`: run as if started in DIR. */
  directory: string | null;
  debug: boolean;
}

/** Either a command to run, or help/version was printed (or help after a missing command) with this exit code. */
export type ParseOutcome = { kind: 'run'; invocation: Invocation } | { kind: 'exit'; code: number };

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Commander's exits that are not errors: help and version were printed. */
const PRINTED = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** The description of an option in `--help`: what it does, the accepted values, the default. */
export function helpText(o: OptionSpec): string {
  const values = valuesShort(o);
  const d = defaultShown(o);
  const demo = o.demo !== undefined ? `; demo ${showValue(o.demo)}` : '';
  const def = d ? ` (default ${d}${demo})` : demo ? ` (${demo.slice(2)})` : '';
  return `${o.help}${values ? ` [${values}]` : ''}${def}${o.required ? ' (required)' : ''}`;
}

const attribute = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function addOptions(cmd: Command, spec: CommandSpec): void {
  for (const o of spec.options) {
    const arg = argName(o);
    const opt = new Option(arg ? `--${o.name} <${arg}>` : `--${o.name}`, helpText(o));
    if (o.kind === 'text' && o.repeatable)
      opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    if (o.group) opt.helpGroup(`${o.group}:`);
    cmd.addOption(opt);
    if (o.kind === 'toggle') {
      const off = new Option(`--no-${o.name}`, `turn ${o.name} off`);
      if (o.group) off.helpGroup(`${o.group}:`);
      cmd.addOption(off);
      refuseBothForms(cmd, o.name, spec.name);
    }
  }
}

/**
 * `--x` and `--no-x` on one command line contradict each other; commander would let the last one win, which hides
 * a mistake (often one half of a pasted command line), so it is a usage error.
 */
function refuseBothForms(cmd: Command, name: string, command: string): void {
  const seen = new Set<string>();
  const note = (form: string) => () => {
    seen.add(form);
    if (seen.size === 2)
      throw new UsageError(`--${name} and --no-${name} contradict each other: give one of them`, command);
  };
  cmd.on(`option:${name}`, note('on'));
  cmd.on(`option:no-${name}`, note('off'));
}

/** Commander's message ("error: unknown option '--x'\n(Did you mean --y?)") as one line without the prefix. */
function tidy(message: string): string {
  return message
    .replace(/^error: /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

function configure(cmd: Command, io: Output, name: string | null): void {
  cmd
    .exitOverride((e: CommanderError) => {
      if (PRINTED.has(e.code)) throw e;
      if (e.code === 'commander.excessArguments')
        throw new UsageError(`takes options only, not "${cmd.args.join(' ')}" (options start with --)`, name);
      throw new UsageError(tidy(e.message), name);
    })
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .configureHelp({ showGlobalOptions: true });
}

/** Converts what commander collected into checked values; missing required options are usage errors. */
export function collect(spec: CommandSpec, opts: Record<string, unknown>): ParsedOptions {
  const values: Record<string, Value> = {};
  const given = new Set<string>();
  for (const o of spec.options) {
    const raw = opts[attribute(o.name)];
    if (raw === undefined) {
      if (o.required) {
        const at = spec.positional?.indexOf(o.name) ?? -1;
        const or = at >= 0 ? ` (or argument ${at + 1})` : '';
        throw new UsageError(`--${o.name} ${argName(o) ?? ''}${or} is required`, spec.name);
      }
      values[o.name] = o.default ?? (o.kind === 'flag' ? false : null);
      continue;
    }
    values[o.name] = coerce(o, raw, `--${o.name}`, spec.name);
    given.add(o.name);
  }
  return { values, given };
}

/** The command commander matched, with the arguments given in place of options (CommandSpec.positional). */
interface Chosen {
  spec: CommandSpec;
  cmd: Command;
  args: (string | undefined)[];
}

/** The options commander collected, with each positional argument as the option it stands for. */
function withPositional({ spec, cmd, args }: Chosen): Record<string, unknown> {
  const opts: Record<string, unknown> = { ...cmd.opts() };
  (spec.positional ?? []).forEach((name, i) => {
    if (args[i] === undefined) return;
    if (opts[attribute(name)] !== undefined)
      throw new UsageError(`--${name} given both as an argument and as an option`, spec.name);
    opts[attribute(name)] = args[i];
  });
  return opts;
}

function buildProgram(io: Output, chosen: Chosen[]): Command {
  const program = new Command('mriseg');
  configure(program, io, null);
  program
    .description(`mriseg ${VERSION}: brain MRI glioma segmentation on WebGPU`)
    .usage('[-C DIR] [--debug] <command> [options]')
    .version(VERSION, '-V, --version', 'print the version')
    .option('-C, --directory <DIR>', 'run as if started in DIR (relative paths, the default run folder)')
    .option('--debug', 'print the stack trace of an error (also MRISEG_DEBUG=1)')
    .helpCommand('help [command]', 'help for a command');
  for (const spec of COMMAND_SPECS) {
    const cmd = program
      .command(spec.name)
      .summary(spec.summary)
      .description(spec.description ?? spec.summary);
    configure(cmd, io, spec.name);
    addOptions(cmd, spec);
    if (spec.examples?.length) {
      const self = selfCommand();
      cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  ${self} ${e}`).join('\n')}`);
    }
    for (const name of spec.positional ?? []) cmd.argument(`[${name}]`, `the same as --${name}`);
    cmd.action((...args: unknown[]) => {
      chosen.push({ spec, cmd, args: args.slice(0, spec.positional?.length ?? 0) as (string | undefined)[] });
    });
  }
  return program;
}

/** Parses a whole command line (`train --epochs 3`, `-C dir evaluate …`, `help train`, `--version`). */
export function parseCommandLine(argv: string[], io: Output): ParseOutcome {
  const chosen: Chosen[] = [];
  const program = buildProgram(io, chosen);
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && PRINTED.has(e.code))
      // Help printed because no command was given is a usage error (2); asked-for help and version exit 0.
      return { kind: 'exit', code: e.exitCode === 0 ? 0 : 2 };
    throw e;
  }
  const global = program.opts() as { directory?: string; debug?: boolean };
  const [c] = chosen;
  if (!c) throw new UsageError('give a command', null);
  return {
    kind: 'run',
    invocation: {
      command: c.spec.name,
      ...collect(c.spec, withPositional(c)),
      directory: global.directory ?? null,
      debug: global.debug === true,
    },
  };
}

/** Parses the options of one command (its argv without the command name), for callers that run it directly. */
export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedOptions {
  const outcome = parseCommandLine([spec.name, ...argv], { out: () => {}, err: () => {} });
  if (outcome.kind === 'exit') throw new UsageError('help is only printed by the command line', spec.name);
  return { values: outcome.invocation.values, given: outcome.invocation.given };
}
