/**
 * Makes the viewer's built-in demo (apps/viewer/public/demo/): one phantom patient as Kaggle-layout PNG slices
 * and a tiny U-Net trained for a short while on other phantom patients, as an @mriseg/nn checkpoint.
 *
 *   pnpm --filter @mriseg/viewer make-demo        (about 15 minutes on a 2-core machine with lavapipe)
 *
 * Everything is seeded, so a rerun on the same adapter gives the same files (GPU float sums may differ in the
 * last bits between adapters). The checkpoint's `__metadata__.inference` tells the viewer how to run the model: the
 * input size it was trained at (64 px, to keep the demo fast on software WebGPU), threshold and post-processing.
 * (The committed demo checkpoint predates that key and has `__metadata__.preprocess` = {"size": 64}, which the
 * viewer reads as well.)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveRng, encodePng, generatePhantomPatient, preprocess, type Volume } from '@mriseg/data';
import { referenceDsc } from '@mriseg/metrics';
import { createModel, initDevice, predictVolume, REFERENCE_INFERENCE } from '@mriseg/models';
import { Adam, diceLoss, manualSeed, serializeCheckpoint } from '@mriseg/nn';
import { scope, tensor } from '@mriseg/tensor-wgsl';

const SEED = 20260101;
const RAW_SIZE = 64;
const INPUT_SIZE = 64;
const FEATURES = 4;
const TRAIN_PATIENTS = 16;
const STEPS = Number(process.env.DEMO_STEPS ?? 250);
const BATCH = 8;
export const DEMO_ID = 'DEMO_PHANTOM_19990101';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'demo');
const phantom = { size: RAW_SIZE, slices: [16, 22] as [number, number], flairOnlyProb: 0 };
const pre = { size: INPUT_SIZE };

function volumeInput(v: Volume) {
  return { data: v.image, shape: [v.depth, 3, v.height, v.width] as const };
}

async function main(): Promise<void> {
  const rt = await initDevice();
  console.log(`adapter: ${rt.report.description || rt.report.vendor}`);
  manualSeed(SEED);

  // Training data: phantom patients other than the demo one.
  const train = Array.from({ length: TRAIN_PATIENTS }, (_, i) =>
    preprocess(generatePhantomPatient(`TRAIN_${i}`, deriveRng(SEED, 'train', i), phantom), pre),
  );
  const slices: { v: Volume; z: number; tumour: boolean }[] = [];
  for (const v of train) {
    const plane = v.height * v.width;
    for (let z = 0; z < v.depth; z++) {
      let area = 0;
      for (let i = z * plane; i < (z + 1) * plane; i++) area += v.mask[i];
      slices.push({ v, z, tumour: area > 0 });
    }
  }
  const tumour = slices.filter((s) => s.tumour);
  const rng = deriveRng(SEED, 'batches');
  const model = createModel('unet', { features: FEATURES });
  const opt = new Adam(model.parameters(), { lr: 3e-3 });
  const plane = INPUT_SIZE * INPUT_SIZE;
  const x = new Float32Array(BATCH * 3 * plane);
  const y = new Float32Array(BATCH * plane);
  const t0 = performance.now();
  for (let step = 1; step <= STEPS; step++) {
    for (let b = 0; b < BATCH; b++) {
      // Two thirds of the slices with tumour, as the reference sampler favours them.
      const s = rng.uniform() < 2 / 3 ? tumour[rng.int(tumour.length)] : slices[rng.int(slices.length)];
      x.set(s.v.image.subarray(s.z * 3 * plane, (s.z + 1) * 3 * plane), b * 3 * plane);
      for (let i = 0; i < plane; i++) y[b * plane + i] = s.v.mask[s.z * plane + i];
    }
    const loss = scope(() => {
      opt.zeroGrad();
      const l = diceLoss(
        model.forward(tensor(x, [BATCH, 3, INPUT_SIZE, INPUT_SIZE])),
        tensor(y, [BATCH, 1, INPUT_SIZE, INPUT_SIZE]),
      );
      l.backward();
      opt.step();
      return l.detach();
    });
    if (step % 50 === 0 || step === STEPS) {
      const v = (await loss.data())[0];
      console.log(
        `step ${step}/${STEPS} dice loss ${v.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    loss.dispose();
  }

  // The demo patient (never seen in training), written as the dataset's PNG layout.
  const raw = generatePhantomPatient(DEMO_ID, deriveRng(SEED, 'demo'), phantom);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const plane0 = raw.height * raw.width;
  for (let z = 0; z < raw.depth; z++) {
    const n = raw.sliceNumbers[z];
    const image = raw.image.subarray(z * plane0 * 3, (z + 1) * plane0 * 3);
    const mask = Uint8Array.from(raw.mask.subarray(z * plane0, (z + 1) * plane0), (v) => v * 255);
    const base = `${raw.id}_${n}`;
    writeFileSync(
      join(out, `${base}.png`),
      encodePng({ width: raw.width, height: raw.height, channels: 3, data: image }),
    );
    writeFileSync(
      join(out, `${base}_mask.png`),
      encodePng({ width: raw.width, height: raw.height, channels: 1, data: mask }),
    );
    files.push(`${base}.png`, `${base}_mask.png`);
  }

  const demo = preprocess(raw, pre);
  const prob = await predictVolume(model, volumeInput(demo), { batchSize: 8 });
  const dims = [demo.depth, demo.height, demo.width] as const;
  const dsc = referenceDsc({ data: prob, shape: dims }, { data: demo.mask, shape: dims });
  console.log(`demo patient reference DSC ${dsc.toFixed(4)}`);

  const bytes = await serializeCheckpoint({
    model,
    metadata: {
      modelName: 'unet',
      config: model.config(),
      epoch: 1,
      metrics: { demoDsc: dsc },
      inference: {
        ...REFERENCE_INFERENCE,
        inputSize: pre.size,
        preprocess: { name: REFERENCE_INFERENCE.preprocess.name, options: {} },
      },
      extra: {
        note: `viewer demo: U-Net f=${FEATURES}, ${STEPS} Adam steps of ${BATCH} on ${TRAIN_PATIENTS} phantom patients (seed ${SEED})`,
      },
    },
  });
  writeFileSync(join(out, 'demo-unet.safetensors'), bytes);
  writeFileSync(
    join(out, 'manifest.json'),
    `${JSON.stringify({ patient: raw.id, files, checkpoint: 'demo-unet.safetensors', dsc }, null, 2)}\n`,
  );
  console.log(`wrote ${files.length + 2} files to ${out}`);
}

await main();
