// How often skull stripping cuts tumour: for every patient of a kaggle_3m folder, the tumour voxels (ground-truth
// mask, in the preprocessed 256² space where DSC is computed) that fall outside the brain mask. Runs on the built
// package (`pnpm --filter @mriseg/data build`).
// Usage: node scripts/skull-strip-report.mjs KAGGLE_3M_FOLDER [--csv FILE] [--bias-correct] [--workers N]
//        [--options JSON]   (skull-stripping options, e.g. '{"threshold":0.4}')
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { loadDataset, scanDataset, WorkerPool } from '../dist/index.js';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return null;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const csvPath = flag('--csv');
const workers = Number(flag('--workers') ?? Math.max(1, availableParallelism() - 1));
const optionsText = flag('--options');
const bias = args.includes('--bias-correct');
const root = args.filter((a) => a !== '--bias-correct')[0];
if (!root) {
  console.error(
    'usage: node scripts/skull-strip-report.mjs KAGGLE_3M_FOLDER [--csv FILE] [--bias-correct] [--workers N] [--options JSON]',
  );
  process.exit(1);
}
const skullStrip = optionsText ? JSON.parse(optionsText) : true;
const ids = scanDataset(root).map((f) => f.id);
const pool = new WorkerPool({ workers });
const rows = [];
const t0 = performance.now();
try {
  // A few patients at a time, so the volumes do not all stay in memory.
  for (let i = 0; i < ids.length; i += workers) {
    const part = ids.slice(i, i + workers);
    const { volumes } = await loadDataset(root, {
      patients: part,
      pool,
      preprocess: { skullStrip, biasCorrect: bias },
    });
    for (const v of volumes) {
      let tumour = 0;
      const perSlice = [];
      for (let z = 0; z < v.depth; z++) {
        let t = 0;
        for (let k = z * v.height * v.width; k < (z + 1) * v.height * v.width; k++) t += v.mask[k];
        tumour += t;
        perSlice.push(t);
      }
      const s = v.info.skullStrip;
      rows.push({
        id: v.id,
        slices: v.depth,
        tumour,
        outside: s.tumourOutside,
        brainFraction: s.brainVoxels / (v.depth * v.height * v.width),
      });
      console.log(
        `${v.id.padEnd(24)} ${String(v.depth).padStart(3)} slices  tumour ${String(tumour).padStart(7)}  outside ${String(s.tumourOutside).padStart(5)}  brain ${(100 * rows.at(-1).brainFraction).toFixed(1)} % of the volume`,
      );
    }
  }
} finally {
  await pool.close();
}
const cut = rows.filter((r) => r.outside > 0);
const total = rows.reduce((a, r) => a + r.tumour, 0);
const outside = rows.reduce((a, r) => a + r.outside, 0);
console.log(
  `\n${rows.length} patients (skull stripping ${JSON.stringify(skullStrip)}${bias ? ', after bias correction' : ''}; ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s with ${workers} workers): tumour cut in ${cut.length} ` +
    `(${outside} of ${total} tumour voxels outside the brain mask, ${((100 * outside) / total).toFixed(3)} %)`,
);
for (const r of cut.sort((a, b) => b.outside / b.tumour - a.outside / a.tumour))
  console.log(`  ${r.id}: ${r.outside} of ${r.tumour} (${((100 * r.outside) / r.tumour).toFixed(2)} %)`);
if (csvPath) {
  const lines = ['patient,slices,tumour_voxels,tumour_outside,brain_fraction'];
  for (const r of rows)
    lines.push(`${r.id},${r.slices},${r.tumour},${r.outside},${r.brainFraction.toFixed(4)}`);
  writeFileSync(csvPath, `${lines.join('\n')}\n`);
  console.log(`wrote ${csvPath}`);
}
