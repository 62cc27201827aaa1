/**
 * ONNX export checked by an independent runtime: ONNX Runtime (onnxruntime-node, CPU) runs each exported model
 * and must give mriseg's own eval-mode logits (rel. L2 ≤ 1e-5; the issue asks 1e-4), for each architecture, BatchNorm folded and as
 * nodes, at more than one batch size.
 */
import type { HostTensor } from '@mriseg/nn';
import { initDevice, noGrad, Rng, randn, scope, type Tensor } from '@mriseg/tensor-wgsl';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchNormExport,
  type CreateModelOptions,
  createModel,
  decodeOnnxModel,
  exportOnnx,
  REFERENCE_INFERENCE,
  type SegmentationModel,
  type UNetPlusPlusHead,
} from '../src/index.js';
import { relL2 } from './golden-check.js';

beforeAll(async () => {
  await initDevice();
});

const SIZE = 32;

/** Running statistics and affine BatchNorm parameters away from their initial values, so eval mode matters. */
function randomizeBatchNorm(model: SegmentationModel, rng: Rng): void {
  const sd = model.stateDict();
  const update = new Map<string, HostTensor>();
  const uniform = (n: number, lo: number, hi: number) =>
    Float32Array.from({ length: n }, () => rng.range(lo, hi));
  for (const [key, t] of sd) {
    if (!key.endsWith('.running_mean')) continue;
    const p = key.slice(0, -'running_mean'.length);
    const n = t.size;
    update.set(`${p}running_mean`, { dtype: 'f32', shape: [n], data: uniform(n, -0.3, 0.3) });
    update.set(`${p}running_var`, { dtype: 'f32', shape: [n], data: uniform(n, 0.4, 1.6) });
    update.set(`${p}weight`, { dtype: 'f32', shape: [n], data: uniform(n, 0.6, 1.4) });
    update.set(`${p}bias`, { dtype: 'f32', shape: [n], data: uniform(n, -0.2, 0.2) });
  }
  model.loadStateDict(update, { strict: false });
}

async function runOrt(bytes: Uint8Array, x: Float32Array, shape: number[]) {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ image: new ort.Tensor('float32', x, shape) });
  const name = session.outputNames[0];
  const y = out[name];
  await session.release();
  return { name, data: y.data as Float32Array, dims: [...y.dims] };
}

interface Case {
  name: string;
  options: CreateModelOptions;
  head?: UNetPlusPlusHead;
  /** Which of mriseg's outputs the export must match: forward (default) or head k of forwardHeads. */
  headIndex?: number;
}

const CASES: Case[] = [
  { name: 'unet', options: { features: 4 } },
  { name: 'attention-unet', options: { features: 4 } },
  { name: 'resunet', options: { features: 4 } },
  { name: 'unet++', options: { features: 2 } },
  { name: 'unet++', options: { features: 2, inference: 'mean' } },
  { name: 'unet++', options: { features: 2 }, head: 2, headIndex: 1 },
];

describe('ONNX export, run by ONNX Runtime', () => {
  for (const c of CASES) {
    const label = `${c.name}${c.options.inference === 'mean' ? ' (mean of heads)' : ''}${c.head ? ` (head ${c.head})` : ''}`;
    it(`${label}: ONNX Runtime matches mriseg's eval logits, BatchNorm folded and as nodes, batch 2 and 1`, async () => {
      const rng = new Rng(22);
      const model = createModel(c.name, { ...c.options, rng }).eval();
      randomizeBatchNorm(model, rng);
      const x = randn([2, 3, SIZE, SIZE], rng);
      const want = scope(() =>
        noGrad(() => (c.headIndex === undefined ? model.forward(x) : model.forwardHeads(x)[c.headIndex])),
      );
      const wantData = (await want.data()) as Float32Array;
      const xData = (await x.data()) as Float32Array;
      for (const batchNorm of ['fold', 'node'] as BatchNormExport[]) {
        const bytes = await exportOnnx(model, { inputSize: SIZE, batchNorm, head: c.head });
        const got = await runOrt(bytes, xData, [2, 3, SIZE, SIZE]);
        expect(got.name).toBe('logits');
        expect(got.dims).toEqual([2, 1, SIZE, SIZE]);
        const err = relL2(got.data, wantData);
        // The issue asks for 1e-4; float32 rounding alone gives 1e-8–2e-7 here, so a tighter bound catches more.
        expect(err, `${label}, BatchNorm ${batchNorm}: rel. L2 ${err}`).toBeLessThanOrEqual(1e-5);
        // Dynamic batch: one image alone gives the first half of the batch's output.
        const one = await runOrt(bytes, xData.subarray(0, 3 * SIZE * SIZE), [1, 3, SIZE, SIZE]);
        expect(relL2(one.data, wantData.subarray(0, SIZE * SIZE))).toBeLessThanOrEqual(1e-5);
        const ops = new Set(decodeOnnxModel(bytes).graph.node.map((n) => n.opType));
        expect(ops.has('BatchNormalization'), batchNorm).toBe(batchNorm === 'node');
      }
      for (const t of [x, want] as Tensor[]) t.dispose();
      model.dispose();
    });
  }

  it('with sigmoid, outputs probabilities; records the inference settings as metadata; rejects bad options', async () => {
    const rng = new Rng(5);
    const model = createModel('unet', { features: 2, rng }).eval();
    const x = randn([1, 3, 16, 16], rng);
    const logits = scope(() => noGrad(() => model.forward(x)));
    const want = Array.from((await logits.data()) as Float32Array, (v) => 1 / (1 + Math.exp(-v)));
    const inference = { ...REFERENCE_INFERENCE, inputSize: 16, threshold: 0.4 };
    const bytes = await exportOnnx(model, { inputSize: 16, sigmoid: true, inference });
    const got = await runOrt(bytes, (await x.data()) as Float32Array, [1, 3, 16, 16]);
    expect(got.name).toBe('probabilities');
    expect(relL2(got.data, want)).toBeLessThanOrEqual(1e-5);

    const decoded = decodeOnnxModel(bytes);
    expect(decoded.producerName).toBe('mriseg');
    expect(decoded.opsetImport[0].version).toBe(17);
    const props = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
    expect(props.threshold).toBe('0.4');
    expect(props.input_size).toBe('16');
    expect(props.channels).toBe('pre-contrast,FLAIR,post-contrast');
    expect(JSON.parse(props.preprocessing)).toEqual({ name: 'reference', options: {} });
    expect(JSON.parse(props['mriseg.inference'])).toEqual(inference);
    expect(JSON.parse(props['mriseg.config'])).toMatchObject({ architecture: 'unet', features: 2 });
    expect(decoded.graph.input[0].type.tensorType.shape.dim).toEqual([
      { dimParam: 'batch' },
      { dimValue: 3 },
      { dimValue: 16 },
      { dimValue: 16 },
    ]);

    await expect(exportOnnx(model, { inputSize: 40 })).rejects.toThrow(
      /input size 40 must be a positive multiple of 16/,
    );
    await expect(exportOnnx(model, { inputSize: 16, head: 2 })).rejects.toThrow(/unet\+\+ only/);
    for (const t of [x, logits]) t.dispose();
    model.dispose();
  });
});
