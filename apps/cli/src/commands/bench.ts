/**
 * `bench`: training-step and inference throughput of a model on synthetic data, after a warm-up; the median of
 * timed iterations, each ending with the GPU finishing its work (and its GPU time from timestamp queries when the
 * adapter has them); the peak of GPU memory held by the buffer pool.
 */

import { createModel, type SegmentationModel } from '@mriseg/models';
import { Adam, createLoss } from '@mriseg/nn';
import {
  add,
  initDevice,
  keep,
  mul,
  noGrad,
  Rng,
  rand,
  runtime,
  scope,
  type Tensor,
  tensor,
} from '@mriseg/tensor-wgsl';

export interface BenchOptions {
  model: string;
  features: number;
  batchSize: number;
  imageSize: number;
  warmup: number;
  iters: number;
  mode: 'train' | 'infer' | 'both';
  loss: string;
}

export interface BenchResult {
  adapter: string;
  model: string;
  features: number;
  parameters: number;
  batchSize: number;
  imageSize: number;
  trainStepMs?: number;
  trainImgPerS?: number;
  /** GPU time of a step from timestamp queries (absent without the feature). */
  trainGpuMs?: number;
  inferBatchMs?: number;
  inferGpuMs?: number;
  inferImgPerS?: number;
  peakTrainMiB?: number;
  peakInferMiB?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time of `iters` iterations (each waits for the GPU), and median GPU time when timestamps exist. */
async function timeIterations(
  warmup: number,
  iters: number,
  body: () => void,
): Promise<{ wall: number; gpu: number | null }> {
  const rt = runtime();
  for (let i = 0; i < warmup; i++) {
    body();
    await rt.sync('bench warm-up');
  }
  const wall: number[] = [];
  const gpu: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    const g = await rt.timeGpu(body);
    wall.push(performance.now() - t0);
    if (g !== null) gpu.push(g);
  }
  return { wall: median(wall), gpu: gpu.length ? median(gpu) : null };
}

function syntheticBatch(o: BenchOptions, rng: Rng): { x: Tensor; y: Tensor } {
  const n = o.batchSize * o.imageSize * o.imageSize;
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) mask[i] = rng.uniform() < 0.1 ? 1 : 0;
  return {
    x: keep(rand([o.batchSize, 3, o.imageSize, o.imageSize], rng, -1, 1)),
    y: keep(tensor(mask, [o.batchSize, 1, o.imageSize, o.imageSize])),
  };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const rt = await initDevice();
  const rng = new Rng(0);
  const model: SegmentationModel = createModel(o.model, { features: o.features, rng });
  const { x, y } = syntheticBatch(o, rng);
  const result: BenchResult = {
    adapter: [rt.report.vendor, rt.report.architecture, rt.report.description].filter(Boolean).join(' '),
    model: model.architecture,
    features: o.features,
    parameters: model.numParameters(),
    batchSize: o.batchSize,
    imageSize: o.imageSize,
  };
  const MiB = 2 ** 20;
  try {
    if (o.mode !== 'infer') {
      const lossFn = createLoss(o.loss);
      const opt = new Adam(model.parameters(), { lr: 1e-4 });
      model.train();
      rt.pool.resetPeak();
      const { wall: ms, gpu } = await timeIterations(o.warmup, o.iters, () => {
        scope(() => {
          opt.zeroGrad();
          const heads = model.forwardHeads(x);
          let loss = lossFn(heads[0], y);
          for (let k = 1; k < heads.length; k++) loss = add(loss, lossFn(heads[k], y));
          if (heads.length > 1) loss = mul(loss, 1 / heads.length);
          loss.backward();
          opt.step();
        });
      });
      result.trainStepMs = round(ms);
      if (gpu !== null) result.trainGpuMs = round(gpu);
      result.trainImgPerS = round((o.batchSize * 1000) / ms);
      result.peakTrainMiB = round(rt.memory().peakBytes / MiB);
      opt.zeroGrad();
      opt.dispose();
    }
    if (o.mode !== 'train') {
      model.eval();
      rt.pool.trim();
      rt.pool.resetPeak();
      const { wall: ms, gpu } = await timeIterations(o.warmup, o.iters, () => {
        // Nothing returned: the logits are freed with the rest of the scope.
        scope(() => {
          noGrad(() => model.forward(x));
        });
      });
      result.inferBatchMs = round(ms);
      if (gpu !== null) result.inferGpuMs = round(gpu);
      result.inferImgPerS = round((o.batchSize * 1000) / ms);
      result.peakInferMiB = round(rt.memory().peakBytes / MiB);
    }
  } finally {
    x.dispose();
    y.dispose();
    model.dispose();
  }
  return result;
}

const round = (v: number) => Math.round(v * 10) / 10;

export function formatBench(r: BenchResult): string {
  const rows: [string, string][] = [
    ['adapter', r.adapter],
    ['model', `${r.model} f${r.features} (${r.parameters.toLocaleString('en')} parameters)`],
    ['input', `batch ${r.batchSize} × 3 × ${r.imageSize}²`],
  ];
  if (r.trainStepMs !== undefined) {
    rows.push([
      'train step',
      `${r.trainStepMs} ms = ${r.trainImgPerS} img/s (Adam + loss), peak ${r.peakTrainMiB} MiB`,
    ]);
  }
  if (r.inferBatchMs !== undefined) {
    rows.push([
      'inference',
      `${r.inferBatchMs} ms a batch = ${r.inferImgPerS} img/s, peak ${r.peakInferMiB} MiB`,
    ]);
  }
  return rows.map(([k, v]) => `${k.padEnd(11)} ${v}`).join('\n');
}
