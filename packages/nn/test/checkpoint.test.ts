import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDevice, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { serializeSafetensors } from '@mriseg/tensor-wgsl/safetensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  BatchNorm2d,
  CheckpointError,
  Conv2d,
  ConvTranspose2d,
  type InferenceSpec,
  Module,
  parseCheckpoint,
  Sequential,
  StepLR,
  serializeCheckpoint,
  VERSION,
} from '../src/index.js';
import {
  CHECKPOINT_FORMAT,
  checkpointMetadataJson,
  loadCheckpoint,
  loadCheckpointInto,
  loadStateDictFile,
  saveCheckpoint,
  saveStateDictFile,
} from '../src/node.js';

let dir = '';

beforeAll(async () => {
  await initDevice();
  dir = mkdtempSync(join(tmpdir(), 'mriseg-nn-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

class Small extends Module {
  readonly body = this.registerModule(
    'body',
    new Sequential(new Conv2d(2, 3, 3, { padding: 1, bias: false }), new BatchNorm2d(3)),
  );
  readonly up = this.registerModule('up', new ConvTranspose2d(3, 1, 2, { stride: 2 }));

  forward(x: Tensor): Tensor {
    return this.up.forward(this.body.forward(x).relu());
  }
}

async function bytesOf(t: Tensor): Promise<Uint8Array> {
  const d = await t.data();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

async function trainedModel(): Promise<{ model: Small; opt: Adam; sched: StepLR }> {
  const model = new Small();
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  const sched = new StepLR(opt, 1, 0.5);
  const x = tensor(
    Float32Array.from({ length: 2 * 2 * 4 * 4 }, (_, i) => Math.sin(i)),
    [2, 2, 4, 4],
  );
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    model.forward(x).mean().backward();
    opt.step();
    sched.step();
  }
  return { model, opt, sched };
}

describe('checkpoints', () => {
  it('write the package version that package.json has', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });

  it('round trip is bit-exact for the model, optimizer and schedule; metadata survives', async () => {
    const { model, opt, sched } = await trainedModel();
    const path = join(dir, 'ck.safetensors');
    await saveCheckpoint(path, {
      model,
      optimizer: opt,
      scheduler: sched,
      metadata: { modelName: 'Small', config: { f: 3 }, epoch: 7, metrics: { dsc: 0.5 } },
    });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const model2 = new Small();
    const opt2 = new Adam(model2.parameters(), { lr: 1 });
    const sched2 = new StepLR(opt2, 1, 0.5);
    const ck = loadCheckpointInto(path, { model: model2, optimizer: opt2, scheduler: sched2 });
    expect(ck.metadata).toMatchObject({
      format: CHECKPOINT_FORMAT,
      modelName: 'Small',
      config: { f: 3 },
      epoch: 7,
      metrics: { dsc: 0.5 },
    });
    expect(ck.metadata.versions?.['@mriseg/nn']).toBe(VERSION);
    expect(ck.model.get('body.1.num_batches_tracked')!.data[0]).toBe(2);
    for (const [k, t] of model.stateDict())
      expect(await bytesOf(model2.stateDict().get(k)!), k).toEqual(await bytesOf(t));
    const a = opt.stateDict();
    const b = opt2.stateDict();
    expect(b.steps).toEqual(a.steps);
    expect(b.paramGroups).toEqual(a.paramGroups);
    for (const [k, t] of a.tensors) expect(await bytesOf(b.tensors.get(k)!), k).toEqual(await bytesOf(t));
    expect(sched2.lastEpoch).toBe(2);
    expect(opt2.lr).toBe(opt.lr);
  });

  it('records how to run the model (inference spec) and refuses a malformed one, naming the field', async () => {
    const model = new Small();
    const inference: InferenceSpec = {
      inputSize: 64,
      channels: ['pre-contrast', 'FLAIR', 'post-contrast'],
      preprocess: { name: 'reference', options: { threshold: 0.1 } },
      output: 'logits',
      threshold: 0.5,
      postprocess: 'lcc3d',
    };
    const bytes = await serializeCheckpoint({ model, metadata: { inference } });
    const ck = parseCheckpoint(bytes, 'x.safetensors');
    expect(ck.metadata.inference).toEqual(inference);
    expect(JSON.parse(ck.rawMetadata.inference)).toEqual(inference);
    // A file written before the spec existed has none (consumers then fall back to stated defaults).
    expect(parseCheckpoint(await serializeCheckpoint({ model }), 'old').metadata.inference).toBeUndefined();
    const withRaw = (raw: string) =>
      parseCheckpoint(
        serializeSafetensors([], { format: CHECKPOINT_FORMAT, inference: raw }),
        'bad.safetensors',
      );
    expect(() => withRaw('{"inputSize": 0}')).toThrow(/bad\.safetensors.*inference\.inputSize/);
    expect(() => withRaw(JSON.stringify({ ...inference, threshold: 1.5 }))).toThrow(/inference\.threshold/);
    expect(() => withRaw(JSON.stringify({ ...inference, channels: [] }))).toThrow(/inference\.channels/);
    expect(() => withRaw('not json')).toThrow(/__metadata__\.inference is not valid JSON/);
    await expect(
      serializeCheckpoint({ model, metadata: { inference: { ...inference, inputSize: 2.5 } } }),
    ).rejects.toThrow(CheckpointError);
  });

  it('stores num_batches_tracked as I64 and loads a PyTorch-style state dict (no metadata) unchanged', async () => {
    const model = new Small();
    const path = join(dir, 'sd.safetensors');
    await saveStateDictFile(model, path);
    const header = readFileSync(path);
    const json = JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString());
    expect(json['body.1.num_batches_tracked']).toMatchObject({ dtype: 'I64', shape: [] });
    expect(json['body.0.weight']).toMatchObject({ dtype: 'F32', shape: [3, 2, 3, 3] });
    // A file as safetensors.torch.save_file(model.state_dict()) writes it.
    const entries = [...model.stateDict()].map(([k, t]) => {
      const n = t.size;
      const data =
        t.dtype === 'i32'
          ? BigInt64Array.from([42n])
          : Float32Array.from({ length: n }, (_, i) => (i % 5) * 0.25 - 0.5);
      return [k, { shape: [...t.shape], data }] as [
        string,
        { shape: number[]; data: Float32Array | BigInt64Array },
      ];
    });
    const torchPath = join(dir, 'torch.safetensors');
    writeFileSync(torchPath, serializeSafetensors(entries, { format: 'pt' }));
    const target = new Small();
    loadStateDictFile(target, torchPath);
    expect(await target.stateDict().get('body.1.num_batches_tracked')!.item()).toBe(42);
    expect(Array.from(await target.stateDict().get('up.bias')!.data())).toEqual([-0.5]);
    expect(loadCheckpoint(torchPath).optimizer).toBeNull();
  });

  it('a truncated or corrupt file gives a clear error', async () => {
    const model = new Small();
    const path = join(dir, 'ok.safetensors');
    await saveStateDictFile(model, path);
    const bytes = readFileSync(path);
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    expect(() => loadCheckpoint(truncated)).toThrow(/truncated\.safetensors.*truncated/);
    const cut = join(dir, 'cut-header.safetensors');
    writeFileSync(cut, bytes.subarray(0, 30));
    expect(() => loadCheckpoint(cut)).toThrow(/cut-header\.safetensors: header length \d+ runs past the end/);
    const corrupt = Buffer.from(bytes);
    corrupt[9] = 0x7b; // '{' inside the JSON header
    corrupt[10] = 0x7b;
    const bad = join(dir, 'corrupt.safetensors');
    writeFileSync(bad, corrupt);
    expect(() => loadCheckpoint(bad)).toThrow(/corrupt\.safetensors: header is not valid JSON/);
    expect(() => loadCheckpoint(join(dir, 'missing.safetensors'))).toThrow(
      /missing\.safetensors: cannot read/,
    );
  });

  it('loading names every key, shape and dtype that does not match', async () => {
    const path = join(dir, 'other.safetensors');
    const other = new Sequential(new Conv2d(2, 4, 3, { bias: false }), new BatchNorm2d(4));
    await saveStateDictFile(other, path);
    const model = new Small();
    let message = '';
    try {
      loadStateDictFile(model, path);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('other.safetensors');
    expect(message).toMatch(/8 missing: body\.0\.weight f32\[3, 2, 3, 3\]/);
    expect(message).toMatch(/6 unexpected: 0\.weight f32\[4, 2, 3, 3\]/);
    const u8 = join(dir, 'u8.safetensors');
    writeFileSync(
      u8,
      serializeSafetensors([['w', { dtype: 'U8', shape: [2], data: new Uint8Array([0, 0]) }]]),
    );
    expect(() => loadCheckpoint(u8)).toThrow(/"w" U8\[2\] has an unsupported dtype/);
    expect(existsSync(path)).toBe(true);
  });

  it('reads half-precision and float64 weights as f32, NaN and Inf included in the check', () => {
    const path = join(dir, 'half.safetensors');
    // 1, -2, 0.5 + 2^-11 (exact in half), the smallest subnormal; bfloat16 1.5; float64 1/3.
    const half = new Uint16Array([0x3c00, 0xc000, 0x3801, 0x0001]);
    writeFileSync(
      path,
      serializeSafetensors([
        ['a', { dtype: 'F16', shape: [2, 2], data: half }],
        ['b', { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3fc0]) }],
        ['c', { dtype: 'F64', shape: [1], data: new Float64Array([1 / 3]) }],
      ]),
    );
    const ck = loadCheckpoint(path);
    expect(ck.model.get('a')).toEqual({
      dtype: 'f32',
      shape: [2, 2],
      data: new Float32Array([1, -2, 0.5 + 2 ** -11, 2 ** -24]),
    });
    expect(ck.model.get('b')?.data).toEqual(new Float32Array([1.5]));
    expect(ck.model.get('c')?.data).toEqual(new Float32Array([Math.fround(1 / 3)]));
    const nan = join(dir, 'half-nan.safetensors');
    writeFileSync(
      nan,
      serializeSafetensors([['w', { dtype: 'F16', shape: [2], data: new Uint16Array([0x7e00, 0x7c00]) }]]),
    );
    expect(() => loadCheckpoint(nan)).toThrow(/"w" holds 1 NaN and 1 infinite value/);
  });

  it('asks for optimizer state the file does not have', async () => {
    const model = new Small();
    const path = join(dir, 'noopt.safetensors');
    await saveStateDictFile(model, path);
    const opt = new Adam(model.parameters());
    expect(() => loadCheckpointInto(path, { model, optimizer: opt })).toThrow(/has no optimizer state/);
  });

  it('NaN or infinite weights are refused by default, reported with a warning or allowed on request', () => {
    const path = join(dir, 'diverged.safetensors');
    const w = new Float32Array([1, Number.NaN, 2, Number.POSITIVE_INFINITY, Number.NaN, 0]);
    const entries = [
      ['a.weight', { shape: [2, 3], data: w }],
      ['b.bias', { shape: [1], data: new Float32Array([Number.NEGATIVE_INFINITY]) }],
      ['c.bias', { shape: [2], data: new Float32Array([0, 1]) }],
    ] as [string, { shape: number[]; data: Float32Array }][];
    writeFileSync(path, serializeSafetensors(entries));
    expect(() => loadCheckpoint(path)).toThrow(
      /diverged\.safetensors: "a\.weight" holds 2 NaN and 1 infinite value\(s\) of 6 \(and 1 more tensor\(s\) likewise\): a diverged or damaged model; pass nonFinite: 'allow'/,
    );
    const warnings: string[] = [];
    const ck = loadCheckpoint(path, { nonFinite: 'warn', onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^checkpoint .*diverged\.safetensors: "a\.weight" holds 2 NaN/);
    expect(Number.isNaN(ck.model.get('a.weight')!.data[1])).toBe(true);
    expect(loadCheckpoint(path, { nonFinite: 'allow' }).model.size).toBe(3);
  });

  it('metadata JSON is read through checkpointMetadataJson, whose errors name the file and the key', () => {
    const path = join(dir, 'meta.safetensors');
    writeFileSync(
      path,
      serializeSafetensors([['w', { shape: [1], data: new Float32Array([1]) }]], {
        'mriseg.train': '{"config": {"imageSize": 256}}',
        broken: '{"config": ',
      }),
    );
    const ck = loadCheckpoint(path);
    expect(
      checkpointMetadataJson<{ config: { imageSize: number } }>(ck, 'mriseg.train')?.config.imageSize,
    ).toBe(256);
    expect(checkpointMetadataJson(ck, 'absent')).toBeUndefined();
    expect(() => checkpointMetadataJson(ck, 'broken')).toThrow(
      /^checkpoint .*meta\.safetensors: __metadata__\.broken is not valid JSON/,
    );
  });
});
