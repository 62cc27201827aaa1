import { beforeAll, describe, expect, it } from 'vitest';
import {
  allFinite,
  arange,
  assertFinite,
  full,
  initDevice,
  matmul,
  memory,
  ones,
  onesLike,
  Rng,
  rand,
  randn,
  ShapeError,
  scalar,
  scope,
  type Tensor,
  tensor,
  zeros,
  zerosLike,
} from '../src/index.js';
import { expectAllClose, expectTensor, up } from './helpers.js';
import * as R from './reference.js';

beforeAll(async () => {
  await initDevice();
});

describe('matmul', () => {
  async function check(sa: number[], sb: number[], seed: number) {
    const rng = new Rng(seed);
    const a = R.randomND(rng, sa);
    const b = R.randomND(rng, sb);
    const t = scope(() => matmul(up(a), up(b)));
    try {
      await expectTensor(t, R.matmul(a, b), { rtol: 1e-5, atol: 1e-5 }, `[${sa}]·[${sb}]`);
    } finally {
      t.dispose();
    }
  }

  it('2-D with sizes that are not multiples of the 16×16 tile', async () => {
    const shapes: [number[], number[]][] = [
      [
        [17, 33],
        [33, 5],
      ],
      [
        [1, 47],
        [47, 1],
      ],
      [
        [31, 16],
        [16, 18],
      ],
      [
        [16, 16],
        [16, 16],
      ],
      [
        [3, 1],
        [1, 4],
      ],
    ];
    for (const [k, [sa, sb]] of shapes.entries()) await check(sa, sb, k);
  });

  it('batched, with equal batches and with rank 4', async () => {
    await check([3, 5, 7], [3, 7, 2], 10);
    await check([2, 3, 4, 9], [2, 3, 9, 5], 11);
  });

  it('broadcast batch: a 2-D or batch-1 operand on either side', async () => {
    await check([4, 6, 5], [5, 3], 20);
    await check([6, 5], [4, 5, 3], 21);
    await check([1, 6, 5], [4, 5, 3], 22);
    await check([4, 6, 5], [1, 5, 3], 23);
    await check([2, 3, 6, 5], [5, 19], 24);
  });

  it('inner size mismatch, rank < 2, i32 and incompatible batches are ShapeErrors naming the op and shapes', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    const b = tensor(new Float32Array(8), [4, 2]);
    expect(() => matmul(a, b)).toThrow(ShapeError);
    expect(() => matmul(a, b)).toThrow(/matmul: inner sizes differ: f32\[2, 3\] · f32\[4, 2\]/);
    const v = tensor(new Float32Array(3), [3]);
    expect(() => matmul(v, a)).toThrow(/rank ≥ 2/);
    const i = tensor(new Int32Array(6), [3, 2]);
    expect(() => matmul(a, i)).toThrow(/f32/);
    const x = tensor(new Float32Array(2 * 2 * 3), [2, 2, 3]);
    const y = tensor(new Float32Array(3 * 3 * 2), [3, 3, 2]);
    expect(() => matmul(x, y)).toThrow(ShapeError);
    for (const t of [a, b, v, i, x, y]) t.dispose();
  });
});

describe('creation', () => {
  async function values(fn: () => Tensor): Promise<{ t: Tensor; v: Float32Array | Int32Array }> {
    const t = scope(fn);
    const v = await t.data();
    t.dispose();
    return { t, v };
  }

  it('tensor() from arrays and typed arrays, scalar(), and size checks', async () => {
    const { t, v } = await values(() => tensor([1.5, -2, 3], [3, 1]));
    expect(t.shape).toEqual([3, 1]);
    expect(t.dtype).toBe('f32');
    expect(Array.from(v)).toEqual([1.5, -2, 3]);
    const i = await values(() => tensor(new Int32Array([7, -8])));
    expect(i.t.dtype).toBe('i32');
    expect(Array.from(i.v)).toEqual([7, -8]);
    const d = await values(() => tensor(new Float64Array([0.1]), [1], { dtype: 'i32' }));
    expect(Array.from(d.v)).toEqual([0]);
    const s = await values(() => scalar(4.25));
    expect(s.t.shape).toEqual([]);
    expect(Array.from(s.v)).toEqual([4.25]);
    const named = tensor([1], [1], { name: 'w', requiresGrad: true });
    expect(named.name).toBe('w');
    expect(named.requiresGrad).toBe(true);
    named.dispose();
    const one = tensor([6.5], [1, 1]);
    expect(await one.item()).toBe(6.5);
    const two = tensor([1, 2]);
    await expect(two.item()).rejects.toThrow(/item\(\): f32\[2\] has 2 elements/);
    one.dispose();
    two.dispose();
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
    expect(() => tensor([1, 2], [2, -1])).toThrow(ShapeError);
  });

  it('full / zeros / ones / zerosLike / onesLike in f32 and i32', async () => {
    expect(Array.from((await values(() => full([2, 3], -2.5))).v)).toEqual(new Array(6).fill(-2.5));
    expect(Array.from((await values(() => zeros([4]))).v)).toEqual([0, 0, 0, 0]);
    expect(Array.from((await values(() => ones([2, 2]))).v)).toEqual([1, 1, 1, 1]);
    const i = await values(() => full([3], 7, 'i32'));
    expect(i.t.dtype).toBe('i32');
    expect(Array.from(i.v)).toEqual([7, 7, 7]);
    const base = tensor(new Int32Array([1, 2]), [2, 1]);
    const zl = await values(() => zerosLike(base));
    expect([zl.t.dtype, [...zl.t.shape], Array.from(zl.v)]).toEqual(['i32', [2, 1], [0, 0]]);
    const ol = await values(() => onesLike(base));
    expect(Array.from(ol.v)).toEqual([1, 1]);
    base.dispose();
    const big = await values(() => full([70000], 3));
    expect(big.v.every((x) => x === 3)).toBe(true);
    const empty = await values(() => zeros([0, 3]));
    expect(empty.v.length).toBe(0);
  });

  it('a tensor larger than the device can bind fails at once, naming the op, the shape and the limit', async () => {
    const before = memory().liveBuffers;
    expect(() => zeros([1e6, 1e6])).toThrow(
      /^full: a f32\[1000000, 1000000\] tensor needs 4000000000000 bytes \(\d+ as the buffer pool rounds sizes\), more than the \d+ bytes this device can bind/,
    );
    expect(memory().liveBuffers).toBe(before);
    // The device is still usable afterwards: the error came before any WebGPU call.
    const t = ones([3]);
    expect(Array.from(await t.data())).toEqual([1, 1, 1]);
    t.dispose();
  });

  it('allFinite / assertFinite find NaN and ±Inf (an opt-in read-back)', async () => {
    const cases: [number[], boolean][] = [
      [[1, -2, 3e38], true],
      [[1, Number.NaN, 3], false],
      [[1, Number.NEGATIVE_INFINITY], false],
      [[Number.POSITIVE_INFINITY], false],
    ];
    for (const [values, finite] of cases) {
      const t = tensor(values);
      expect(await allFinite(t), JSON.stringify(values)).toBe(finite);
      if (!finite)
        await expect(assertFinite(t, 'input')).rejects.toThrow(/^input holds NaN or infinite values$/);
      t.dispose();
    }
  });

  it('arange in f32 and i32', async () => {
    expect(Array.from((await values(() => arange(5))).v)).toEqual([0, 1, 2, 3, 4]);
    const i = await values(() => arange(4, 'i32'));
    expect(i.t.dtype).toBe('i32');
    expect(Array.from(i.v)).toEqual([0, 1, 2, 3]);
  });

  it('rand: range, moments, and reproducibility for a seed', async () => {
    const a = await values(() => rand([100, 100], new Rng(5), -2, 3));
    const b = await values(() => rand([100, 100], new Rng(5), -2, 3));
    const c = await values(() => rand([100, 100], new Rng(6), -2, 3));
    expect(a.v).toEqual(b.v);
    expect(a.v).not.toEqual(c.v);
    const v = Array.from(a.v);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...v)).toBeLessThan(3);
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    const variance = v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length;
    // Uniform(-2, 3): mean 0.5, variance 25/12; 10^4 samples give standard errors of ~0.014 and ~0.02.
    expect(Math.abs(m - 0.5)).toBeLessThan(0.06);
    expect(Math.abs(variance - 25 / 12)).toBeLessThan(0.1);
  });

  it('randn: moments and reproducibility for a seed', async () => {
    const a = await values(() => randn([20000], new Rng(9), 1.5, 2));
    const b = await values(() => randn([20000], new Rng(9), 1.5, 2));
    expect(a.v).toEqual(b.v);
    const v = Array.from(a.v);
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
    const skew = v.reduce((s, x) => s + ((x - m) / sd) ** 3, 0) / v.length;
    const kurt = v.reduce((s, x) => s + ((x - m) / sd) ** 4, 0) / v.length;
    expect(Math.abs(m - 1.5)).toBeLessThan(0.06);
    expect(Math.abs(sd - 2)).toBeLessThan(0.05);
    expect(Math.abs(skew)).toBeLessThan(0.1);
    expect(Math.abs(kurt - 3)).toBeLessThan(0.2);
  });

  it('values survive the round trip to the GPU bit-exactly', async () => {
    const v = new Float32Array([0, -0, 1e-38, 3.4e38, -1.17549435e-38, Math.PI, Number.NaN, Infinity]);
    const got = await values(() => tensor(v));
    expectAllClose(got.v, v, { rtol: 0, atol: 0 });
    expect(Object.is(got.v[1], -0)).toBe(true);
  });
});
