/**
 * The model worker's training path on Dawn in Node (lavapipe here): the demo checkpoint fine-tuned on one corrected
 * demo slice — the loss falls, the BatchNorm statistics stay frozen while the weights move, and the checkpoint it
 * saves loads back as the same model with the same inference settings.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preprocess } from '@mriseg/data';
import { initDevice } from '@mriseg/models';
import { Adam, parseCheckpoint } from '@mriseg/nn';
import { beforeAll, describe, expect, it } from 'vitest';
import { sliceAreas } from '../src/analysis.js';
import { MaskEditor, paintDisc } from '../src/edit.js';
import { patientFromFiles } from '../src/files.js';
import { BatchSampler, buildTrainingSet, trainingSlices } from '../src/finetune.js';
import { fineTuneMode, finetunedCheckpoint, lossOf, trainStep } from '../src/finetune-train.js';
import { loadModel, planModel } from '../src/model.js';

const demo = resolve(fileURLToPath(new URL('../public/demo', import.meta.url)));
const manifest = JSON.parse(readFileSync(join(demo, 'manifest.json'), 'utf8')) as {
  files: string[];
  checkpoint: string;
};
const auto = { architecture: 'auto', features: null, inputSize: null };

beforeAll(async () => {
  await initDevice();
});

describe('fine-tuning on the GPU (the model worker’s steps)', () => {
  it('lowers the loss on a corrected slice with BatchNorm statistics frozen, and saves a loadable checkpoint', async () => {
    const bytes = new Uint8Array(readFileSync(join(demo, manifest.checkpoint)));
    const { model, plan } = loadModel(bytes, manifest.checkpoint, auto);
    const files = manifest.files.map((name) => ({
      name,
      bytes: new Uint8Array(readFileSync(join(demo, name))),
    }));
    const v = preprocess(patientFromFiles(files).raw, { size: plan.inputSize });
    const plane = v.width * v.height;
    const areas = sliceAreas(v.mask, v.depth, plane);
    const z = areas.indexOf(Math.max(...areas));
    const editor = new MaskEditor(v.depth, v.height, v.width);
    editor.acceptPrediction(z, v.mask.subarray(z * plane, (z + 1) * plane));
    editor.apply(z, (p) => paintDisc(p, v.width, v.height, 12, 48, 5, 1));
    const set = buildTrainingSet(v, editor.mask, null, trainingSlices(editor.corrected(), v.depth, 0, false));

    const before = new Map([...model.stateDict()].map(([k, t]) => [k, t]));
    const snapshot = async (key: string) =>
      Float32Array.from((await before.get(key)!.data()) as Float32Array);
    const runningMean = await snapshot('encoder1.enc1norm1.running_mean');
    const conv = await snapshot('encoder1.enc1conv1.weight');

    const opt = new Adam(model.parameters(), { lr: 3e-3 });
    const sampler = new BatchSampler(set, 1, 1, null);
    fineTuneMode(model);
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const l = trainStep(model, opt, lossOf('dice'), sampler.next());
      losses.push((await l.data())[0]);
      l.dispose();
    }
    expect(losses[3]).toBeLessThan(losses[0]);
    const state = model.stateDict();
    expect((await state.get('encoder1.enc1norm1.running_mean')!.data()) as Float32Array).toEqual(runningMean);
    expect((await state.get('encoder1.enc1conv1.weight')!.data()) as Float32Array).not.toEqual(conv);

    const saved = await finetunedCheckpoint(model, plan.inference, { finetune_steps: '4' });
    const ck = parseCheckpoint(saved, 'finetuned.safetensors');
    expect(ck.rawMetadata.finetune_steps).toBe('4');
    const again = planModel(ck, auto);
    expect(again.config).toEqual(model.config());
    expect(again.inputSize).toBe(plan.inputSize);
    expect(again.inference).toEqual(plan.inference);
    const reloaded = loadModel(saved, 'finetuned.safetensors', auto);
    const w = (await reloaded.model.stateDict().get('encoder1.enc1conv1.weight')!.data()) as Float32Array;
    expect(w).toEqual((await state.get('encoder1.enc1conv1.weight')!.data()) as Float32Array);
    opt.dispose();
    model.dispose();
    reloaded.model.dispose();
  });
});
