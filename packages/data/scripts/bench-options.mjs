// Cost per volume of the optional preprocessing steps (bias-field correction, skull stripping) and of the dense CRF
// post-processing step, on the sample patients (or a kaggle_3m folder), single-threaded. Runs on the built
// packages (`pnpm --filter @mriseg/data bench:options` builds this one first; @mriseg/metrics must be built).
// Usage: node scripts/bench-options.mjs [kaggle_3m folder] [patients]
// Environment: BENCH_RUNS (timed runs per patient and setting, default 3).
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { denseCrf } from '@mriseg/metrics';
import { preprocess, readPatient, scanDataset } from '../dist/index.js';

const sample = fileURLToPath(new URL('../../../../shared/data/sample/kaggle_3m', import.meta.url));
const root = process.argv[2] ?? (existsSync(sample) ? sample : null);
if (!root) {
  console.error('no data: give a kaggle_3m folder');
  process.exit(1);
}
const runs = Number(process.env.BENCH_RUNS ?? 3);
const limit = Number(process.argv[3] ?? 4);
console.log(`data: ${root}`);
console.log(
  `machine: ${availableParallelism()} cores (${cpus()[0]?.model}), node ${process.version}, ${runs} runs`,
);

/** Median wall and CPU milliseconds of `runs` calls (after one warm-up). */
function time(f) {
  f();
  const wall = [];
  const cpu = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  return { wall: med(wall), cpu: med(cpu) };
}

const fmt = (t) => `${(t.wall / 1000).toFixed(2)} s wall / ${(t.cpu / 1000).toFixed(2)} s CPU`;
const rows = [];
for (const files of scanDataset(root).slice(0, limit)) {
  const raw = readPatient(files);
  const base = time(() => preprocess(raw));
  const bias = time(() => preprocess(raw, { biasCorrect: true }));
  const strip = time(() => preprocess(raw, { skullStrip: true }));
  const both = time(() => preprocess(raw, { biasCorrect: true, skullStrip: true }));
  const v = preprocess(raw);
  // A probability map of the kind a network gives: the mask, blurred at its edge and noisy.
  const prob = new Float32Array(v.mask.length);
  let s = 1;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  for (let i = 0; i < prob.length; i++)
    prob[i] = Math.min(1, Math.max(0, (v.mask[i] ? 0.8 : 0.15) + 0.3 * (rand() - 0.5)));
  const shape = [v.depth, v.height, v.width];
  const image = { data: v.image, shape: [v.depth, 3, v.height, v.width] };
  const crf2d = time(() => denseCrf({ data: prob, shape }, image));
  const crf3d = time(() => denseCrf({ data: prob, shape }, image, { volumetric: true, sliceSpacing: 4 }));
  const row = { id: v.id, slices: v.depth, base, bias, strip, both, crf2d, crf3d };
  rows.push(row);
  console.log(
    `${v.id} (${v.depth} slices of ${v.width}²): reference preprocessing ${fmt(base)}; + bias correction ${fmt(bias)}; ` +
      `+ skull stripping ${fmt(strip)}; + both ${fmt(both)}; CRF per slice ${fmt(crf2d)} ` +
      `(${(crf2d.cpu / v.depth).toFixed(0)} ms CPU a slice); CRF 3-D ${fmt(crf3d)}`,
  );
}
const mean = (k, f) => rows.reduce((a, r) => a + f(r[k]), 0) / rows.length;
const extra = (k) => mean(k, (t) => t.cpu) - mean('base', (t) => t.cpu);
console.log(
  `mean CPU per volume over ${rows.length} patients (${mean('slices', (x) => x).toFixed(0)} slices): reference ` +
    `${(mean('base', (t) => t.cpu) / 1000).toFixed(2)} s; bias correction adds ${(extra('bias') / 1000).toFixed(2)} s, ` +
    `skull stripping ${(extra('strip') / 1000).toFixed(2)} s, both ${(extra('both') / 1000).toFixed(2)} s; CRF per slice ` +
    `${(mean('crf2d', (t) => t.cpu) / 1000).toFixed(2)} s, 3-D ${(mean('crf3d', (t) => t.cpu) / 1000).toFixed(2)} s`,
);
