/**
 * Does the reference model's half-precision copy segment like the f32 file? Runs both on chosen slices of the
 * sample patients (reference preprocessing at the model's 256 px) and prints, per slice, the largest probability
 * difference, how many mask pixels change at 0.5 and each model's Dice against the truth; then pooled figures.
 *
 *   cd apps/viewer && npx vite-node scripts/measure-f16.ts [slices per patient, default 2]
 *
 * On the CPU (lavapipe) a 256² slice takes 10–50 s per model, so it takes a few slices per patient: the one with
 * the largest tumour and the one with the smallest (where the boundary is most of the mask).
 */
import { readFileSync } from 'node:fs';
import { preprocess, readPatient, scanDataset } from '@mriseg/data';
import { halfPrecisionCheckpoint, initDevice, modelFromConfig, predictVolume } from '@mriseg/models';
import { parseCheckpoint } from '@mriseg/nn';

const F32 = '../../../shared/models/unet-lgg-f32.safetensors';
const SAMPLE = '../../../shared/data/sample/kaggle_3m';
const perPatient = Number(process.argv[2] ?? 2);

function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] & b[i];
    sum += a[i] + b[i];
  }
  return sum === 0 ? 1 : (2 * inter) / sum;
}

async function main(): Promise<void> {
  await initDevice();
  const f32Bytes = readFileSync(F32);
  const half = halfPrecisionCheckpoint(f32Bytes, F32);
  console.log(
    `f16 copy: ${half.bytes.byteLength} bytes (f32 ${f32Bytes.byteLength}); ${half.converted.length} tensors as F16, largest rounding error ${half.maxRelativeError.toExponential(2)} of a tensor's largest weight`,
  );
  const models = [f32Bytes, half.bytes].map((b, i) => {
    const ck = parseCheckpoint(b, i === 0 ? 'f32' : 'f16');
    const m = modelFromConfig(ck.metadata.config);
    m.loadStateDict(ck.model);
    return m;
  });
  const pooled = { changed: 0, pixels: 0, inter: [0, 0], sum: [0, 0], maxDiff: 0 };
  for (const files of scanDataset(SAMPLE)) {
    const v = preprocess(readPatient(files), { size: 256 });
    const plane = v.width * v.height;
    const area = Array.from({ length: v.depth }, (_, z) => {
      let a = 0;
      for (let i = z * plane; i < (z + 1) * plane; i++) a += v.mask[i];
      return a;
    });
    const withTumour = area
      .map((a, z) => [a, z])
      .filter(([a]) => a > 0)
      .sort((x, y) => y[0] - x[0]);
    const chosen = [withTumour[0][1], withTumour[withTumour.length - 1][1]].slice(0, perPatient);
    for (const z of chosen) {
      const input = {
        data: v.image.subarray(z * 3 * plane, (z + 1) * 3 * plane),
        shape: [1, 3, 256, 256] as const,
      };
      const t0 = performance.now();
      const [p32, p16] = [await predictVolume(models[0], input), await predictVolume(models[1], input)];
      const secs = (performance.now() - t0) / 2000;
      const truth = v.mask.subarray(z * plane, (z + 1) * plane);
      const m32 = Uint8Array.from(p32, (p) => (p > 0.5 ? 1 : 0));
      const m16 = Uint8Array.from(p16, (p) => (p > 0.5 ? 1 : 0));
      let maxDiff = 0;
      let changed = 0;
      for (let i = 0; i < plane; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(p32[i] - p16[i]));
        changed += m32[i] ^ m16[i];
      }
      pooled.changed += changed;
      pooled.pixels += plane;
      pooled.maxDiff = Math.max(pooled.maxDiff, maxDiff);
      for (const [k, m] of [m32, m16].entries()) {
        for (let i = 0; i < plane; i++) {
          pooled.inter[k] += m[i] & truth[i];
          pooled.sum[k] += m[i] + truth[i];
        }
      }
      console.log(
        `${files.id} slice ${z} (truth ${area[z]} px): max |Δp| ${maxDiff.toExponential(2)}, mask pixels changed ${changed}, ` +
          `Dice vs truth f32 ${dice(m32, truth).toFixed(4)} f16 ${dice(m16, truth).toFixed(4)}, f32/f16 masks ${dice(m32, m16).toFixed(5)} (${secs.toFixed(1)} s a pass)`,
      );
    }
  }
  const d = (k: number) => (2 * pooled.inter[k]) / pooled.sum[k];
  console.log(
    `pooled over the chosen slices: Dice vs truth f32 ${d(0).toFixed(5)} f16 ${d(1).toFixed(5)} (|Δ| ${Math.abs(d(0) - d(1)).toExponential(2)}); ` +
      `${pooled.changed} of ${pooled.pixels} mask pixels changed; max |Δp| ${pooled.maxDiff.toExponential(2)}`,
  );
}

await main();
