import { beforeAll, describe, expect, it } from 'vitest';
import {
  concat,
  expand,
  flatten,
  flip,
  initDevice,
  pad,
  permute,
  Rng,
  reshape,
  ShapeError,
  type SliceRange,
  scope,
  slice,
  squeeze,
  stack,
  type Tensor,
  tensor,
  transpose,
  unsqueeze,
} from '../src/index.js';
import { expectTensor, up } from './helpers.js';
import * as R from './reference.js';

beforeAll(async () => {
  await initDevice();
});

async function check(fn: () => Tensor, ref: R.ND, label = '', dtype: 'f32' | 'i32' = 'f32') {
  const t = scope(fn);
  try {
    expect(t.dtype).toBe(dtype);
    await expectTensor(t, ref, { rtol: 0, atol: 0 }, label);
  } finally {
    t.dispose();
  }
}

describe('views: reshape, flatten, squeeze, unsqueeze', () => {
  it('reshape keeps the values, infers -1, and shares the buffer', async () => {
    const rng = new Rng(1);
    const x = R.randomND(rng, [3, 4, 5]);
    await check(() => reshape(up(x), [5, -1, 2]), R.reshape(x, [5, 6, 2]));
    await check(() => reshape(up(x), [-1]), R.reshape(x, [60]));
    const t = up(x);
    const v = reshape(t, [60]);
    expect(v.buffer).toBe(t.buffer);
    t.dispose();
    v.dispose();
  });

  it('reshape to a wrong size throws a ShapeError naming both', () => {
    const t = tensor(new Float32Array(12), [3, 4]);
    expect(() => reshape(t, [5, 2])).toThrow(ShapeError);
    expect(() => reshape(t, [5, 2])).toThrow(/reshape: .*\[3, 4\].*\[5, 2\]/);
    expect(() => reshape(t, [5, -1])).toThrow(/reshape/);
    expect(() => reshape(t, [0, -1])).toThrow(/reshape/);
    expect(() => reshape(t, [-2, -6])).toThrow(/invalid shape/);
    t.dispose();
  });

  it('flatten, squeeze and unsqueeze compute the right shapes', async () => {
    const rng = new Rng(2);
    const x = R.randomND(rng, [2, 1, 3, 1, 4]);
    const cases: [(t: Tensor) => Tensor, number[]][] = [
      [(t) => flatten(t), [24]],
      [(t) => flatten(t, 1), [2, 12]],
      [(t) => flatten(t, 1, 3), [2, 3, 4]],
      [(t) => flatten(t, -2, -1), [2, 1, 3, 4]],
      [(t) => squeeze(t), [2, 3, 4]],
      [(t) => squeeze(t, 1), [2, 3, 1, 4]],
      [(t) => squeeze(t, -2), [2, 1, 3, 4]],
      [(t) => squeeze(t, 0), [2, 1, 3, 1, 4]],
      [(t) => unsqueeze(t, 0), [1, 2, 1, 3, 1, 4]],
      [(t) => unsqueeze(t, -1), [2, 1, 3, 1, 4, 1]],
      [(t) => unsqueeze(t, 2), [2, 1, 1, 3, 1, 4]],
    ];
    for (const [fn, shape] of cases) await check(() => fn(up(x)), R.reshape(x, shape), `→ [${shape}]`);
    expect(() => unsqueeze(up(x), 7)).toThrow(/unsqueeze: axis 7/);
  });
});

describe('permute and transpose', () => {
  it('random permutations of random odd shapes', async () => {
    const rng = new Rng(3);
    for (let k = 0; k < 5; k++) {
      const x = R.randomND(rng, R.randomShape(rng, 1, 5, 5));
      const perm = rng.shuffle([...x.shape.keys()]);
      await check(() => permute(up(x), perm), R.permute(x, perm), `perm ${perm}`);
    }
    const y = R.randomND(rng, [2, 3, 4]);
    await check(() => permute(up(y), [-1, 0, 1]), R.permute(y, [2, 0, 1]));
  });

  it('transpose defaults to the last two axes; negative axes work', async () => {
    const rng = new Rng(4);
    const x = R.randomND(rng, [3, 5, 7]);
    await check(() => transpose(up(x)), R.transpose(x, -2, -1));
    await check(() => transpose(up(x), 0, 2), R.transpose(x, 0, 2));
    await check(() => transpose(up(x), -3, 1), R.transpose(x, 0, 1));
  });

  it('rejects non-permutations', () => {
    const t = tensor(new Float32Array(6), [2, 3]);
    expect(() => permute(t, [0, 0])).toThrow(ShapeError);
    expect(() => permute(t, [0])).toThrow(/not a permutation/);
    t.dispose();
  });
});

describe('slice', () => {
  it('steps > 1, negative indices, open ends, empty ranges and [start, end, step] tuples', async () => {
    const rng = new Rng(5);
    const x = R.randomND(rng, [7, 9, 5]);
    const cases: (SliceRange | null)[][] = [
      [{ start: 1, end: 6, step: 2 }, null, { step: 3 }],
      [{ start: -3 }, { start: 2, end: -2, step: 4 }],
      [null, { end: -1 }, { start: -5, end: 5 }],
      [{ start: 2, end: 3 }],
      [{ start: 2, end: 2 }],
      [
        { start: -1, step: 5 },
        { start: 8, step: 2 },
        { start: 1, end: 4 },
      ],
    ];
    for (const ranges of cases)
      await check(() => slice(up(x), ranges), R.slice(x, ranges), JSON.stringify(ranges));
    await check(
      () => slice(up(x), [[1, 6, 2], null, [-4]]),
      R.slice(x, [{ start: 1, end: 6, step: 2 }, null, { start: -4 }]),
      'tuples',
    );
  });

  it('random in-range ranges on random odd shapes agree with Python slicing', async () => {
    const rng = new Rng(55);
    for (let k = 0; k < 8; k++) {
      const x = R.randomND(rng, R.randomShape(rng, 1, 4, 7));
      const ranges = x.shape.map((d) => {
        if (rng.uniform() < 0.2) return null;
        const a = rng.int(d + 1);
        const b = a + rng.int(d + 1 - a);
        const signed = (v: number) => (v < d && rng.uniform() < 0.3 ? v - d : v);
        return { start: signed(a), end: rng.uniform() < 0.25 ? undefined : signed(b), step: 1 + rng.int(3) };
      });
      await check(() => slice(up(x), ranges), R.slice(x, ranges), JSON.stringify(ranges));
    }
  });

  it('rejects out-of-range or reversed bounds, bad steps, unknown range forms and too many ranges', () => {
    const t = tensor(new Float32Array(12), [4, 3]);
    expect(() => slice(t, [[5, 9]])).toThrow(/start 5 is outside axis 0 of f32\[4, 3\] \(size 4\)/);
    expect(() => slice(t, [{ start: 1, end: 9 }])).toThrow(/end 9 is outside axis 0/);
    expect(() => slice(t, [null, { start: -4 }])).toThrow(/start -4 is outside axis 1/);
    expect(() => slice(t, [{ start: 3, end: 1 }])).toThrow(/ends before it starts/);
    expect(() => slice(t, [{ begin: 1 } as unknown as SliceRange])).toThrow(/unknown key\(s\) begin/);
    expect(() => slice(t, [{ step: 0 }])).toThrow(/step 0/);
    expect(() => slice(t, [{ step: -1 }])).toThrow(ShapeError);
    expect(() => slice(t, [null, null, null])).toThrow(/3 ranges/);
    t.dispose();
  });
});

describe('pad and flip', () => {
  it('F.pad order, values, and negative amounts that crop', async () => {
    const rng = new Rng(6);
    const x = R.randomND(rng, [2, 3, 4]);
    const cases: [number[], number][] = [
      [[1, 2], 0],
      [[0, 1, 2, 0], -1.5],
      [[1, 1, 1, 1, 1, 1], 3],
      [[-1, 2, 1, -2], 0],
      [[-2, -1], 7],
      [[2, -3, 0, 0, -1, 1], 0.25],
    ];
    for (const [pads, value] of cases)
      await check(() => pad(up(x), pads, value), R.pad(x, pads, value), `pad ${pads} ${value}`);
  });

  it('random pads and crops on random shapes', async () => {
    const rng = new Rng(66);
    for (let k = 0; k < 6; k++) {
      const x = R.randomND(rng, R.randomShape(rng, 1, 4, 5));
      const axes = 1 + rng.int(x.shape.length);
      const pads: number[] = [];
      for (let i = 0; i < axes; i++) {
        const d = x.shape[x.shape.length - 1 - i];
        const before = rng.int(4) - Math.min(1, d - 1);
        pads.push(before, rng.int(3) - Math.min(1, d - 1 - Math.max(0, -before)));
      }
      await check(() => pad(up(x), pads, 2), R.pad(x, pads, 2), `pad [${x.shape}] ${pads}`);
    }
  });

  it('pad rejects odd lists, too many axes, and crops below zero', () => {
    const t = tensor(new Float32Array(6), [2, 3]);
    expect(() => pad(t, [1])).toThrow(ShapeError);
    expect(() => pad(t, [1, 1, 1, 1, 1, 1])).toThrow(/do not fit/);
    expect(() => pad(t, [-2, -2])).toThrow(/below zero/);
    t.dispose();
  });

  it('flip of one, several, and negative axes', async () => {
    const rng = new Rng(7);
    const x = R.randomND(rng, [3, 4, 5]);
    await check(() => flip(up(x), 0), R.flip(x, [0]));
    await check(() => flip(up(x), [0, 2]), R.flip(x, [0, 2]));
    await check(() => flip(up(x), [-1, 1]), R.flip(x, [2, 1]));
  });
});

describe('expand, concat, stack', () => {
  it('expand adds leading axes and stretches size-1 axes; -1 keeps an axis', async () => {
    const rng = new Rng(8);
    const x = R.randomND(rng, [3, 1, 2]);
    await check(() => expand(up(x), [4, 3, 5, 2]), R.expand(x, [4, 3, 5, 2]));
    await check(() => expand(up(x), [-1, 3, -1]), R.expand(x, [3, 3, 2]));
    expect(() => expand(up(x), [3, 2, 3])).toThrow(/expand: cannot expand/);
    expect(() => expand(up(x), [2])).toThrow(ShapeError);
    expect(() => expand(up(x), [-1, 3, 1, 2])).toThrow(/expand: -1 for the new leading axis 0/);
    expect(() => expand(up(x), [3, -2, 2])).toThrow(/expand: /);
  });

  it('concat of three inputs along the first, a middle and the last axis', async () => {
    const rng = new Rng(9);
    const a = R.randomND(rng, [2, 3, 4]);
    const b = R.randomND(rng, [2, 5, 4]);
    const c = R.randomND(rng, [2, 1, 4]);
    await check(() => concat([up(a), up(b), up(c)], 1), R.concat([a, b, c], 1));
    await check(() => concat([up(a), up(b), up(c)], -2), R.concat([a, b, c], 1));
    const d = R.randomND(rng, [3, 3, 4]);
    await check(() => concat([up(a), up(d), up(a)], 0), R.concat([a, d, a], 0));
    const e = R.randomND(rng, [2, 3, 1]);
    await check(() => concat([up(a), up(e)], 2), R.concat([a, e], 2));
  });

  it('concat rejects mismatched shapes and dtypes, naming them', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    const b = tensor(new Float32Array(8), [2, 4]);
    const c = tensor(new Int32Array(6), [2, 3]);
    expect(() => concat([a, b], 0)).toThrow(/concat: shapes f32\[2, 3\], f32\[2, 4\]/);
    expect(() => concat([a, c], 0)).toThrow(ShapeError);
    expect(() => concat([], 0)).toThrow(/no tensors/);
    for (const t of [a, b, c]) t.dispose();
  });

  it('stack along first, middle and last axes', async () => {
    const rng = new Rng(10);
    const xs = [0, 1, 2].map(() => R.randomND(rng, [2, 3]));
    for (const axis of [0, 1, 2, -1])
      await check(
        () =>
          stack(
            xs.map((x) => up(x)),
            axis,
          ),
        R.stack(xs, axis),
        `stack ${axis}`,
      );
  });
});

describe('layout ops on i32 tensors', () => {
  it('permute, slice, pad, flip, expand, concat, stack, reshape keep i32 values exact', async () => {
    const x = R.build([3, 4], (i) => i[0] * 100000 - i[1] * 7 - 1);
    const i32 = () => up(x, { dtype: 'i32' });
    await check(() => permute(i32(), [1, 0]), R.permute(x, [1, 0]), 'permute', 'i32');
    await check(
      () => slice(i32(), [{ step: 2 }, { start: -3 }]),
      R.slice(x, [{ step: 2 }, { start: -3 }]),
      'slice',
      'i32',
    );
    await check(() => pad(i32(), [1, -1, 0, 1], -9), R.pad(x, [1, -1, 0, 1], -9), 'pad', 'i32');
    await check(() => flip(i32(), [0, 1]), R.flip(x, [0, 1]), 'flip', 'i32');
    await check(() => expand(i32(), [2, 3, 4]), R.expand(x, [2, 3, 4]), 'expand', 'i32');
    await check(() => concat([i32(), i32()], 1), R.concat([x, x], 1), 'concat', 'i32');
    await check(() => stack([i32(), i32()], 1), R.stack([x, x], 1), 'stack', 'i32');
    await check(() => reshape(i32(), [2, -1]), R.reshape(x, [2, 6]), 'reshape', 'i32');
  });
});
