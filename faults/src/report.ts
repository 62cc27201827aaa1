/** The counts table and the per-case list, as Markdown. */
import { CATEGORIES, type CaseResult, type Outcome } from './types.js';

const COLUMNS: [string, (o: Outcome) => boolean][] = [
  ['clean error', (o) => o === 'clean-error'],
  ['correctly accepted', (o) => o === 'accepted'],
  ['unclear / wrong', (o) => o === 'unclear-error' || o === 'wrongly-accepted' || o === 'wrong-result'],
  ['crash', (o) => o === 'crash'],
  ['memory blow-up', (o) => o === 'memory'],
  ['hang', (o) => o === 'hang'],
  ['data loss', (o) => o === 'data-loss'],
];

export function countsTable(results: readonly CaseResult[]): string {
  const head = `| category | tried | ${COLUMNS.map(([c]) => c).join(' | ')} |`;
  const rule = `| --- | ---: | ${COLUMNS.map(() => '---:').join(' | ')} |`;
  const row = (label: string, rs: readonly CaseResult[]) =>
    `| ${label} | ${rs.length} | ${COLUMNS.map(([, f]) => rs.filter((r) => f(r.outcome)).length).join(' | ')} |`;
  const rows = CATEGORIES.filter((c) => results.some((r) => r.category === c)).map((c) =>
    row(
      c,
      results.filter((r) => r.category === c),
    ),
  );
  return [head, rule, ...rows, row('**all**', results)].join('\n');
}

export function caseList(results: readonly CaseResult[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| case | what | outcome | peak MiB | message or finding |',
    '| --- | --- | --- | ---: | --- |',
    ...results.map(
      (r) =>
        `| \`${r.id}\` | ${esc(r.title)} | ${r.outcome} | ${r.peakMiB} | ${esc(r.detail.slice(0, 160))} |`,
    ),
  ].join('\n');
}
