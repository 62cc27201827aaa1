/**
 * The three model goldens (test/golden.test.ts) on whatever adapter this process gets — for a GPU box, which has no
 * vitest: real parallel execution and a GPU compiler can break a kernel that lavapipe runs correctly (a missing
 * barrier, a miscompiled register tile). Each model runs with the adapter's default tilings and with every kind
 * of convolution kernel pinned in turn (register-blocked, vec4, double-buffered, Winograd 2×2 and 4×4), and with
 * the default tilings again as replays of captured steps (StepGraph, as train, evaluate and bench run).
 * Bundled into .gpu-bench/ by bench/bundle-gpu.sh (with the fixtures), run there or here:
 *   node .gpu-bench/golden-on-device.mjs [--golden DIR] [--json FILE]
 * Prints one row per model and tiling with the worst error against its limit; exit code 1 if any fails.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { clearConvTilings } from '@mriseg/nn';
import { initDevice } from '@mriseg/tensor-wgsl';
import { checkModelGolden, GOLDEN_CASES, type GoldenReport, goldenPassed } from '../test/golden-check.js';

const { values } = parseArgs({
  options: { golden: { type: 'string', default: '.gpu-bench/golden' }, json: { type: 'string' } },
});
const rt = await initDevice();
console.log(
  `adapter: ${rt.report.vendor} ${rt.report.description || rt.report.device}${rt.report.isCpu ? ' (CPU driver)' : ''}${rt.robustness ? '' : ', robustness off'}\n`,
);
console.log('| model | tilings | result | checks | worst (error / limit) |');
console.log('| --- | --- | --- | ---: | --- |');
const reports: GoldenReport[] = [];
let failed = 0;
const runs = [
  ['default', false],
  ['gpu', false],
  ['default', true],
] as const;
for (const [file, name] of GOLDEN_CASES)
  for (const [tilings, replay] of runs) {
    let row: string;
    const label = `${tilings}${replay ? ', replayed' : ''}`;
    try {
      const r = await checkModelGolden(values.golden, file, name, tilings, { replay });
      reports.push(r);
      const worst = r.checks.reduce((a, c) => (c.error / c.limit > a.error / a.limit ? c : a));
      const ok = goldenPassed(r);
      if (!ok) failed++;
      const bad = r.checks.filter((c) => !(c.error <= c.limit)).length;
      const structure =
        r.parameters === r.expectedParameters && r.heads === r.expectedHeads ? '' : ' (structure differs)';
      row = `| ${name} | ${label} | ${ok ? 'pass' : `FAIL: ${bad} over the limit${structure}`} | ${r.checks.length} | ${worst.what} ${worst.metric} ${worst.error.toExponential(2)} / ${worst.limit.toExponential(2)} |`;
    } catch (e) {
      failed++;
      row = `| ${name} | ${label} | ERROR: ${(e as Error).message.split('\n')[0]} | | |`;
    } finally {
      clearConvTilings();
    }
    console.log(row);
  }
if (values.json) writeFileSync(values.json, JSON.stringify(reports));
const total = GOLDEN_CASES.length * runs.length;
console.log(failed ? `\n${failed} of ${total} failed` : `\nall ${total} pass`);
process.exitCode = failed ? 1 : 0;
