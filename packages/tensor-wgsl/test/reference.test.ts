/** Hand-computed examples for the float64 reference, so that GPU/reference agreement means something. */
import { describe, expect, it } from 'vitest';
import * as R from './reference.js';

const arr = (x: R.ND) => Array.from(x.data);

describe('float64 reference', () => {
  it('broadcasting elementwise', () => {
    const a = R.nd([2, 1], [1, 2]);
    const b = R.nd([3], [10, 20, 30]);
    const c = R.add(a, b);
    expect(c.shape).toEqual([2, 3]);
    expect(arr(c)).toEqual([11, 21, 31, 12, 22, 32]);
    expect(() => R.add(R.nd([2, 3]), R.nd([4]))).toThrow();
  });

  it('reductions over axes with keepdim, and argmax/argmin taking the first tie', () => {
    const x = R.nd([2, 3], [1, 5, 5, 7, 0, 7]);
    expect(arr(R.reduce('sum', x, 1))).toEqual([11, 14]);
    expect(R.reduce('sum', x, 0, true).shape).toEqual([1, 3]);
    expect(arr(R.reduce('mean', x))).toEqual([25 / 6]);
    expect(arr(R.reduce('max', x, [0, 1]))).toEqual([7]);
    expect(arr(R.argReduce('argmax', x, 1))).toEqual([1, 0]);
    expect(arr(R.argReduce('argmin', x, 0))).toEqual([0, 1, 0]);
  });

  it('matmul with batch broadcasting', () => {
    const a = R.nd([2, 1, 2], [1, 2, 3, 4]);
    const b = R.nd([2, 1], [10, 1]);
    const c = R.matmul(a, b);
    expect(c.shape).toEqual([2, 1, 1]);
    expect(arr(c)).toEqual([12, 34]);
  });

  it('permute, slice with steps and negative indices, flip', () => {
    const x = R.build([2, 3], (i) => 10 * i[0] + i[1]);
    expect(arr(R.permute(x, [1, 0]))).toEqual([0, 10, 1, 11, 2, 12]);
    expect(arr(R.slice(x, [{ start: -1 }, { start: 0, step: 2 }]))).toEqual([10, 12]);
    expect(arr(R.flip(x, [1]))).toEqual([2, 1, 0, 12, 11, 10]);
  });

  it('pad uses F.pad order (last axis first) and negative amounts crop', () => {
    const x = R.nd([2, 2], [1, 2, 3, 4]);
    const p = R.pad(x, [1, 0, 0, 1], 9);
    expect(p.shape).toEqual([3, 3]);
    expect(arr(p)).toEqual([9, 1, 2, 9, 3, 4, 9, 9, 9]);
    expect(arr(R.pad(x, [-1, 0]))).toEqual([2, 4]);
  });

  it('expand, concat, stack, where, clamp, compare', () => {
    expect(arr(R.expand(R.nd([2, 1], [1, 2]), [2, 2]))).toEqual([1, 1, 2, 2]);
    expect(arr(R.concat([R.nd([1, 2], [1, 2]), R.nd([1, 1], [3])], 1))).toEqual([1, 2, 3]);
    expect(R.stack([R.nd([2], [1, 2]), R.nd([2], [3, 4])], 1).shape).toEqual([2, 2]);
    expect(arr(R.stack([R.nd([2], [1, 2]), R.nd([2], [3, 4])], 1))).toEqual([1, 3, 2, 4]);
    expect(arr(R.where(R.nd([2], [1, 0]), R.nd([2], [5, 6]), R.nd([], [0])))).toEqual([5, 0]);
    expect(arr(R.clamp(R.nd([3], [-2, 0.5, 3]), -1, 1))).toEqual([-1, 0.5, 1]);
    expect(arr(R.compare('le', R.nd([3], [1, 2, 3]), R.nd([], [2])))).toEqual([1, 1, 0]);
  });

  it('central differences recover a known gradient', () => {
    const x = R.nd([3], [1, -2, 0.5]);
    const g = R.numericGrad(([v]) => v.data.reduce((s, y) => s + y ** 3, 0), [x], 0);
    expect(R.relL2(arr(g), [3, 12, 0.75])).toBeLessThan(1e-8);
    expect(arr(x)).toEqual([1, -2, 0.5]);
  });
});
