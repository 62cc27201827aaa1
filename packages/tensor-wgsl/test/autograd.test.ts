import { beforeAll, describe, expect, it } from 'vitest';
import {
  abs,
  add,
  clamp,
  clone,
  concat,
  div,
  exp,
  expand,
  flatten,
  flip,
  initDevice,
  isGradEnabled,
  log,
  matmul,
  max,
  maximum,
  mean,
  min,
  minimum,
  mul,
  neg,
  noGrad,
  pad,
  permute,
  pow,
  Rng,
  relu,
  reshape,
  rsub,
  scope,
  sigmoid,
  slice,
  sqrt,
  squeeze,
  stack,
  sub,
  sum,
  type Tensor,
  tanh,
  tensor,
  transpose,
  unsqueeze,
  where,
} from '../src/index.js';
import { checkGrad, type GradCase } from './helpers.js';
import * as R from './reference.js';

beforeAll(async () => {
  await initDevice();
});

const rng = new Rng(2024);
const rnd = (shape: number[], lo = -1, hi = 1) => R.randomND(rng, shape, lo, hi);
const away = (shape: number[], gap = 0.1, hi = 1) => R.randomAwayFromZero(rng, shape, gap, hi);

/** Runs one finite-difference case per entry, each as its own test. */
function gradTests(cases: Record<string, () => GradCase>): void {
  let seed = 1;
  for (const [name, make] of Object.entries(cases)) {
    const s = seed++;
    it(name, async () => {
      await checkGrad(make(), s, name);
    });
  }
}

const sumRef = (xs: R.ND) => R.reduce('sum', xs, undefined, false);

describe('finite-difference checks of elementwise backward rules', () => {
  gradTests({
    'add with broadcasting both ways': () => ({
      inputs: [rnd([3, 1, 4]), rnd([5, 1])],
      gpu: ([a, b]) => add(a, b),
      ref: ([a, b]) => R.add(a, b),
    }),
    'add with a rank-0 operand': () => ({
      inputs: [rnd([2, 3]), rnd([])],
      gpu: ([a, b]) => add(a, b),
      ref: ([a, b]) => R.add(a, b),
    }),
    'add of a number': () => ({
      inputs: [rnd([4])],
      gpu: ([a]) => add(a, 3),
      ref: ([a]) => R.map((x) => x + 3, a),
    }),
    'sub with broadcasting': () => ({
      inputs: [rnd([4]), rnd([3, 4])],
      gpu: ([a, b]) => sub(a, b),
      ref: ([a, b]) => R.sub(a, b),
    }),
    'sub with only the right operand needing grad': () => ({
      inputs: [rnd([2, 3]), rnd([3])],
      grad: [false, true],
      gpu: ([a, b]) => sub(a, b),
      ref: ([a, b]) => R.sub(a, b),
    }),
    rsub: () => ({
      inputs: [rnd([3, 2])],
      gpu: ([a]) => rsub(a, 1.5),
      ref: ([a]) => R.map((x) => 1.5 - x, a),
    }),
    'mul with broadcasting': () => ({
      inputs: [rnd([2, 3, 1]), rnd([1, 4])],
      gpu: ([a, b]) => mul(a, b),
      ref: ([a, b]) => R.mul(a, b),
    }),
    'mul by a number': () => ({
      inputs: [rnd([5])],
      gpu: ([a]) => mul(a, -2.5),
      ref: ([a]) => R.map((x) => -2.5 * x, a),
    }),
    'div with broadcasting': () => ({
      inputs: [rnd([3, 4]), away([3, 1], 0.3)],
      gpu: ([a, b]) => div(a, b),
      ref: ([a, b]) => R.div(a, b),
    }),
    'div by a number': () => ({
      inputs: [rnd([3])],
      gpu: ([a]) => div(a, 4),
      ref: ([a]) => R.map((x) => x / 4, a),
    }),
    neg: () => ({ inputs: [rnd([2, 5])], gpu: ([a]) => neg(a), ref: ([a]) => R.neg(a) }),
    exp: () => ({ inputs: [rnd([2, 5], -2, 2)], gpu: ([a]) => exp(a), ref: ([a]) => R.exp(a) }),
    log: () => ({ inputs: [rnd([7], 0.2, 3)], gpu: ([a]) => log(a), ref: ([a]) => R.log(a) }),
    sqrt: () => ({ inputs: [rnd([7], 0.2, 3)], gpu: ([a]) => sqrt(a), ref: ([a]) => R.sqrt(a) }),
    abs: () => ({ inputs: [away([9])], gpu: ([a]) => abs(a), ref: ([a]) => R.abs(a) }),
    relu: () => ({ inputs: [away([3, 3])], gpu: ([a]) => relu(a), ref: ([a]) => R.relu(a) }),
    sigmoid: () => ({ inputs: [rnd([6], -4, 4)], gpu: ([a]) => sigmoid(a), ref: ([a]) => R.sigmoid(a) }),
    tanh: () => ({ inputs: [rnd([6], -3, 3)], gpu: ([a]) => tanh(a), ref: ([a]) => R.tanh(a) }),
    'pow by integer exponents of negative bases': () => ({
      inputs: [away([8], 0.3, 1.5)],
      gpu: ([a]) => add(add(pow(a, 3), pow(a, -2)), add(pow(a, 2), pow(a, 1))),
      ref: ([a]) => R.map((x) => x ** 3 + x ** -2 + x ** 2 + x, a),
    }),
    'pow by fractional exponents': () => ({
      inputs: [rnd([8], 0.3, 2)],
      gpu: ([a]) => add(pow(a, 0.5), pow(a, -1.5)),
      ref: ([a]) => R.map((x) => x ** 0.5 + x ** -1.5, a),
    }),
    'pow of tensors (base and exponent, broadcast)': () => ({
      inputs: [rnd([3, 4], 0.3, 2), rnd([4], -2, 2)],
      gpu: ([a, b]) => pow(a, b),
      ref: ([a, b]) => R.pow(a, b),
    }),
    'pow of tensors with negative bases and integer exponents': () => ({
      inputs: [away([5], 0.3, 2), R.nd([5], [2, 3, -1, 1, -2])],
      grad: [true, false],
      gpu: ([a, b]) => pow(a, b),
      ref: ([a, b]) => R.pow(a, b),
    }),
    'clamp (values away from the bounds)': () => ({
      inputs: [R.distinctND(rng, [5, 6])],
      gpu: ([a]) => clamp(a, -0.51, 0.41),
      ref: ([a]) => R.clamp(a, -0.51, 0.41),
    }),
    'clamp with one bound': () => ({
      inputs: [R.distinctND(rng, [10])],
      gpu: ([a]) => clamp(a, 0.01),
      ref: ([a]) => R.clamp(a, 0.01),
    }),
    'where with broadcasting (condition without grad)': () => ({
      inputs: [R.build([3, 1], (i) => i[0] % 2), rnd([1, 4]), rnd([3, 4])],
      grad: [false, true, true],
      gpu: ([c, a, b]) => where(c, a, b),
      ref: ([c, a, b]) => R.where(c, a, b),
    }),
    'where with a number branch': () => ({
      inputs: [R.build([5], (i) => (i[0] > 1 ? 1 : 0)), rnd([5])],
      grad: [false, true],
      gpu: ([c, a]) => where(c, 0.5, a),
      ref: ([c, a]) => R.where(c, R.nd([], [0.5]), a),
    }),
    'maximum and minimum (distinct values, broadcast)': () => ({
      inputs: [R.distinctND(rng, [4, 3]), R.distinctND(rng, [3])],
      gpu: ([a, b]) => add(maximum(a, b), mul(minimum(a, b), 3)),
      ref: ([a, b]) =>
        R.add(
          R.maximum(a, b),
          R.map((x) => 3 * x, R.minimum(a, b)),
        ),
    }),
    'maximum with a number': () => ({
      inputs: [R.distinctND(rng, [8])],
      gpu: ([a]) => maximum(a, 0.01),
      ref: ([a]) => R.map((x) => Math.max(x, 0.01), a),
    }),
    clone: () => ({ inputs: [rnd([2, 2])], gpu: ([a]) => clone(a), ref: ([a]) => a }),
    'one tensor used several times in a graph (x·x + x)': () => ({
      inputs: [rnd([6])],
      gpu: ([x]) => add(mul(x, x), x),
      ref: ([x]) => R.map((v) => v * v + v, x),
    }),
  });
});

describe('finite-difference checks of binary ops on random broadcast shapes', () => {
  const shapes = new Rng(77);
  const cases: Record<string, () => GradCase> = {};
  const ops: [string, (a: Tensor, b: Tensor) => Tensor, (a: R.ND, b: R.ND) => R.ND][] = [
    ['add', add, R.add],
    ['sub', sub, R.sub],
    ['mul', mul, R.mul],
    ['div', div, R.div],
  ];
  for (let k = 0; k < 8; k++) {
    const [name, op, ref] = ops[k % ops.length];
    const out = R.randomShape(shapes, 1, 4, 4);
    const sa = R.broadcastableTo(shapes, out);
    const sb = R.broadcastableTo(shapes, out);
    cases[`${name} [${sa}] with [${sb}]`] = () => ({
      inputs: [rnd(sa), name === 'div' ? away(sb, 0.4) : rnd(sb)],
      gpu: ([a, b]) => op(a, b),
      ref: ([a, b]) => ref(a, b),
    });
  }
  gradTests(cases);
});

describe('finite-difference checks of reduction and matmul backward rules', () => {
  gradTests({
    'sum over one axis': () => ({
      inputs: [rnd([3, 4, 2])],
      gpu: ([a]) => sum(a, 1),
      ref: ([a]) => R.reduce('sum', a, 1),
    }),
    'sum over non-adjacent axes, keepdim': () => ({
      inputs: [rnd([3, 2, 4, 2])],
      gpu: ([a]) => sum(a, [0, 2], { keepdim: true }),
      ref: ([a]) => R.reduce('sum', a, [0, 2], true),
    }),
    'sum of everything': () => ({ inputs: [rnd([3, 5])], gpu: ([a]) => sum(a), ref: ([a]) => sumRef(a) }),
    'mean over the last axis and over everything': () => ({
      inputs: [rnd([4, 3])],
      gpu: ([a]) => add(mean(a, -1), mean(a)),
      ref: ([a]) => R.add(R.reduce('mean', a, -1), R.reduce('mean', a)),
    }),
    'mean over a long row (row kernel)': () => ({
      inputs: [rnd([2, 200])],
      gpu: ([a]) => mean(a, 1, { keepdim: true }),
      ref: ([a]) => R.reduce('mean', a, 1, true),
    }),
    'max over an axis (distinct values)': () => ({
      inputs: [R.distinctND(rng, [4, 5])],
      gpu: ([a]) => max(a, 1),
      ref: ([a]) => R.reduce('max', a, 1),
    }),
    'min over two axes, keepdim': () => ({
      inputs: [R.distinctND(rng, [3, 4, 2])],
      gpu: ([a]) => min(a, [0, 2], { keepdim: true }),
      ref: ([a]) => R.reduce('min', a, [0, 2], true),
    }),
    'max of everything': () => ({
      inputs: [R.distinctND(rng, [3, 3])],
      gpu: ([a]) => max(a),
      ref: ([a]) => R.reduce('max', a),
    }),
    'matmul 2-D with odd sizes': () => ({
      inputs: [rnd([5, 3]), rnd([3, 17])],
      gpu: ([a, b]) => matmul(a, b),
      ref: ([a, b]) => R.matmul(a, b),
    }),
    'matmul batched': () => ({
      inputs: [rnd([2, 3, 4]), rnd([2, 4, 3])],
      gpu: ([a, b]) => matmul(a, b),
      ref: ([a, b]) => R.matmul(a, b),
    }),
    'matmul with a broadcast 2-D right operand': () => ({
      inputs: [rnd([3, 2, 4]), rnd([4, 5])],
      gpu: ([a, b]) => matmul(a, b),
      ref: ([a, b]) => R.matmul(a, b),
    }),
    'matmul with a batch-1 left operand': () => ({
      inputs: [rnd([1, 2, 3]), rnd([4, 3, 2])],
      gpu: ([a, b]) => matmul(a, b),
      ref: ([a, b]) => R.matmul(a, b),
    }),
  });
});

describe('finite-difference checks of layout backward rules', () => {
  gradTests({
    'reshape, flatten, squeeze, unsqueeze': () => ({
      inputs: [rnd([2, 1, 3, 2])],
      gpu: ([a]) => mul(unsqueeze(squeeze(flatten(reshape(a, [3, -1, 1]), 0, 1), 1), 0), 2),
      ref: ([a]) => R.map((x) => 2 * x, R.reshape(a, [1, 12])),
    }),
    permute: () => ({
      inputs: [rnd([2, 3, 4])],
      gpu: ([a]) => permute(a, [2, 0, 1]),
      ref: ([a]) => R.permute(a, [2, 0, 1]),
    }),
    transpose: () => ({
      inputs: [rnd([3, 5])],
      gpu: ([a]) => transpose(a),
      ref: ([a]) => R.transpose(a, 0, 1),
    }),
    'slice with unit steps and negative indices': () => ({
      inputs: [rnd([5, 6])],
      gpu: ([a]) => slice(a, [{ start: 1, end: -1 }, { start: -4 }]),
      ref: ([a]) => R.slice(a, [{ start: 1, end: -1 }, { start: -4 }]),
    }),
    'slice with steps > 1': () => ({
      inputs: [rnd([7, 5, 3])],
      gpu: ([a]) => slice(a, [{ step: 2 }, { start: 1, step: 3 }, { start: -2 }]),
      ref: ([a]) => R.slice(a, [{ step: 2 }, { start: 1, step: 3 }, { start: -2 }]),
    }),
    'pad, positive and negative': () => ({
      inputs: [rnd([3, 4, 5])],
      gpu: ([a]) => pad(a, [2, -1, -1, 1, 1, 0], 0.5),
      ref: ([a]) => R.pad(a, [2, -1, -1, 1, 1, 0], 0.5),
    }),
    flip: () => ({
      inputs: [rnd([3, 4])],
      gpu: ([a]) => flip(a, [0, 1]),
      ref: ([a]) => R.flip(a, [0, 1]),
    }),
    expand: () => ({
      inputs: [rnd([3, 1])],
      gpu: ([a]) => expand(a, [2, 3, 4]),
      ref: ([a]) => R.expand(a, [2, 3, 4]),
    }),
    'concat of three along a middle axis (one input without grad)': () => ({
      inputs: [rnd([2, 1, 3]), rnd([2, 3, 3]), rnd([2, 2, 3])],
      grad: [true, false, true],
      gpu: (ts) => concat(ts, 1),
      ref: (xs) => R.concat(xs, 1),
    }),
    'concat of a tensor with itself': () => ({
      inputs: [rnd([2, 3])],
      gpu: ([a]) => concat([a, a, a], 0),
      ref: ([a]) => R.concat([a, a, a], 0),
    }),
    stack: () => ({
      inputs: [rnd([2, 3]), rnd([2, 3])],
      gpu: (ts) => stack(ts, 1),
      ref: (xs) => R.stack(xs, 1),
    }),
    'a small network: sigmoid(x·W + b) averaged over rows': () => ({
      inputs: [rnd([4, 3]), rnd([3, 2]), rnd([2])],
      gpu: ([x, w, b]) => mean(sigmoid(add(matmul(x, w), b)), 0),
      ref: ([x, w, b]) => R.reduce('mean', R.sigmoid(R.add(R.matmul(x, w), b)), 0),
    }),
  });
});

async function values(t: Tensor | null): Promise<number[]> {
  expect(t).not.toBeNull();
  return Array.from(await t!.data());
}

describe('autograd semantics', () => {
  it('max/min reductions split the gradient evenly between tied maxima', async () => {
    const x = tensor([1, 3, 3, 2, 0, 0], [2, 3], { requiresGrad: true });
    const y = tensor([5, 5, 5, 5], [4], { requiresGrad: true });
    scope(() => {
      add(sum(max(x, 1)), sum(min(x, 1))).backward();
      max(y).backward();
    });
    expect(await values(x.grad)).toEqual([1, 0.5, 0.5, 1, 0.5, 0.5]);
    expect(await values(y.grad)).toEqual([0.25, 0.25, 0.25, 0.25]);
    x.dispose();
    y.dispose();
  });

  it('maximum/minimum send half the gradient to each side of a tie', async () => {
    const a = tensor([1, 2, 3], [3], { requiresGrad: true });
    const b = tensor([1, 5, 0], [3], { requiresGrad: true });
    scope(() => sum(add(maximum(a, b), minimum(a, b))).backward());
    // maximum + minimum = a + b everywhere, so both gradients are 1 whether or not there is a tie.
    expect(await values(a.grad)).toEqual([1, 1, 1]);
    expect(await values(b.grad)).toEqual([1, 1, 1]);
    const c = tensor([2, 2], [2], { requiresGrad: true });
    scope(() => sum(maximum(c, 2)).backward());
    expect(await values(c.grad)).toEqual([0.5, 0.5]);
    for (const t of [a, b, c]) t.dispose();
  });

  it('accumulates into .grad across two backward calls', async () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    scope(() => sum(mul(x, x)).backward());
    expect(await values(x.grad)).toEqual([2, 4, 6]);
    const first = x.grad;
    scope(() => sum(mul(x, 3)).backward());
    expect(await values(x.grad)).toEqual([5, 7, 9]);
    expect(first!.disposed).toBe(true);
    x.dispose();
    expect(x.grad).toBeNull();
  });

  it('backward(upstream) on a non-scalar output leaves the upstream tensor usable', async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    const b = tensor([1, 1, 1], [3], { requiresGrad: true });
    const up = tensor([1, 0, 2, -1, 3, 0.5], [2, 3]);
    scope(() => add(mul(x, 2), b).backward(up));
    expect(await values(x.grad)).toEqual([2, 0, 4, -2, 6, 1]);
    expect(await values(b.grad)).toEqual([0, 3, 2.5]);
    // The caller still owns the upstream gradient (the broadcast reduction for b must not dispose it).
    expect(up.disposed).toBe(false);
    expect(await values(up)).toEqual([1, 0, 2, -1, 3, 0.5]);
    // And a leaf seeded directly keeps its own copy.
    const leaf = tensor([1, 2], [2], { requiresGrad: true });
    const g = tensor([3, 4], [2]);
    leaf.backward(g);
    g.dispose();
    expect(await values(leaf.grad)).toEqual([3, 4]);
    for (const t of [x, b, up, leaf]) t.dispose();
  });

  it('add with broadcasting on both inputs passes the same upstream gradient to both', async () => {
    const a = tensor([1, 2, 3], [3], { requiresGrad: true });
    const b = tensor([1, 2], [2, 1], { requiresGrad: true });
    scope(() => sum(sub(a, b)).backward());
    expect(await values(a.grad)).toEqual([2, 2, 2]);
    expect(await values(b.grad)).toEqual([-3, -3]);
    for (const t of [a, b]) t.dispose();
  });

  it('backward argument checks: needs grad, a scalar or an upstream of the same shape', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const c = tensor([1, 2], [2]);
    expect(() => sum(c).backward()).toThrow(/does not require grad/);
    const y = mul(x, 2);
    expect(() => y.backward()).toThrow(/not a scalar/);
    expect(() => y.backward(tensor([1, 2, 3], [3]))).toThrow(/gradient \[3\] does not match/);
    expect(() => y.requiresGrad_(false)).toThrow(/not a leaf/);
    for (const t of [x, c, y]) t.dispose();
  });

  it('noGrad records nothing and restores the previous mode even when fn throws', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    const z = mul(x, 2);
    expect(z.gradFn?.op).toBe('mul');
    for (const t of [x, y, z]) t.dispose();
  });

  it('detach shares the values and cuts the graph', async () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    const d = x.detach();
    expect(d.buffer).toBe(x.buffer);
    expect(d.requiresGrad).toBe(false);
    scope(() => sum(add(mul(x, 2), mul(d, 5))).backward());
    expect(await values(x.grad)).toEqual([2, 2, 2]);
    expect(d.grad).toBeNull();
    x.dispose();
    expect(await values(d)).toEqual([1, 2, 3]);
    d.dispose();
  });

  it('inputs without requiresGrad get no gradient and are not in the graph', async () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const c = tensor([3, 4], [2]);
    const out = mul(x, c);
    expect(out.gradFn?.inputs).toContain(x);
    scope(() => sum(out).backward());
    expect(c.grad).toBeNull();
    expect(await values(x.grad)).toEqual([3, 4]);
    const plain = mul(c, c);
    expect(plain.requiresGrad).toBe(false);
    expect(plain.gradFn).toBeNull();
    for (const t of [x, c, out, plain]) t.dispose();
  });

  it('a second backward through a released graph throws, naming the op', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = exp(x);
    const l = sum(y);
    l.backward();
    expect(() => l.backward()).toThrow(/through sum was already used/);
    // A new root sharing part of the old graph also hits the released node.
    const l2 = sum(mul(y, 2));
    expect(() => l2.backward()).toThrow(/exp/);
    for (const t of [x, y, l, l2]) t.dispose();
  });
});
