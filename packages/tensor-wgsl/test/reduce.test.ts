import { beforeAll, describe, expect, it } from 'vitest';
import {
  argmax,
  argmin,
  initDevice,
  max,
  mean,
  min,
  Rng,
  runtime,
  ShapeError,
  scope,
  sum,
  type Tensor,
  tensor,
} from '../src/index.js';
import { expectTensor, up } from './helpers.js';
import * as R from './reference.js';

beforeAll(async () => {
  await initDevice();
});

type Kind = 'sum' | 'mean' | 'max' | 'min';
const OPS: Record<Kind, (a: Tensor, axes?: number | number[], o?: { keepdim?: boolean }) => Tensor> = {
  sum,
  mean,
  max,
  min,
};
const KINDS: Kind[] = ['sum', 'mean', 'max', 'min'];

async function checkReduce(
  kind: Kind,
  x: R.ND,
  axes: number | number[] | undefined,
  keepdim: boolean,
  tol = { rtol: 1e-5, atol: 1e-5 },
): Promise<void> {
  const t = scope(() => OPS[kind](up(x), axes, { keepdim }));
  try {
    await expectTensor(
      t,
      R.reduce(kind, x, axes, keepdim),
      tol,
      `${kind}[${x.shape}] axes ${axes} keep ${keepdim}`,
    );
  } finally {
    t.dispose();
  }
}

async function checkArg(kind: 'argmax' | 'argmin', x: R.ND, axis: number, keepdim = false): Promise<void> {
  const op = kind === 'argmax' ? argmax : argmin;
  const t = scope(() => op(up(x), axis, { keepdim }));
  try {
    expect(t.dtype).toBe('i32');
    await expectTensor(
      t,
      R.argReduce(kind, x, axis, keepdim),
      { atol: 0, rtol: 0 },
      `${kind}[${x.shape}] ${axis}`,
    );
  } finally {
    t.dispose();
  }
}

describe('sum / mean / max / min', () => {
  it('single axes (positive and negative) of random odd shapes, with and without keepdim', async () => {
    const rng = new Rng(1);
    for (let k = 0; k < 6; k++) {
      const x = R.randomND(rng, R.randomShape(rng, 1, 4, 7), -2, 2);
      const axis = rng.int(x.shape.length) - (rng.uniform() < 0.5 ? x.shape.length : 0);
      for (const kind of KINDS) await checkReduce(kind, x, axis, k % 2 === 0);
    }
  });

  it('several non-adjacent axes, with and without keepdim', async () => {
    const rng = new Rng(2);
    const x = R.randomND(rng, [3, 4, 5, 6]);
    for (const kind of KINDS) {
      await checkReduce(kind, x, [0, 2], false);
      await checkReduce(kind, x, [1, 3], true);
      await checkReduce(kind, x, [-1, 0, 2], false);
      await checkReduce(kind, x, [0, 1, 3], true);
    }
  });

  it('all axes, with and without keepdim, and a rank-0 input', async () => {
    const rng = new Rng(3);
    const x = R.randomND(rng, [5, 3, 7]);
    for (const kind of KINDS) {
      await checkReduce(kind, x, undefined, false);
      await checkReduce(kind, x, undefined, true);
    }
    const s = R.nd([], [2.5]);
    for (const kind of KINDS) await checkReduce(kind, s, undefined, false);
  });

  it('row-kernel path: inner = 1 and R ≥ 128', async () => {
    const rng = new Rng(4);
    const x = R.randomND(rng, [5, 300]);
    for (const kind of KINDS) await checkReduce(kind, x, -1, false);
    const y = R.randomND(rng, [2, 3, 129]);
    for (const kind of KINDS) await checkReduce(kind, y, 2, true);
  });

  it('row-kernel path with more than 65,535 rows (one workgroup per row on a 2-D grid)', async () => {
    const rows = 65537;
    const values = new Float32Array(rows * 128);
    for (let i = 0; i < values.length; i++) values[i] = Math.floor(i / 128) % 97;
    const a = tensor(values, [rows, 128]);
    const out = scope(() => sum(a, 1));
    a.dispose();
    const v = await out.data();
    out.dispose();
    let bad = -1;
    for (let r = 0; r < rows && bad < 0; r++) if (v[r] !== 128 * (r % 97)) bad = r;
    expect(bad, `first wrong row ${bad}: ${v[bad]}`).toBe(-1);
    runtime().pool.trim();
  });

  it('strided path: reduction of a middle axis', async () => {
    const rng = new Rng(5);
    const x = R.randomND(rng, [7, 5, 9]);
    for (const kind of KINDS) await checkReduce(kind, x, 1, false);
  });

  it('two-pass chunked path: R > 8192 with few outputs (row, strided, and all-axes forms)', async () => {
    const rng = new Rng(6);
    const tol = { rtol: 1e-4, atol: 2e-3 };
    const rows = R.randomND(rng, [3, 10000]);
    const cols = R.randomND(rng, [9000, 3]);
    const mid = R.randomND(rng, [2, 8500, 2]);
    const all = R.randomND(rng, [100, 100]);
    const dispatchesBefore = runtime().counters.dispatches;
    for (const kind of KINDS) {
      await checkReduce(kind, rows, 1, false, tol);
      await checkReduce(kind, cols, 0, true, tol);
      await checkReduce(kind, mid, 1, false, tol);
      await checkReduce(kind, all, undefined, false, tol);
    }
    // Each of the 16 reductions runs a partial pass and a final pass (mean adds one scaling kernel, and the
    // uploads are not dispatches): a single-pass implementation would stay at 16 + 4.
    expect(runtime().counters.dispatches - dispatchesBefore).toBeGreaterThanOrEqual(32 + 4);
  });

  it('a large sum is accurate in the chunked path', async () => {
    const x = R.build([20000], (i) => (i[0] % 2 === 0 ? 1 : 0.5));
    await checkReduce('sum', x, 0, false, { rtol: 0, atol: 0 });
  });

  it('max/min return the tied value and propagate NaN', async () => {
    await checkReduce('max', R.nd([2, 3], [1, 3, 3, -1, -1, -2]), 1, false);
    const nan = R.nd([2, 3], [1, Number.NaN, 3, 4, 5, 6]);
    for (const kind of ['max', 'min'] as const) {
      const t = scope(() => OPS[kind](up(nan), 1));
      const v = await t.data();
      expect(Number.isNaN(v[0])).toBe(true);
      expect(v[1]).toBe(kind === 'max' ? 6 : 4);
      t.dispose();
    }
    // The same in the row kernel, where the NaN sits in one thread's slice of a 300-long row.
    const row = R.build([2, 300], (i) => (i[0] === 0 && i[1] === 201 ? Number.NaN : i[1]));
    const t = scope(() => max(up(row), 1));
    const v = await t.data();
    expect(Number.isNaN(v[0])).toBe(true);
    expect(v[1]).toBe(299);
    t.dispose();
  });

  it('refuses i32 tensors and empty tensors with a ShapeError naming the op', () => {
    const i = tensor(new Int32Array([1, 2, 3]), [3]);
    for (const op of [sum, mean, max, min]) expect(() => op(i)).toThrow(ShapeError);
    expect(() => sum(i)).toThrow(/^sum: .*i32\[3\]/);
    expect(() => argmax(i, 0)).toThrow(/^argmax: /);
    const e = tensor([], [0, 3]);
    expect(() => sum(e, 0)).toThrow(/empty/);
    const x = tensor([1, 2], [2]);
    expect(() => sum(x, 1)).toThrow(/axis 1 is out of range/);
    expect(() => sum(x, [0, 0])).toThrow(/repeated axis/);
    for (const t of [i, e, x]) t.dispose();
  });
});

describe('argmax / argmin', () => {
  it('every axis of random odd shapes, keepdim both ways', async () => {
    const rng = new Rng(10);
    for (let k = 0; k < 4; k++) {
      const x = R.randomND(rng, R.randomShape(rng, 1, 4, 6));
      const axis = rng.int(x.shape.length);
      await checkArg('argmax', x, axis, k % 2 === 0);
      await checkArg('argmin', x, axis - x.shape.length, k % 2 === 1);
    }
  });

  it('first index on ties in the strided path', async () => {
    const rng = new Rng(11);
    const x = R.build([4, 9, 5], () => rng.int(3));
    await checkArg('argmax', x, 1);
    await checkArg('argmin', x, 1);
    await checkArg('argmax', R.nd([4], [2, 7, 7, 1]), 0);
  });

  it('first index on ties in the row-kernel path, across the threads of a workgroup', async () => {
    const rng = new Rng(12);
    const x = R.build([3, 1000], () => rng.int(4));
    await checkArg('argmax', x, 1);
    await checkArg('argmin', x, 1);
    // The maximum appears only at positions handled by different threads, the later thread first.
    const y = R.build([1, 600], (i) => (i[0] === 300 || i[0] === 44 || i[0] === 557 ? 9 : 0));
    await checkArg('argmax', y, 1);
    const z = R.build([1, 600], (i) => (i[0] >= 500 ? -1 : 0));
    await checkArg('argmin', z, 1);
  });

  it('long rows (R > 8192) and constant rows', async () => {
    const rng = new Rng(13);
    const x = R.randomND(rng, [2, 10000]);
    await checkArg('argmax', x, 1);
    await checkArg('argmin', x, 1);
    await checkArg(
      'argmax',
      R.build([2, 300], () => -5),
      1,
    );
    await checkArg(
      'argmin',
      R.build([7, 3], () => 0),
      0,
    );
  });

  it('NaN counts as the extreme value', async () => {
    const x = R.nd([2, 3], [1, Number.NaN, 3, 4, 5, 6]);
    const t = scope(() => argmax(up(x), 1));
    expect(Array.from(await t.data())).toEqual([1, 2]);
    t.dispose();
    const row = R.build([2, 300], (i) => (i[1] === 201 || i[1] === 250 ? Number.NaN : 1));
    const u = scope(() => argmin(up(row), 1));
    expect(Array.from(await u.data())).toEqual([201, 201]);
    u.dispose();
  });
});
