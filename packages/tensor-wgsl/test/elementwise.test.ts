import { beforeAll, describe, expect, it } from 'vitest';
import {
  abs,
  add,
  cast,
  clamp,
  clone,
  div,
  eq,
  exp,
  ge,
  gt,
  initDevice,
  le,
  log,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  Rng,
  relu,
  rsub,
  runtime,
  ShapeError,
  scope,
  sigmoid,
  sqrt,
  sub,
  type Tensor,
  tanh,
  tensor,
  where,
} from '../src/index.js';
import { down, expectAllClose, expectTensor, up } from './helpers.js';
import * as R from './reference.js';

beforeAll(async () => {
  await initDevice();
});

/** Shapes of two operands that broadcast in both directions (either may be the smaller one). */
function broadcastPair(rng: Rng): [number[], number[]] {
  const out = R.randomShape(rng, 0, 4, 6);
  const a = rng.uniform() < 0.3 ? [...out] : R.broadcastableTo(rng, out);
  const b = R.broadcastableTo(rng, out);
  return rng.uniform() < 0.5 ? [a, b] : [b, a];
}

/** Runs fn inside a scope and compares its single result with the reference; frees everything. */
async function check(fn: () => Tensor, ref: R.ND, tol: { rtol?: number; atol?: number } = {}, label = '') {
  const t = scope(fn);
  try {
    await expectTensor(t, ref, tol, label);
  } finally {
    t.dispose();
  }
}

type Binary = (a: Tensor, b: Tensor | number) => Tensor;

const BINARY: [string, Binary, (x: number, y: number) => number, 'any' | 'nonzero'][] = [
  ['add', add, (x, y) => x + y, 'any'],
  ['sub', sub, (x, y) => x - y, 'any'],
  ['mul', mul, (x, y) => x * y, 'any'],
  ['div', div, (x, y) => x / y, 'nonzero'],
  ['maximum', maximum, (x, y) => Math.max(x, y), 'any'],
  ['minimum', minimum, (x, y) => Math.min(x, y), 'any'],
];

describe('binary elementwise ops with broadcasting', () => {
  for (const [name, op, f, domain] of BINARY) {
    it(`${name}: random broadcast shapes, both directions, and a number operand`, async () => {
      const rng = new Rng(100 + name.length);
      for (let k = 0; k < 6; k++) {
        const [sa, sb] = broadcastPair(rng);
        const a = R.randomND(rng, sa, -3, 3);
        const b = domain === 'nonzero' ? R.randomAwayFromZero(rng, sb, 0.25, 3) : R.randomND(rng, sb, -3, 3);
        await check(() => op(up(a), up(b)), R.map(f, a, b), { rtol: 2e-6 }, `${name} [${sa}]·[${sb}]`);
      }
      const a = R.randomND(rng, [3, 5, 2]);
      await check(
        () => op(up(a), 1.75),
        R.map((x) => f(x, 1.75), a),
        { rtol: 2e-6 },
        `${name} with a number`,
      );
    });
  }

  it('rsub computes number − tensor', async () => {
    const rng = new Rng(7);
    const a = R.randomND(rng, [4, 3]);
    await check(
      () => rsub(up(a), 2.5),
      R.map((x) => 2.5 - x, a),
      {},
      'rsub',
    );
  });

  it('broadcasts against a rank-0 tensor and keeps a rank-0 result rank-0', async () => {
    const a = R.nd([], [2]);
    const b = R.nd([2, 3], [1, 2, 3, 4, 5, 6]);
    await check(() => mul(up(a), up(b)), R.mul(a, b));
    await check(() => add(up(a), up(R.nd([], [5]))), R.nd([], [7]));
  });

  it('operands broadcast on both sides at once ([3,1,5] with [4,1])', async () => {
    const rng = new Rng(3);
    const a = R.randomND(rng, [3, 1, 5]);
    const b = R.randomND(rng, [4, 1]);
    await check(() => sub(up(a), up(b)), R.sub(a, b));
    await check(() => sub(up(b), up(a)), R.sub(b, a));
  });

  it('an operand with only inserted size-1 axes reads linearly ([6] with [1,6,1])', async () => {
    const rng = new Rng(4);
    const a = R.randomND(rng, [1, 6, 1]);
    const b = R.randomND(rng, [6, 1]);
    await check(() => add(up(a), up(b)), R.add(a, b));
  });

  it('more than 65,535 workgroups of 256 threads: the 2-D dispatch grid covers every element once', async () => {
    const n = 65535 * 256 + 1000;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = i % 1013;
    const a = tensor(values, [n]);
    const out = scope(() => add(a, 0.5));
    a.dispose();
    const v = await out.data();
    out.dispose();
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (v[i] !== (i % 1013) + 0.5) bad = i;
    expect(bad, `first wrong element ${bad}: ${v[bad]}`).toBe(-1);
    runtime().pool.trim();
  });

  it('rejects shapes that do not broadcast, naming the op and both shapes', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    const b = tensor(new Float32Array(4), [4]);
    expect(() => add(a, b)).toThrow(ShapeError);
    expect(() => add(a, b)).toThrow(/add.*\[2, 3\].*\[4\]/);
    expect(() => mul(a, b)).toThrow(/^mul: /);
    a.dispose();
    b.dispose();
  });

  it('rejects mixing f32 and i32 operands', () => {
    const a = tensor([1, 2], [2]);
    const b = tensor(new Int32Array([1, 2]), [2]);
    expect(() => add(a, b)).toThrow(ShapeError);
    a.dispose();
    b.dispose();
  });
});

describe('unary elementwise ops', () => {
  const UNARY: [string, (t: Tensor) => Tensor, (x: number) => number, number, number][] = [
    ['neg', neg, (x) => -x, -5, 5],
    ['exp', exp, Math.exp, -8, 8],
    ['log', log, Math.log, 1e-3, 50],
    ['sqrt', sqrt, Math.sqrt, 0, 50],
    ['abs', abs, Math.abs, -5, 5],
    ['relu', relu, (x) => Math.max(0, x), -5, 5],
    ['sigmoid', sigmoid, (x) => 1 / (1 + Math.exp(-x)), -12, 12],
    ['tanh', tanh, Math.tanh, -6, 6],
  ];
  for (const [name, op, f, lo, hi] of UNARY) {
    it(`${name} on random odd shapes`, async () => {
      const rng = new Rng(200 + name.length);
      for (let k = 0; k < 3; k++) {
        const x = R.randomND(rng, R.randomShape(rng, 0, 4, 7), lo, hi);
        await check(() => op(up(x)), R.map(f, x), { rtol: 1e-5, atol: 1e-6 }, name);
      }
    });
  }

  it('tanh and sigmoid saturate without NaN for large |x|', async () => {
    const x = R.nd([8], [-1e4, -500, -90, -20, 20, 90, 500, 1e4]);
    await check(() => tanh(up(x)), R.tanh(x), { atol: 0 });
    await check(() => sigmoid(up(x)), R.sigmoid(x), { atol: 1e-30 });
  });

  it('tanh is accurate near zero', async () => {
    const x = R.nd([5], [-1e-3, -1e-5, 0, 1e-5, 1e-3]);
    await check(() => tanh(up(x)), R.tanh(x), { rtol: 1e-3, atol: 1e-8 });
  });

  it('relu, abs pass zeros through; log and sqrt follow IEEE at the domain edge', async () => {
    await check(() => relu(up(R.nd([3], [0, -0, 2]))), R.nd([3], [0, 0, 2]));
    await check(() => sqrt(up(R.nd([2], [0, -1]))), R.nd([2], [0, Number.NaN]));
    const l = scope(() => log(up(R.nd([1], [0]))));
    expect((await l.data())[0]).toBe(Number.NEGATIVE_INFINITY);
    l.dispose();
  });

  it('transcendental ops refuse i32 tensors', () => {
    const t = tensor(new Int32Array([1, 2]), [2]);
    for (const op of [exp, log, sqrt, relu, sigmoid, tanh]) expect(() => op(t)).toThrow(/i32/);
    t.dispose();
  });
});

describe('pow', () => {
  it('scalar exponents, including negative bases with integer exponents', async () => {
    const rng = new Rng(11);
    const x = R.randomAwayFromZero(rng, [3, 7], 0.2, 2.5);
    for (const p of [0, 1, 2, 3, -1, -2, 4, 5, -3]) {
      await check(
        () => pow(up(x), p),
        R.map((v) => v ** p, x),
        { rtol: 2e-5, atol: 1e-6 },
        `x^${p}`,
      );
    }
  });

  it('fractional scalar exponents of positive bases; NaN for negative bases', async () => {
    const rng = new Rng(12);
    const x = R.randomND(rng, [5, 4], 0.05, 3);
    for (const p of [0.5, -0.5, 2.5, 1 / 3]) {
      await check(
        () => pow(up(x), p),
        R.map((v) => v ** p, x),
        { rtol: 2e-5, atol: 1e-6 },
        `x^${p}`,
      );
    }
    await check(() => pow(up(R.nd([2], [-2, 4])), 0.5), R.nd([2], [Number.NaN, 2]));
  });

  it('tensor exponents with broadcasting', async () => {
    const rng = new Rng(13);
    const x = R.randomND(rng, [4, 1, 3], 0.1, 3);
    const y = R.randomND(rng, [5, 1], -2, 2);
    await check(() => pow(up(x), up(y)), R.pow(x, y), { rtol: 2e-5, atol: 1e-6 });
  });

  it('tensor exponents that are integers give real results for negative bases', async () => {
    const x = R.nd([6], [-2, -1.5, -3, 2, -0.5, -2]);
    const y = R.nd([6], [2, 3, -1, 3, 0, 0.5]);
    await check(() => pow(up(x), up(y)), R.pow(x, y), { rtol: 2e-5 });
  });
});

describe('clamp, comparisons, where', () => {
  it('clamp with both bounds, one bound, and none', async () => {
    const rng = new Rng(21);
    const x = R.randomND(rng, [5, 3, 2], -3, 3);
    await check(() => clamp(up(x), -1, 0.5), R.clamp(x, -1, 0.5));
    await check(() => clamp(up(x), 0), R.clamp(x, 0));
    await check(() => clamp(up(x), undefined, -0.25), R.clamp(x, -Infinity, -0.25));
    await check(() => clamp(up(x)), x);
    expect(() => clamp(up(x), 1, 0)).toThrow(/min 1 > max 0/);
  });

  const CMPS: [R.Cmp, (a: Tensor, b: Tensor | number) => Tensor][] = [
    ['lt', lt],
    ['le', le],
    ['gt', gt],
    ['ge', ge],
    ['eq', eq],
    ['ne', ne],
  ];
  for (const [name, op] of CMPS) {
    it(`${name} gives a 0/1 f32 mask, with ties, broadcasting and a number operand`, async () => {
      const rng = new Rng(30 + name.charCodeAt(0) + name.charCodeAt(1));
      // Values on a coarse grid so that equal pairs are common.
      const a = R.build([3, 1, 4], () => rng.int(3) - 1);
      const b = R.build([5, 4], () => rng.int(3) - 1);
      const t = scope(() => op(up(a), up(b)));
      expect(t.dtype).toBe('f32');
      await expectTensor(t, R.compare(name, a, b), { atol: 0, rtol: 0 }, name);
      t.dispose();
      await check(() => op(up(a), 0), R.compare(name, a, R.nd([], [0])), { atol: 0 }, `${name} 0`);
      const ai = R.build([7], () => rng.int(5) - 2);
      await check(
        () => op(up(ai, { dtype: 'i32' }), up(R.nd([], [1]), { dtype: 'i32' })),
        R.compare(name, ai, R.nd([], [1])),
        { atol: 0 },
        `${name} i32`,
      );
      await check(
        () => op(up(ai, { dtype: 'i32' }), -0.5),
        R.compare(name, ai, R.nd([], [-0.5])),
        { atol: 0 },
        `${name} i32 with a fractional number`,
      );
    });
  }

  it('where with three broadcast tensors, number branches and an i32 condition', async () => {
    const rng = new Rng(40);
    const c = R.build([4, 1, 3], () => rng.int(2));
    const a = R.randomND(rng, [2, 3]);
    const b = R.randomND(rng, [4, 2, 1]);
    await check(() => where(up(c), up(a), up(b)), R.where(c, a, b));
    await check(() => where(up(c, { dtype: 'i32' }), up(a), up(b)), R.where(c, a, b));
    await check(() => where(up(c), 2, up(b)), R.where(c, R.nd([], [2]), b));
    await check(() => where(up(c), up(a), -3), R.where(c, a, R.nd([], [-3])));
    await check(() => where(up(c), 1, 0), R.where(c, R.nd([], [1]), R.nd([], [0])));
  });

  it('where on i32 branches keeps i32', async () => {
    const c = R.nd([4], [1, 0, 0, 1]);
    const a = R.nd([4], [1, 2, 3, 4]);
    const t = scope(() => where(up(c), up(a, { dtype: 'i32' }), -7));
    expect(t.dtype).toBe('i32');
    expect(Array.from(await t.data())).toEqual([1, -7, -7, 4]);
    t.dispose();
  });
});

describe('cast, clone and i32 arithmetic', () => {
  it('cast f32 → i32 truncates toward zero; i32 → f32 is exact', async () => {
    const x = R.nd([6], [-2.7, -0.5, 0, 0.5, 2.7, 123456]);
    const t = scope(() => cast(up(x), 'i32'));
    expect(t.dtype).toBe('i32');
    expect(Array.from(await t.data())).toEqual([-2, 0, 0, 0, 2, 123456]);
    const f = scope(() => cast(t, 'f32'));
    expect(f.dtype).toBe('f32');
    expect(Array.from(await f.data())).toEqual([-2, 0, 0, 0, 2, 123456]);
    t.dispose();
    f.dispose();
  });

  it('clone copies into a new buffer', async () => {
    const x = up(R.nd([2, 2], [1, 2, 3, 4]));
    const y = clone(x);
    expect(y.buffer).not.toBe(x.buffer);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4]);
    y.dispose();
  });

  it('i32 add/sub/mul/neg/abs/maximum/minimum/rsub are exact integer ops', async () => {
    const a = R.nd([2, 3], [1, -2, 3, -4, 5, 2147483]);
    const b = R.nd([3], [7, -3, 2]);
    const ai = () => up(a, { dtype: 'i32' });
    const bi = () => up(b, { dtype: 'i32' });
    const cases: [() => Tensor, R.ND][] = [
      [() => add(ai(), bi()), R.add(a, b)],
      [() => sub(ai(), bi()), R.sub(a, b)],
      [() => mul(ai(), bi()), R.mul(a, b)],
      [() => mul(ai(), 3), R.map((x) => 3 * x, a)],
      [() => neg(ai()), R.neg(a)],
      [() => abs(ai()), R.abs(a)],
      [() => maximum(ai(), bi()), R.maximum(a, b)],
      [() => minimum(ai(), 0), R.map((x) => Math.min(x, 0), a)],
      [() => rsub(ai(), 10), R.map((x) => 10 - x, a)],
    ];
    for (const [fn, ref] of cases) {
      const t = scope(fn);
      expect(t.dtype).toBe('i32');
      const got = await down(t);
      expectAllClose(got.data, ref.data, { atol: 0, rtol: 0 }, 'i32');
      t.dispose();
    }
  });
});
