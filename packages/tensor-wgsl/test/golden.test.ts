import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  concat,
  entryToFloat32,
  initDevice,
  relu,
  type SafetensorsFile,
  scope,
  sigmoid,
  sub,
  tensor,
} from '../src/index.js';
import { readSafetensorsFile } from '../src/node.js';
import { expectAllClose } from './helpers.js';
import { relL2 } from './reference.js';

/** /work/shared/golden: this file is packages/tensor-wgsl/test/golden.test.ts, four levels below /work. */
const GOLDEN_DIR = fileURLToPath(new URL('../../../../shared/golden/', import.meta.url));

beforeAll(async () => {
  await initDevice();
});

function entry(file: SafetensorsFile, name: string): { data: Float32Array; shape: number[] } {
  const e = file.tensors.get(name);
  if (!e) throw new Error(`golden entry "${name}" missing (have ${[...file.tensors.keys()].join(', ')})`);
  return { data: entryToFloat32(e), shape: e.shape };
}

describe('golden fixtures (PyTorch, float64)', () => {
  it('resolves the shared golden folder', () => {
    expect(GOLDEN_DIR).toMatch(/\/shared\/golden\/$/);
    // A missing folder fails the run: the fixtures are part of the test, never optional.
    expect(existsSync(GOLDEN_DIR), `golden fixtures missing: ${GOLDEN_DIR}`).toBe(true);
  });

  it('cat → relu → sigmoid(x − 0.5): forward and gradients with an upstream dout', async () => {
    const file = readSafetensorsFile(`${GOLDEN_DIR}ops/cat_relu_sigmoid.safetensors`);
    expect(file.metadata.op).toBe('sigmoid(relu(cat(a,b,dim=1))-0.5)');
    const [a, b, dout, out, ga, gb] = ['a', 'b', 'dout', 'out', 'grad.a', 'grad.b'].map((n) =>
      entry(file, n),
    );
    const ta = tensor(a.data, a.shape, { requiresGrad: true });
    const tb = tensor(b.data, b.shape, { requiresGrad: true });
    const td = tensor(dout.data, dout.shape);
    const y = scope(() => {
      const r = sigmoid(sub(relu(concat([ta, tb], 1)), 0.5));
      r.backward(td);
      return r;
    });
    expect([...y.shape]).toEqual(out.shape);
    const yv = await y.data();
    expect(relL2(yv, out.data)).toBeLessThan(1e-4);
    expectAllClose(yv, out.data, { rtol: 1e-5, atol: 1e-6 }, 'out');
    const gav = await ta.grad!.data();
    const gbv = await tb.grad!.data();
    expect([...ta.grad!.shape]).toEqual(ga.shape);
    expect([...tb.grad!.shape]).toEqual(gb.shape);
    expect(relL2(gav, ga.data)).toBeLessThan(1e-3);
    expect(relL2(gbv, gb.data)).toBeLessThan(1e-3);
    expectAllClose(gav, ga.data, { rtol: 1e-4, atol: 1e-6 }, 'grad.a');
    expectAllClose(gbv, gb.data, { rtol: 1e-4, atol: 1e-6 }, 'grad.b');
    for (const t of [ta, tb, td, y]) t.dispose();
  });
});
