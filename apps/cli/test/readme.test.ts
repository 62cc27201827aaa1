/**
 * The README's option tables are made from the option declarations; this keeps the file equal to what they
 * make. `pnpm --filter @mriseg/cli run readme` (MRISEG_WRITE_README=1) rewrites the tables instead of failing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMAND_SPECS } from '../src/options/commands.js';
import { missingTables, optionTable, withOptionTables } from '../src/options/readme.js';

const path = new URL('../README.md', import.meta.url);

describe('README option tables', () => {
  it('are there for every command and equal the declarations', () => {
    const readme = readFileSync(path, 'utf8');
    expect(missingTables(readme, COMMAND_SPECS)).toEqual([]);
    const want = withOptionTables(readme, COMMAND_SPECS);
    if (process.env.MRISEG_WRITE_README === '1' && want !== readme) writeFileSync(path, want);
    else expect(readme, 'run `pnpm --filter @mriseg/cli run readme` to regenerate them').toBe(want);
  });

  it('list every option with its default, escaping the table separator', () => {
    for (const spec of COMMAND_SPECS) {
      const table = optionTable(spec);
      for (const o of spec.options)
        expect(table, `${spec.name} --${o.name}`).toContain(
          `--${o.kind === 'toggle' ? '[no-]' : ''}${o.name}`,
        );
      for (const line of table.split('\n')) {
        const cells = line.replace(/\\\|/g, '').split('|').length;
        expect(cells, line).toBe(table.split('\n')[0].split('|').length);
      }
    }
  });
});
