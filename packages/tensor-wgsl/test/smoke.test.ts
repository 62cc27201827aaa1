import { describe, expect, it } from 'vitest';
import { initDevice, memory, scope, tensor } from '../src/index.js';

describe('smoke', () => {
  it('adds', async () => {
    const rt = await initDevice();
    console.log(rt.report.description, rt.report.isCpu);
    const a = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    const b = tensor([10, 20, 30], [3]);
    const c = a.add(b).mul(a).sum();
    expect(Array.from(await c.data())).toEqual([1 * 11 + 2 * 22 + 3 * 33 + 4 * 14 + 5 * 25 + 6 * 36]);
    c.backward();
    console.log(Array.from(await a.grad!.data()));
    const m = tensor([1, 2, 3, 4, 5, 6], [2, 3]).matmul(tensor([1, 0, 0, 1, 1, 1], [3, 2]));
    console.log(Array.from(await m.data()));
    const r = scope(() => tensor([3, 1, 2], [3]).max());
    console.log(await r.item(), memory());
  });
});
