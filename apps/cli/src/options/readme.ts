/**
 * The README's option tables, made from the same declarations as the parser and `--help`. Each table sits
 * between `<!-- options:COMMAND -->` and `<!-- /options:COMMAND -->` in apps/cli/README.md; a test checks that
 * the file holds exactly what `withOptionTables` makes, and `pnpm --filter @mriseg/cli run readme` rewrites them.
 */
import {
  argName,
  type CommandSpec,
  defaultShown,
  type OptionSpec,
  showValue,
  valuesShort,
} from './schema.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function flagCell(o: OptionSpec): string {
  if (o.kind === 'toggle') return `\`--[no-]${o.name}\``;
  const arg = argName(o);
  return `\`--${o.name}${arg ? ` ${arg}` : ''}\``;
}

const ORDINAL = ['first', 'second', 'third'];

function describe(o: OptionSpec, spec: CommandSpec): string {
  const values = valuesShort(o);
  const at = spec.positional?.indexOf(o.name) ?? -1;
  const arg = at >= 0 ? ` (or the ${ORDINAL[at]} argument)` : '';
  return `${o.help}${values ? `: ${values}` : ''}${o.required ? ' (required)' : ''}${arg}`;
}

/** The markdown table of a command's options, grouped as in `--help`. */
export function optionTable(spec: CommandSpec): string {
  const demo = spec.options.some((o) => o.demo !== undefined);
  const head = demo
    ? ['| option | default | demo (no `--data`) | what it does |', '| --- | --- | --- | --- |']
    : ['| option | default | what it does |', '| --- | --- | --- |'];
  const rows: string[] = [];
  let group: string | undefined;
  for (const o of spec.options) {
    if (o.group !== group) {
      group = o.group;
      if (group) rows.push(demo ? `| **${group}** | | | |` : `| **${group}** | | |`);
    }
    const d = cell(defaultShown(o));
    const demoCell = demo ? [cell(o.demo !== undefined ? showValue(o.demo) : '')] : [];
    rows.push(`| ${[flagCell(o), d, ...demoCell, cell(describe(o, spec))].join(' | ')} |`);
  }
  return [...head, ...rows].join('\n');
}

const block = (name: string) =>
  new RegExp(`(<!-- options:${name} -->\\n)(?:[\\s\\S]*?\\n)?(<!-- /options:${name} -->)`);

/** `readme` with the table of every command that has markers replaced by the current one. */
export function withOptionTables(readme: string, specs: readonly CommandSpec[]): string {
  let out = readme;
  for (const spec of specs)
    out = out.replace(block(spec.name), (_m, a: string, b: string) => `${a}${optionTable(spec)}\n${b}`);
  return out;
}

/** Commands whose markers are missing from `readme`. */
export function missingTables(readme: string, specs: readonly CommandSpec[]): string[] {
  return specs.filter((s) => !block(s.name).test(readme)).map((s) => s.name);
}
