import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { type Tensor, tensor } from '../src/index.js';

beforeAll(async () => {
  await T.initDevice();
});

async function same(a: Tensor, b: Tensor, label: string): Promise<void> {
  expect([...a.shape], label).toEqual([...b.shape]);
  expect(a.dtype, label).toBe(b.dtype);
  expect(Array.from(await a.data()), label).toEqual(Array.from(await b.data()));
}

describe('method forms', () => {
  it('every Tensor method computes the same as its function', async () => {
    const x = tensor([0.5, -1.5, 2, 3, -0.25, 1], [2, 3]);
    const y = tensor([1, 2, -3], [3]);
    const pairs: [string, () => Tensor, () => Tensor][] = [
      ['add', () => x.add(y), () => T.add(x, y)],
      ['sub', () => x.sub(2), () => T.sub(x, 2)],
      ['mul', () => x.mul(y), () => T.mul(x, y)],
      ['div', () => x.div(y), () => T.div(x, y)],
      ['pow', () => x.abs().pow(1.5), () => T.pow(T.abs(x), 1.5)],
      ['maximum', () => x.maximum(y), () => T.maximum(x, y)],
      ['minimum', () => x.minimum(0), () => T.minimum(x, 0)],
      ['neg', () => x.neg(), () => T.neg(x)],
      ['exp', () => x.exp(), () => T.exp(x)],
      ['log', () => x.abs().log(), () => T.log(T.abs(x))],
      ['sqrt', () => x.abs().sqrt(), () => T.sqrt(T.abs(x))],
      ['relu', () => x.relu(), () => T.relu(x)],
      ['sigmoid', () => x.sigmoid(), () => T.sigmoid(x)],
      ['tanh', () => x.tanh(), () => T.tanh(x)],
      ['clamp', () => x.clamp(-1, 1), () => T.clamp(x, -1, 1)],
      ['lt', () => x.lt(y), () => T.lt(x, y)],
      ['le', () => x.le(1), () => T.le(x, 1)],
      ['gt', () => x.gt(y), () => T.gt(x, y)],
      ['ge', () => x.ge(1), () => T.ge(x, 1)],
      ['eq', () => x.eq(2), () => T.eq(x, 2)],
      ['ne', () => x.ne(2), () => T.ne(x, 2)],
      ['cast', () => x.cast('i32'), () => T.cast(x, 'i32')],
      ['clone', () => x.clone(), () => T.clone(x)],
      ['sum', () => x.sum(1, { keepdim: true }), () => T.sum(x, 1, { keepdim: true })],
      ['mean', () => x.mean(0), () => T.mean(x, 0)],
      ['max', () => x.max(1), () => T.max(x, 1)],
      ['min', () => x.min(), () => T.min(x)],
      ['argmax', () => x.argmax(1), () => T.argmax(x, 1)],
      ['argmin', () => x.argmin(0, { keepdim: true }), () => T.argmin(x, 0, { keepdim: true })],
      ['matmul', () => x.matmul(x.transpose()), () => T.matmul(x, T.transpose(x))],
      ['reshape', () => x.reshape([3, 2]), () => T.reshape(x, [3, 2])],
      ['flatten', () => x.flatten(), () => T.flatten(x)],
      ['squeeze', () => x.unsqueeze(0).squeeze(0), () => T.squeeze(T.unsqueeze(x, 0), 0)],
      ['unsqueeze', () => x.unsqueeze(1), () => T.unsqueeze(x, 1)],
      ['permute', () => x.permute([1, 0]), () => T.permute(x, [1, 0])],
      ['transpose', () => x.transpose(0, 1), () => T.transpose(x, 0, 1)],
      ['slice', () => x.slice([null, { step: 2 }]), () => T.slice(x, [null, { step: 2 }])],
      ['pad', () => x.pad([1, 0], 9), () => T.pad(x, [1, 0], 9)],
      ['flip', () => x.flip(1), () => T.flip(x, 1)],
      ['expand', () => y.expand([2, 3]), () => T.expand(y, [2, 3])],
    ];
    for (const [name, method, fn] of pairs) {
      const [a, b] = T.scope(() => [method(), fn()]);
      await same(a, b, name);
      a.dispose();
      b.dispose();
    }
    // Distinguishes pairs that a mix-up could confuse (lt/le, gt/ge, max/min, argmax/argmin).
    const m = T.scope(() => [x.le(1), x.lt(1), x.max(), x.min(), x.argmax(1), x.argmin(1)]);
    const values = await Promise.all(m.map((t) => t.data()));
    expect(values.map((v) => Array.from(v))).toEqual([
      [1, 1, 0, 0, 1, 1],
      [1, 1, 0, 0, 1, 0],
      [3],
      [-1.5],
      [2, 0],
      [1, 1],
    ]);
    for (const t of [x, y, ...m]) t.dispose();
  });
});

describe('shape helpers', () => {
  it('broadcastShapes follows NumPy rules and names the op on failure', () => {
    expect(T.broadcastShapes('op', [3, 1, 5], [4, 1], [])).toEqual([3, 4, 5]);
    expect(T.broadcastShapes('op', [], [])).toEqual([]);
    expect(() => T.broadcastShapes('myop', [2, 3], [4])).toThrow(
      /^myop: shapes \[2, 3\] and \[4\] cannot be broadcast/,
    );
  });

  it('stridesOf, broadcastStrides, numel and formatShape', () => {
    expect(T.stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
    expect(T.stridesOf([])).toEqual([]);
    expect(T.broadcastStrides([3, 1], [2, 3, 5])).toEqual([0, 1, 0]);
    expect(T.numel([2, 0, 3])).toBe(0);
    expect(T.numel([])).toBe(1);
    expect(T.formatShape([2, 3])).toBe('[2, 3]');
  });

  it('tensors describe themselves by name, dtype and shape', () => {
    const t = tensor(new Int32Array([1, 2]), [1, 2], { name: 'labels' });
    expect(t.describe()).toBe('"labels" i32[1, 2]');
    expect(String(t)).toBe('Tensor("labels" i32[1, 2])');
    expect(t.rank).toBe(2);
    expect(t.isLeaf).toBe(true);
    t.dispose();
  });
});
