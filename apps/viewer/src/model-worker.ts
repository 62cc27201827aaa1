/**
 * The model worker: holds the WebGPU device and one model, and runs inference, fine-tuning (Adam steps with the
 * reference augmentation, the loss read back every step for the page's curve), checkpoint serialisation and the
 * speed benchmark off the page's thread. One request at a time; `stop` is answered at once and ends a training
 * run after its current step.
 */
import { initDevice, modelFromConfig, predictVolume, type SegmentationModel } from '@mriseg/models';
import { Adam } from '@mriseg/nn';
import { Rng } from '@mriseg/tensor-wgsl';
import { BatchSampler } from './finetune.js';
import { fineTuneMode, finetunedCheckpoint, lossOf, trainStep } from './finetune-train.js';
import { type LoadedModel, loadModel } from './model.js';
import type { BenchResult, LoadResult, ModelEvent, ModelRequest, TrainResult } from './model-protocol.js';

const ctx = self as unknown as {
  onmessage: ((ev: MessageEvent<{ id: number; request: ModelRequest }>) => void) | null;
  postMessage(message: ModelEvent, transfer?: Transferable[]): void;
};

let loaded: LoadedModel | null = null;
let optimizer: Adam | null = null;
/** Steps of the current fine-tuning run (resumes add to it). */
let step = 0;
let stopRequested = false;
let busy = false;
let adapter = '';

function model(): SegmentationModel {
  if (!loaded) throw new Error('no model loaded');
  return loaded.model;
}

async function load(r: Extract<ModelRequest, { kind: 'load' }>): Promise<LoadResult> {
  const rt = await initDevice();
  adapter = [rt.report.vendor, rt.report.architecture, rt.report.description].filter(Boolean).join(' ');
  optimizer?.dispose();
  optimizer = null;
  step = 0;
  loaded?.model.dispose();
  loaded = null;
  loaded = loadModel(r.bytes, r.name, r.choice);
  return {
    summary: loaded.plan.summary,
    parameters: loaded.parameters,
    inputSize: loaded.plan.inputSize,
    inference: loaded.plan.inference,
    adapter,
  };
}

/** Probabilities of slices (n, 3, h, w): the last head of a multi-head model, (n, h, w). */
async function predict(
  m: SegmentationModel,
  image: Float32Array,
  shape: [number, number, number, number],
  batchSize: number,
  id: number,
): Promise<Float32Array> {
  const [n, , h, w] = shape;
  const out = await predictVolume(
    m,
    { data: image, shape },
    { batchSize, onProgress: (done, total) => ctx.postMessage({ id, kind: 'progress', done, total }) },
  );
  const plane = h * w;
  if (out.length === n * plane) return out;
  const per = out.length / n;
  const p = new Float32Array(n * plane);
  for (let z = 0; z < n; z++) p.set(out.subarray((z + 1) * per - plane, (z + 1) * per), z * plane);
  return p;
}

async function train(r: Extract<ModelRequest, { kind: 'train' }>, id: number): Promise<TrainResult> {
  const m = model();
  const o = r.options;
  if (r.restart || !optimizer) {
    optimizer?.dispose();
    optimizer = new Adam(m.parameters(), { lr: o.lr });
    step = 0;
  }
  for (const g of optimizer.paramGroups) g.options.lr = o.lr;
  // A resumed run draws new samples: the seed moves on with the step count.
  const sampler = new BatchSampler(r.set, o.batchSize, o.seed + step * 7919, o.augment ? undefined : null);
  const loss = lossOf(o.loss);
  stopRequested = false;
  const t0 = performance.now();
  let done = 0;
  fineTuneMode(m);
  const { height: h, width: w } = r.set;
  while (done < o.steps && !stopRequested) {
    const l = trainStep(m, optimizer, loss, sampler.next());
    // Reading the loss back each step keeps the curve live and lets `stop` in (the await yields to messages).
    const [value] = await l.data();
    l.dispose();
    done++;
    step++;
    if (!Number.isFinite(value))
      throw new Error(`the loss became ${value} at step ${step}: lower the learning rate`);
    ctx.postMessage({ id, kind: 'step', step, loss: value });
    if (r.preview && o.previewEvery > 0 && (step % o.previewEvery === 0 || done === o.steps)) {
      const prob = await predict(m, r.preview, [1, 3, h, w], 1, -1);
      fineTuneMode(m);
      ctx.postMessage({ id, kind: 'preview', step, prob }, [prob.buffer]);
    }
  }
  return { step, stopped: stopRequested, seconds: (performance.now() - t0) / 1000, stepsThisCall: done };
}

async function save(extra: Record<string, string>): Promise<Uint8Array> {
  return finetunedCheckpoint(model(), loaded!.plan.inference, { ...extra, finetune_steps: String(step) });
}

/**
 * Training steps/s and inference slices/s of the loaded model's architecture on random inputs: a fresh copy of
 * the architecture trains, so the loaded weights and their BatchNorm statistics are left as they were.
 */
async function bench(r: Extract<ModelRequest, { kind: 'bench' }>): Promise<BenchResult> {
  if (!loaded) throw new Error('no model loaded');
  const m = modelFromConfig(loaded.plan.config);
  const { batchSize: n, size } = r;
  const rng = new Rng(7);
  const plane = size * size;
  const image = Float32Array.from({ length: n * 3 * plane }, () => rng.normal());
  const mask = Float32Array.from({ length: n * plane }, (_, i) => (i % size > size / 2 ? 1 : 0));
  const batch = { image, mask, shape: [n, 3, size, size] as [number, number, number, number] };
  const opt = new Adam(m.parameters(), { lr: 1e-4 });
  const loss = lossOf('dice');
  m.train();
  try {
    // Warm-up: pipelines compiled, buffers pooled.
    for (let i = 0; i < 2; i++) {
      const l = trainStep(m, opt, loss, batch);
      await l.data();
      l.dispose();
    }
    let t0 = performance.now();
    for (let i = 0; i < r.trainSteps; i++) {
      const l = trainStep(m, opt, loss, batch);
      await l.data();
      l.dispose();
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    const slices = Float32Array.from({ length: r.inferSlices * 3 * plane }, () => rng.normal());
    await predict(
      m,
      slices.subarray(0, Math.min(r.inferSlices, 4) * 3 * plane),
      [Math.min(r.inferSlices, 4), 3, size, size],
      4,
      -1,
    );
    t0 = performance.now();
    await predict(m, slices, [r.inferSlices, 3, size, size], 4, -1);
    const inferSeconds = (performance.now() - t0) / 1000;
    return {
      adapter,
      trainStepsPerSecond: r.trainSteps / trainSeconds,
      trainImagesPerSecond: (r.trainSteps * n) / trainSeconds,
      inferSlicesPerSecond: r.inferSlices / inferSeconds,
      batchSize: n,
      size,
      parameters: loaded!.parameters,
    };
  } finally {
    opt.dispose();
    m.dispose();
  }
}

async function handle(id: number, r: ModelRequest): Promise<unknown> {
  switch (r.kind) {
    case 'load':
      return load(r);
    case 'predict':
      return predict(model(), r.image, r.shape, r.batchSize, id);
    case 'train':
      return train(r, id);
    case 'save':
      return save(r.extra);
    case 'bench':
      return bench(r);
    case 'stop':
      stopRequested = true;
      return null;
  }
}

ctx.onmessage = (ev) => {
  const { id, request } = ev.data;
  if (request.kind !== 'stop') {
    if (busy) {
      ctx.postMessage({
        id,
        kind: 'error',
        message: 'the model is busy: wait for the current run or stop it',
      });
      return;
    }
    busy = true;
  }
  handle(id, request).then(
    (result) => {
      if (request.kind !== 'stop') busy = false;
      const transfer = result instanceof Float32Array || result instanceof Uint8Array ? [result.buffer] : [];
      ctx.postMessage({ id, kind: 'done', result }, transfer as ArrayBuffer[]);
    },
    (e: unknown) => {
      if (request.kind !== 'stop') busy = false;
      ctx.postMessage({ id, kind: 'error', message: e instanceof Error ? e.message : String(e) });
    },
  );
};
