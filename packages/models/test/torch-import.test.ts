/**
 * A U-Net saved by PyTorch itself (`torch.save(model.state_dict())`, zip and legacy formats; the fixtures and the
 * script that made them are in packages/nn/test/fixtures/torch/) loads without Python and predicts what PyTorch
 * predicted, and the same as its safetensors conversion.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '@mriseg/nn/node';
import { initDevice, noGrad, scope, tensor } from '@mriseg/tensor-wgsl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromStateDict, createModel, type SegmentationModel } from '../src/index.js';
import { loadModel, saveModel } from '../src/node.js';
import { relL2 } from './golden-check.js';

const FIXTURES = new URL('../../nn/test/fixtures/torch/', import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;

let dir: string;
beforeAll(async () => {
  await initDevice();
  dir = mkdtempSync(join(tmpdir(), 'mriseg-torch-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function logits(model: SegmentationModel, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const x = tensor(input, shape);
  const y = scope(() => noGrad(() => model.eval().forward(x)));
  const out = (await y.data()) as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

describe('PyTorch .pt state dicts', () => {
  const expected = loadCheckpoint(fixture('unet-f2.expected.safetensors')).model;
  const input = expected.get('input')!;
  const want = expected.get('eval_logits')!.data as Float32Array;

  for (const name of ['unet-f2.zip.pt', 'unet-f2.legacy.pt']) {
    it(`${name}: loadModel takes the architecture from the keys, predicts PyTorch's eval logits, as does its safetensors conversion`, async () => {
      const model = loadModel(fixture(name));
      expect(model.config()).toEqual({ architecture: 'unet', inChannels: 3, outChannels: 1, features: 2 });
      const got = await logits(model, input.data as Float32Array, [...input.shape]);
      expect(relL2(got, want)).toBeLessThanOrEqual(1e-4);

      const converted = join(dir, `${name}.safetensors`);
      await saveModel(converted, model);
      const again = loadModel(converted);
      expect(Array.from(await logits(again, input.data as Float32Array, [...input.shape]))).toEqual(
        Array.from(got),
      );
      model.dispose();
      again.dispose();
    });
  }

  it('loadStateDict takes the parsed .pt unchanged', () => {
    const ck = loadCheckpoint(fixture('unet-f2.zip.pt'));
    const model = createModel('unet', { features: 2 });
    expect(model.loadStateDict(ck.model)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.dispose();
  });

  it('configFromStateDict tells the four architectures and their widths apart, and refuses other layouts', () => {
    for (const [name, options] of [
      ['unet', { features: 2 }],
      ['attention-unet', { features: 3, inChannels: 1 }],
      ['unet++', { features: 2, outChannels: 2 }],
      ['resunet', { features: 4 }],
    ] as const) {
      const m = createModel(name, options);
      const defaults = { inChannels: 3, outChannels: 1 };
      expect(configFromStateDict(m.stateDict()), name).toEqual({
        architecture: name,
        ...defaults,
        ...options,
      });
      m.dispose();
    }
    const other = loadCheckpoint(fixture('mixed.zip.pt')).model;
    expect(() => configFromStateDict(other)).toThrow(
      /matches none of mriseg's architectures.*it has f32, f64, f16/,
    );
  });
});
