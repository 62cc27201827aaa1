/**
 * A small float64 NumPy-like reference, written independently of the GPU code so that every op and every
 * gradient can be checked against it. Arrays are dense row-major; no views, no dtypes (everything is float64).
 */
import { Rng } from '../src/random.js';

export interface ND {
  shape: number[];
  data: Float64Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function nd(shape: readonly number[], data?: ArrayLike<number>): ND {
  const n = numel(shape);
  const out = new Float64Array(n);
  if (data) {
    if (data.length !== n) throw new Error(`nd: ${data.length} values for shape [${shape}]`);
    out.set(Array.from(data));
  }
  return { shape: [...shape], data: out };
}

export const scalarND = (v: number): ND => nd([], [v]);

/** Calls fn with the multi-index of every element of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], fn: (idx: number[], flat: number) => void): void {
  const n = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    fn(idx, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** A new array of `shape` whose element at idx is fn(idx). */
export function build(shape: readonly number[], fn: (idx: number[]) => number): ND {
  const out = nd(shape);
  forEachIndex(shape, (idx, flat) => {
    out.data[flat] = fn(idx);
  });
  return out;
}

export function at(x: ND, idx: readonly number[]): number {
  const st = strides(x.shape);
  let o = 0;
  for (let i = 0; i < idx.length; i++) o += idx[i] * st[i];
  return x.data[o];
}

// ---- broadcasting elementwise ----

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      if (s[i] === out[o] || s[i] === 1) continue;
      if (out[o] !== 1) throw new Error(`reference: cannot broadcast [${shapes.join('] [')}]`);
      out[o] = s[i];
    }
  }
  return out;
}

/** The element of x that broadcasting maps to output index idx. */
function bcastAt(x: ND, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  const st = strides(x.shape);
  let o = 0;
  for (let i = 0; i < x.shape.length; i++) if (x.shape[i] !== 1) o += idx[i + off] * st[i];
  return x.data[o];
}

export function map(fn: (...v: number[]) => number, ...xs: ND[]): ND {
  const shape = broadcastShape(...xs.map((x) => x.shape));
  return build(shape, (idx) => fn(...xs.map((x) => bcastAt(x, idx))));
}

export const add = (a: ND, b: ND) => map((x, y) => x + y, a, b);
export const sub = (a: ND, b: ND) => map((x, y) => x - y, a, b);
export const mul = (a: ND, b: ND) => map((x, y) => x * y, a, b);
export const div = (a: ND, b: ND) => map((x, y) => x / y, a, b);
export const pow = (a: ND, b: ND) => map((x, y) => x ** y, a, b);
export const maximum = (a: ND, b: ND) => map((x, y) => Math.max(x, y), a, b);
export const minimum = (a: ND, b: ND) => map((x, y) => Math.min(x, y), a, b);
export const neg = (a: ND) => map((x) => -x, a);
export const exp = (a: ND) => map(Math.exp, a);
export const log = (a: ND) => map(Math.log, a);
export const sqrt = (a: ND) => map(Math.sqrt, a);
export const abs = (a: ND) => map(Math.abs, a);
export const relu = (a: ND) => map((x) => Math.max(x, 0), a);
export const sigmoid = (a: ND) => map((x) => 1 / (1 + Math.exp(-x)), a);
export const tanh = (a: ND) => map(Math.tanh, a);
export const clamp = (a: ND, lo = -Infinity, hi = Infinity) => map((x) => Math.min(Math.max(x, lo), hi), a);
export const where = (c: ND, a: ND, b: ND) => map((p, x, y) => (p !== 0 ? x : y), c, a, b);

export type Cmp = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';
const CMP: Record<Cmp, (x: number, y: number) => boolean> = {
  lt: (x, y) => x < y,
  le: (x, y) => x <= y,
  gt: (x, y) => x > y,
  ge: (x, y) => x >= y,
  eq: (x, y) => x === y,
  ne: (x, y) => x !== y,
};
export const compare = (kind: Cmp, a: ND, b: ND) => map((x, y) => (CMP[kind](x, y) ? 1 : 0), a, b);

// ---- reductions ----

function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/** Groups the elements of x by their index outside `axes`; returns the kept shapes and the groups. */
function groups(x: ND, axes: number[]): { keepShape: number[]; lists: number[][] } {
  const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const kst = strides(keepShape);
  const lists: number[][] = Array.from({ length: numel(keepShape) }, () => []);
  forEachIndex(x.shape, (idx, flat) => {
    let o = 0;
    for (let i = 0; i < idx.length; i++) if (!axes.includes(i)) o += idx[i] * kst[i];
    lists[o].push(x.data[flat]);
  });
  return { keepShape, lists };
}

export type ReduceKind = 'sum' | 'mean' | 'max' | 'min';

export function reduce(kind: ReduceKind, x: ND, axes?: number | readonly number[], keepdim = false): ND {
  const ax = normAxes(axes, x.shape.length);
  const { keepShape, lists } = groups(x, ax);
  const f: Record<ReduceKind, (v: number[]) => number> = {
    sum: (v) => v.reduce((s, y) => s + y, 0),
    mean: (v) => v.reduce((s, y) => s + y, 0) / v.length,
    max: (v) => Math.max(...v),
    min: (v) => Math.min(...v),
  };
  const shape = keepdim ? keepShape : x.shape.filter((_, i) => !ax.includes(i));
  return nd(
    shape,
    lists.map((v) => f[kind](v)),
  );
}

/** Index of the largest (smallest) value along one axis; the first one on ties. */
export function argReduce(kind: 'argmax' | 'argmin', x: ND, axis: number, keepdim = false): ND {
  const ax = normAxes(axis, x.shape.length);
  const { keepShape, lists } = groups(x, ax);
  const shape = keepdim ? keepShape : x.shape.filter((_, i) => !ax.includes(i));
  return nd(
    shape,
    lists.map((v) => {
      let best = 0;
      for (let i = 1; i < v.length; i++) if (kind === 'argmax' ? v[i] > v[best] : v[i] < v[best]) best = i;
      return best;
    }),
  );
}

// ---- matmul ----

/** Batched matmul on the last two axes with NumPy broadcasting of the batch axes. */
export function matmul(a: ND, b: ND): ND {
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error('reference matmul: inner sizes differ');
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return build([...batch, M, N], (idx) => {
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2);
    let s = 0;
    for (let k = 0; k < K; k++) s += bcastAt2(a, bi, i, k) * bcastAt2(b, bi, k, j);
    return s;
  });
}

function bcastAt2(x: ND, batchIdx: number[], r: number, c: number): number {
  return bcastAt(x, [...batchIdx, r, c]);
}

// ---- layout ----

export function reshape(x: ND, shape: readonly number[]): ND {
  const s = [...shape];
  const u = s.indexOf(-1);
  if (u >= 0) s[u] = numel(x.shape) / numel(s.filter((_, i) => i !== u));
  if (numel(s) !== numel(x.shape)) throw new Error('reference reshape: size mismatch');
  return { shape: s, data: x.data.slice() };
}

export function permute(x: ND, perm: readonly number[]): ND {
  const shape = perm.map((p) => x.shape[p]);
  return build(shape, (idx) => {
    const src = new Array<number>(x.shape.length);
    perm.forEach((p, i) => {
      src[p] = idx[i];
    });
    return at(x, src);
  });
}

export function transpose(x: ND, d0: number, d1: number): ND {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  const a = (d0 + r) % r;
  const b = (d1 + r) % r;
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

export interface Range {
  start?: number;
  end?: number;
  step?: number;
}

/** Python slicing with positive steps (negative start/end count from the end, out-of-range clamps). */
export function slice(x: ND, ranges: readonly (Range | null | undefined)[]): ND {
  const spec = x.shape.map((dim, i) => {
    const r = ranges[i] ?? {};
    const step = r.step ?? 1;
    const norm = (v: number) => Math.min(dim, Math.max(0, v < 0 ? v + dim : v));
    const start = norm(r.start ?? 0);
    const end = norm(r.end ?? dim);
    const picked: number[] = [];
    for (let k = start; k < end; k += step) picked.push(k);
    return picked;
  });
  return build(
    spec.map((p) => p.length),
    (idx) =>
      at(
        x,
        idx.map((c, i) => spec[i][c]),
      ),
  );
}

/** F.pad(x, pads, value=value): pads = [last before, last after, second-to-last before, …]; negative crops. */
export function pad(x: ND, pads: readonly number[], value = 0): ND {
  const r = x.shape.length;
  const before = new Array<number>(r).fill(0);
  const after = new Array<number>(r).fill(0);
  for (let k = 0; k < pads.length / 2; k++) {
    before[r - 1 - k] = pads[2 * k];
    after[r - 1 - k] = pads[2 * k + 1];
  }
  const shape = x.shape.map((d, i) => d + before[i] + after[i]);
  return build(shape, (idx) => {
    const src = idx.map((c, i) => c - before[i]);
    return src.every((c, i) => c >= 0 && c < x.shape[i]) ? at(x, src) : value;
  });
}

export function flip(x: ND, axes: readonly number[]): ND {
  const r = x.shape.length;
  const ax = axes.map((a) => (a + r) % r);
  return build(x.shape, (idx) =>
    at(
      x,
      idx.map((c, i) => (ax.includes(i) ? x.shape[i] - 1 - c : c)),
    ),
  );
}

export function expand(x: ND, shape: readonly number[]): ND {
  const lead = shape.length - x.shape.length;
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - lead] : d));
  return build(target, (idx) => bcastAt(x, idx));
}

export function concat(xs: readonly ND[], axis: number): ND {
  const r = xs[0].shape.length;
  const ax = (axis + r) % r;
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax], 0);
  return build(shape, (idx) => {
    let c = idx[ax];
    for (const x of xs) {
      if (c < x.shape[ax]) {
        const src = [...idx];
        src[ax] = c;
        return at(x, src);
      }
      c -= x.shape[ax];
    }
    throw new Error('unreachable');
  });
}

export function stack(xs: readonly ND[], axis: number): ND {
  const r = xs[0].shape.length + 1;
  const ax = (axis + r) % r;
  return concat(
    xs.map((x) => ({ shape: [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)], data: x.data })),
    ax,
  );
}

// ---- random inputs ----

/** A shape of rank in [minRank, maxRank] with dims in [1, maxDim] (odd sizes are common by construction). */
export function randomShape(rng: Rng, minRank: number, maxRank: number, maxDim = 7): number[] {
  const rank = minRank + rng.int(maxRank - minRank + 1);
  return Array.from({ length: rank }, () => 1 + rng.int(maxDim));
}

/** A shape that broadcasts to `shape`: some leading axes dropped and some axes set to 1. */
export function broadcastableTo(rng: Rng, shape: readonly number[]): number[] {
  const drop = rng.int(shape.length + 1);
  return shape.slice(drop).map((d) => (rng.uniform() < 0.4 ? 1 : d));
}

/** Uniform values in [lo, hi), rounded to float32 so that GPU and reference start from the same numbers. */
export function randomND(rng: Rng, shape: readonly number[], lo = -1, hi = 1): ND {
  return build(shape, () => Math.fround(rng.range(lo, hi)));
}

/** Values whose magnitude is at least `gap`, so that kinks (|x|, relu, comparisons with 0) are not sampled. */
export function randomAwayFromZero(rng: Rng, shape: readonly number[], gap = 0.1, hi = 1): ND {
  return build(shape, () => {
    const m = Math.fround(rng.range(gap, hi));
    return rng.uniform() < 0.5 ? -m : m;
  });
}

/** A random permutation of 0..n-1 as float32 values scaled to (−1, 1): all distinct, spaced 2/n apart. */
export function distinctND(rng: Rng, shape: readonly number[]): ND {
  const n = numel(shape);
  const order = rng.shuffle([...Array(n).keys()]);
  return nd(
    shape,
    order.map((k) => Math.fround((2 * k + 1) / n - 1)),
  );
}

// ---- comparisons ----

/** ‖a − b‖₂ / max(‖b‖₂, tiny). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** Central finite differences of a scalar function of several arrays, in float64. */
export function numericGrad(f: (xs: ND[]) => number, xs: ND[], which: number, eps = 1e-6): ND {
  const x = xs[which];
  const g = nd(x.shape);
  for (let i = 0; i < x.data.length; i++) {
    const keep = x.data[i];
    x.data[i] = keep + eps;
    const up = f(xs);
    x.data[i] = keep - eps;
    const down = f(xs);
    x.data[i] = keep;
    g.data[i] = (up - down) / (2 * eps);
  }
  return g;
}

export { Rng };
