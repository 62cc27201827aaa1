/**
 * Command-line options, declared once per command (commands.ts). From a declaration follow the parser
 * (parse.ts, through commander), `mriseg <command> --help`, the checking of `--config` files, and the option
 * tables of the README (readme.ts; a test keeps them equal). This module holds what an option is and how a value
 * — a string from a flag or any JSON value from a config file — is checked and converted.
 */
import { UsageError } from '../errors.js';

export type Value = string | number | boolean | string[] | null;

interface Common {
  /** The flag without dashes; also its key in a config file. */
  name: string;
  /** One line for `--help` and the README. */
  help: string;
  /** Heading the option is listed under in `--help` and the README. */
  group?: string;
  /** Value when not given (null: unset, the command decides; see defaultText). */
  default?: Value;
  /** Value in the train demo (no --data) when it differs from `default`. */
  demo?: Value;
  /** How the default reads in help when it is not a literal value (e.g. "the checkpoint's"). */
  defaultText?: string;
  /** Accepted in a `--config` file (default true). */
  config?: boolean;
  required?: boolean;
}

export interface IntOption extends Common {
  kind: 'int';
  arg?: string;
  min: number;
  /** The largest value accepted, and why it is the bound (for the message: "4 × the 2 cores"). */
  max?: { value: number; why: string };
  /** Values must be multiples of this (e.g. 16 for four poolings). */
  multipleOf?: number;
}

export interface NumberOption extends Common {
  kind: 'number';
  arg?: string;
  /** [low, high] and whether each end is excluded; null: unbounded. */
  range: [number | null, number | null];
  open?: [boolean, boolean];
}

export interface ChoiceOption extends Common {
  kind: 'choice';
  arg?: string;
  choices: readonly string[];
  /** Other spellings accepted and mapped to a choice (e.g. nested-unet → unet++). */
  aliases?: Readonly<Record<string, string>>;
}

export interface TextOption extends Common {
  kind: 'text';
  arg: string;
  /** The accepted forms, for messages and help (e.g. "none | step:N[:G] | …"); none: any text. */
  syntax?: string;
  /** Throws an Error whose message says what is wrong with the value. */
  check?: (value: string) => void;
  /** May be given several times; the value is then the list. */
  repeatable?: boolean;
}

/** A switch: `--json` (true when given). */
export interface FlagOption extends Common {
  kind: 'flag';
}

/** On, off or unset: `--deep-supervision` / `--no-deep-supervision`. */
export interface ToggleOption extends Common {
  kind: 'toggle';
}

export type OptionSpec = IntOption | NumberOption | ChoiceOption | TextOption | FlagOption | ToggleOption;

export interface CommandSpec {
  name: string;
  /** One line in `mriseg --help`. */
  summary: string;
  /** A paragraph under the usage line of `mriseg <command> --help`. */
  description?: string;
  options: readonly OptionSpec[];
  /** Example command lines for the end of `--help`. */
  examples?: readonly string[];
  /**
   * Text options that may also be given as arguments, in this order (`convert IN OUT` for `--input IN --out OUT`).
   */
  positional?: readonly string[];
}

/** The placeholder after the flag in help (`--epochs N`); null for flags and toggles. */
export function argName(o: OptionSpec): string | null {
  switch (o.kind) {
    case 'int':
      return o.arg ?? 'N';
    case 'number':
      return o.arg ?? 'X';
    case 'choice':
      return o.arg ?? 'NAME';
    case 'text':
      return o.arg;
    default:
      return null;
  }
}

const fmt = (n: number) => String(n);

/** What an option accepts, as a phrase: "an integer ≥ 1", "one of adam, adamw, sgd". */
export function accepted(o: OptionSpec): string {
  switch (o.kind) {
    case 'int': {
      const low = o.multipleOf ? Math.max(o.min, o.multipleOf) : o.min;
      const what = o.multipleOf ? `a multiple of ${o.multipleOf}` : 'an integer';
      if (o.max) return `${what} from ${fmt(low)} to ${fmt(o.max.value)} (${o.max.why})`;
      return `${what} ≥ ${fmt(low)}`;
    }
    case 'number': {
      const [lo, hi] = o.range;
      const [openLo, openHi] = o.open ?? [false, false];
      if (lo !== null && hi !== null)
        return `a number in ${openLo ? '(' : '['}${fmt(lo)}, ${fmt(hi)}${openHi ? ')' : ']'}`;
      if (lo !== null) return `a number ${openLo ? '>' : '≥'} ${fmt(lo)}`;
      if (hi !== null) return `a number ${openHi ? '<' : '≤'} ${fmt(hi)}`;
      return 'a number';
    }
    case 'choice':
      return `one of ${o.choices.join(', ')}`;
    case 'text':
      return o.syntax ?? `a ${o.arg.toLowerCase()}`;
    case 'flag':
    case 'toggle':
      return 'true or false';
  }
}

/** The compact form of the accepted values for help: "adam|adamw|sgd", "N ≥ 1". */
export function valuesShort(o: OptionSpec): string | null {
  switch (o.kind) {
    case 'choice':
      return o.choices.join(' | ');
    case 'text':
      return o.syntax ?? null;
    default:
      return null;
  }
}

/** A value as it reads in help and the README. */
export function showValue(v: Value | undefined): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'string') return v === '' ? '""' : v;
  return String(v);
}

/** The default as it reads in help: the literal value, or the option's defaultText. */
export function defaultShown(o: OptionSpec): string {
  if (o.defaultText !== undefined) return o.defaultText;
  if (o.kind === 'flag') return '';
  return showValue(o.default);
}

/** Decimal notation only: `Number()` would also take hexadecimal, binary and octal forms ("0x2") and padded " 3 ". */
const DECIMAL_INT = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A number from a config file's JSON number, or from a string in decimal notation (NaN otherwise). */
export function toNumber(raw: unknown, integer = false): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && (integer ? DECIMAL_INT : DECIMAL).test(raw)) return Number(raw);
  return Number.NaN;
}

/**
 * Checks and converts one value. `where` names it in messages: `--epochs` for a flag, `--config c.json: epochs`
 * for a key of a config file. A null (from a config file) resets an option to unset where its default is null.
 */
export function coerce(o: OptionSpec, raw: unknown, where: string, command: string | null): Value {
  const bad = (detail = '') =>
    new UsageError(
      `${where} must be ${accepted(o)}, not ${typeof raw === 'string' ? `"${raw}"` : JSON.stringify(raw)}${detail}`,
      command,
    );
  if (raw === null && (o.default === null || o.default === undefined)) return null;
  switch (o.kind) {
    case 'int': {
      const n = toNumber(raw, true);
      if (
        !Number.isSafeInteger(n) ||
        n < o.min ||
        (o.max !== undefined && n > o.max.value) ||
        (o.multipleOf !== undefined && n % o.multipleOf !== 0)
      )
        throw bad();
      return n;
    }
    case 'number': {
      const n = toNumber(raw);
      const [lo, hi] = o.range;
      const [openLo, openHi] = o.open ?? [false, false];
      if (
        !Number.isFinite(n) ||
        (lo !== null && (openLo ? n <= lo : n < lo)) ||
        (hi !== null && (openHi ? n >= hi : n > hi))
      )
        throw bad();
      return n;
    }
    case 'choice': {
      if (typeof raw !== 'string') throw bad();
      const v = raw.toLowerCase();
      const canonical = o.choices.includes(v) ? v : o.aliases?.[v];
      if (canonical === undefined) throw bad();
      return canonical;
    }
    case 'text': {
      const items = o.repeatable && Array.isArray(raw) ? raw : [raw];
      for (const item of items) {
        if (typeof item !== 'string') throw bad();
        try {
          o.check?.(item);
        } catch (e) {
          const forms = o.syntax ? ` (accepted: ${o.syntax})` : '';
          throw new UsageError(`${where} "${item}": ${(e as Error).message}${forms}`, command);
        }
      }
      return o.repeatable ? (items as string[]) : (raw as string);
    }
    case 'flag':
    case 'toggle':
      if (typeof raw !== 'boolean') throw bad();
      return raw;
  }
}

/** Every option's default (the reference values; `demo` ignored). */
export function defaultsOf(spec: CommandSpec): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const o of spec.options) {
    if (o.config === false) continue;
    out[o.name] = o.default ?? (o.kind === 'flag' ? false : null);
  }
  return out;
}

/** The options whose demo default differs from the reference default. */
export function demoDefaultsOf(spec: CommandSpec): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const o of spec.options) if (o.demo !== undefined) out[o.name] = o.demo;
  return out;
}

export function findOption(spec: CommandSpec, name: string): OptionSpec | undefined {
  return spec.options.find((o) => o.name === name);
}
