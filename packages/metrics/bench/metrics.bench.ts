import { bench, describe } from 'vitest';
import { dice, evaluateCases, hd95, referenceDsc, referencePrediction } from '../src/index.js';
import { LARGE_RADII, noiseCase, type SyntheticCase, syntheticCase, TYPICAL_RADII } from './synthetic.js';

// Run with `pnpm --filter @mriseg/metrics bench`.

const typical = syntheticCase(TYPICAL_RADII);
const large = syntheticCase(LARGE_RADII);
const noise = noiseCase(typical.truth);

function dscLccHd95(c: SyntheticCase): number {
  const pred = referencePrediction(c.prob);
  return dice(pred, c.truth) + hd95(pred, c.truth);
}

// A plain timing first, so the figure is printed even where the bench reporter is terse. CPU time is shown next
// to wall time because a shared machine's wall clock includes waiting for a core.
for (const [name, c] of [
  ['typical tumour', typical],
  ['large tumour', large],
  ['noise-like prediction', noise],
] as const) {
  dscLccHd95(c);
  const runs = 10;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < runs; r++) dscLccHd95(c);
  const wall = (performance.now() - t0) / runs;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / runs;
  console.log(
    `DSC + LCC + HD95, 60×256×256, ${name}: ${wall.toFixed(1)} ms wall, ${cpuMs.toFixed(1)} ms CPU per volume (mean of ${runs})`,
  );
}

describe('60×256×256 volume, one core', () => {
  bench('DSC + LCC + HD95 (typical tumour)', () => {
    dscLccHd95(typical);
  });
  bench('DSC + LCC + HD95 (large tumour)', () => {
    dscLccHd95(large);
  });
  bench('DSC + LCC + HD95 (noise-like prediction)', () => {
    dscLccHd95(noise);
  });
  bench('referenceDsc alone (typical tumour)', () => {
    referenceDsc(typical.prob, typical.truth);
  });
  bench('evaluateCases, all metrics (typical tumour)', () => {
    evaluateCases([typical]);
  });
});
