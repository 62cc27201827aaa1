/**
 * The fault suite from the command line (scripts/fault-suite.sh): every case, fast and slow, one after the other;
 * prints each outcome, writes the counts table and case list to `--report FILE`, exits 1 unless every case held.
 *
 *   node faults/run.mjs [--slow-only] [--fast-only] [--filter TEXT] [--report FILE] [--keep]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_CASES } from './cases/index.js';
import { repoRoot } from './paths.js';
import { caseList, countsTable } from './report.js';
import { runCase } from './run-case.js';
import { type CaseResult, GOOD } from './types.js';

const { values } = parseArgs({
  options: {
    'slow-only': { type: 'boolean', default: false },
    'fast-only': { type: 'boolean', default: false },
    filter: { type: 'string' },
    report: { type: 'string' },
    keep: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const root = repoRoot();
const paths = { child: values.child ?? '', cli: join(root, 'apps', 'cli', 'dist', 'bin.js') };
const cases = ALL_CASES.filter(
  (c) =>
    (!values['slow-only'] || c.slow) &&
    (!values['fast-only'] || !c.slow) &&
    (!values.filter || c.id.includes(values.filter)),
);
const results: CaseResult[] = [];
const t0 = performance.now();
for (const c of cases) {
  const r = await runCase(c, paths, values.keep);
  results.push(r);
  const mark = GOOD.includes(r.outcome) ? 'ok  ' : 'FAIL';
  console.log(
    `${mark} ${r.id} — ${r.outcome} (${r.seconds.toFixed(1)} s, ${r.peakMiB} MiB): ${r.detail.slice(0, 140)}`,
  );
}
const minutes = (performance.now() - t0) / 60000;
const table = countsTable(results);
console.log(`\n${table}\n\n${results.length} cases in ${minutes.toFixed(1)} min`);
if (values.report) {
  const commit = process.env.MRISEG_COMMIT ?? 'working tree';
  writeFileSync(
    values.report,
    [
      '# Fault suite results',
      '',
      `Written by \`bash scripts/fault-suite.sh\` (${commit}, ${new Date().toISOString().slice(0, 10)}; ` +
        `${results.length} cases, ${minutes.toFixed(1)} min on this machine). What the cases are and how they are ` +
        'judged: [README.md](README.md).',
      '',
      table,
      '',
      '## Cases',
      '',
      caseList(results),
      '',
    ].join('\n'),
  );
  console.log(`wrote ${values.report}`);
}
process.exitCode = results.every((r) => GOOD.includes(r.outcome)) ? 0 : 1;
