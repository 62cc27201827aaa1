// Loader throughput: decode, preprocessing and augmentation, in slices/s at 256². Runs on the built package
// (`pnpm --filter @mriseg/data bench` builds it first). Usage: node scripts/bench.mjs [kaggle_3m folder]
// Environment: BENCH_WORKERS (default: cores − 1), BENCH_SECONDS (augmentation run length, default 5),
// BENCH_PATIENTS (phantom patients when no data folder is found, default 4).
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BatchLoader,
  loadDataset,
  preprocess,
  readDataset,
  readPatient,
  scanDataset,
  WorkerPool,
  writePhantomDataset,
} from '../dist/index.js';

const workers = Number(process.env.BENCH_WORKERS ?? Math.max(1, availableParallelism() - 1));
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const sample = fileURLToPath(new URL('../../../../shared/data/sample/kaggle_3m', import.meta.url));
let root = process.argv[2] ?? (existsSync(sample) ? sample : null);
let temp = null;
if (!root) {
  temp = mkdtempSync(join(tmpdir(), 'mriseg-bench-'));
  writePhantomDataset(temp, { patients: Number(process.env.BENCH_PATIENTS ?? 4), seed: 1 });
  root = temp;
}
const rate = (n, ms) => `${((n * 1000) / ms).toFixed(0)} slices/s`;
console.log(`data: ${root}`);
console.log(
  `machine: ${availableParallelism()} cores (${cpus()[0]?.model}), workers: ${workers}, node ${process.version}`,
);

const files = scanDataset(root);
const slices = files.reduce((a, f) => a + f.slices.length, 0);

// Decode (image + mask file a slice), one thread.
let t = performance.now();
const raws = files.map((f) => readPatient(f));
const decode1 = performance.now() - t;
console.log(`decode, 1 thread:            ${rate(slices, decode1)} (${slices} slices)`);

const pool = new WorkerPool({ workers });
if (pool.mode !== 'workers') throw new Error('worker script not found: run `pnpm build` first');
await readDataset(root, { pool }); // warm-up: thread start, JIT
t = performance.now();
await readDataset(root, { pool });
console.log(`decode, ${workers} workers:           ${rate(slices, performance.now() - t)}`);

// Preprocessing alone (after decode), one thread, after a warm-up pass; then decode + preprocess in the pool.
preprocess(raws[0]);
t = performance.now();
const vols = raws.map((r) => preprocess(r));
const kept = vols.reduce((a, v) => a + v.depth, 0);
console.log(`preprocess, 1 thread:        ${rate(kept, performance.now() - t)} (${kept} slices kept)`);
t = performance.now();
await loadDataset(root, { pool });
console.log(`decode+preprocess, ${workers} workers: ${rate(slices, performance.now() - t)}`);

// The on-disk cache: first start (build + write), second start (read).
const cacheDir = mkdtempSync(join(tmpdir(), 'mriseg-bench-cache-'));
t = performance.now();
await loadDataset(root, { pool, cacheDir });
const firstStart = performance.now() - t;
t = performance.now();
const again = await loadDataset(root, { pool, cacheDir });
const cacheBytes = readdirSync(cacheDir).reduce((a, f) => a + statSync(join(cacheDir, f)).size, 0);
console.log(
  `cache: first start ${rate(slices, firstStart)}, second start ${rate(slices, performance.now() - t)} (${again.cached} cached), ${(cacheBytes / kept / 1024).toFixed(0)} KiB a slice on disk`,
);
rmSync(cacheDir, { recursive: true, force: true });

// Augmentation (reference transforms), batches of 16 at 256², measured for `seconds` after one warm-up epoch.
async function augmentRate(p, label) {
  const loader = await BatchLoader.create({ volumes: vols, batchSize: 16, seed: 1, pool: p });
  for await (const _ of loader.epoch(0)) {
  }
  let n = 0;
  const start = performance.now();
  for (let e = 1; performance.now() - start < seconds * 1000; e++) {
    for await (const b of loader.epoch(e)) n += b.imageShape[0];
  }
  console.log(`augment ${label}: ${rate(n, performance.now() - start)} (${n} slices, 256², batch 16)`);
  await loader.close();
}
const local = new WorkerPool({ workers: 0 });
await augmentRate(local, '1 thread (in-process)');
await local.close();
await augmentRate(pool, `${workers} workers`.padEnd(21));
await pool.close();
if (temp) rmSync(temp, { recursive: true, force: true });
