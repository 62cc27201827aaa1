/** Reductions over axes (sum, mean, max, min, argmax, argmin) with their backward rules. */
import { record } from '../autograd.js';
import { runtime } from '../device.js';
import { kernel } from '../kernel.js';
import { fmt, normAxes, numel, type Shape, ShapeError } from '../shape.js';
import { Tensor } from '../tensor.js';
import { mapElementwise } from './elementwise.js';
import { grid1d } from './grid.js';
import { permuteRaw } from './layout.js';
import { type ReduceKind, reduceRowSpec, reduceStridedSpec } from './reduce.wgsl.js';

/** Reductions longer than this with few outputs are split into partial sums first. */
const CHUNK = 4096;

/** Reduces the block [outer, R, inner] of `x` (contiguous) to [outer, inner]. Not recorded. */
function reduceBlock(kind: ReduceKind, x: Tensor, outer: number, R: number, inner: number): Tensor {
  const isArg = kind === 'argmax' || kind === 'argmin';
  const outputs = outer * inner;
  // Few outputs and a long reduction: a first pass of partials keeps the GPU busy.
  const chunks = !isArg && R > 2 * CHUNK && outputs < 8192 ? Math.ceil(R / CHUNK) : 1;
  const C = Math.ceil(R / chunks);
  const partialCount = outer * chunks * inner;
  let out = Tensor.empty([partialCount], isArg ? 'i32' : 'f32', kind);
  const init = kind === 'max' || kind === 'argmax' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  const uniforms = { outputs: partialCount, R, inner, chunks, C, init: kind === 'sum' ? 0 : init };
  const bindings = { x: x.buffer, y: out.buffer };
  const rt = runtime();
  if (inner === 1 && C >= 128) {
    const k = kernel(`reduce.row|${kind}`, () => reduceRowSpec(kind));
    rt.dispatchKernel(k, bindings, uniforms, grid1d(partialCount, 1));
  } else {
    const k = kernel(`reduce.strided|${kind}`, () => reduceStridedSpec(kind));
    rt.dispatchKernel(k, bindings, uniforms, grid1d(partialCount));
  }
  if (chunks > 1) {
    const partial = out;
    out = reduceBlock(kind, partial, outer, chunks, inner);
    partial.dispose();
  }
  return out;
}

/** Splits sorted axes into maximal runs of consecutive axes. */
function runsOf(axes: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a - 1) last[1] = a;
    else runs.push([a, a]);
  }
  return runs;
}

function keptShape(shape: Shape, axes: number[], keepdim: boolean): number[] {
  return keepdim
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

/** The reduction without autograd: returns the result in keepdim form. */
function reduceRaw(kind: ReduceKind, a: Tensor, axes: number[]): Tensor {
  const shape = [...a.shape];
  if (numel(shape) === 0) throw new ShapeError(kind, `cannot reduce the empty tensor ${a.describe()}`);
  const keep = keptShape(shape, axes, true);
  if (kind === 'argmax' || kind === 'argmin') {
    // Index over the flattened reduced axes: move them last when they are not one block.
    const runs = runsOf(axes);
    let src = a;
    let outer: number;
    let R: number;
    let inner: number;
    if (runs.length === 1) {
      outer = numel(shape.slice(0, axes[0]));
      R = numel(axes.map((i) => shape[i]));
      inner = numel(shape.slice(axes[axes.length - 1] + 1));
    } else {
      const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
      src = permuteRaw(a, [...kept, ...axes]);
      outer = numel(kept.map((i) => shape[i]));
      R = numel(axes.map((i) => shape[i]));
      inner = 1;
    }
    const r = reduceBlock(kind, src, outer, R, inner);
    if (src !== a) src.dispose();
    const v = r.view(keep);
    r.dispose();
    return v;
  }
  // Associative reductions: one block at a time, the last run first so earlier axes keep their positions.
  let cur = a;
  let curShape = shape;
  for (const [s, e] of runsOf(axes).reverse()) {
    const outer = numel(curShape.slice(0, s));
    const R = numel(curShape.slice(s, e + 1));
    const inner = numel(curShape.slice(e + 1));
    const next = reduceBlock(kind, cur, outer, R, inner);
    if (cur !== a) cur.dispose();
    cur = next;
    curShape = curShape.map((d, i) => (i >= s && i <= e ? 1 : d));
  }
  if (cur === a) return mapElementwise('copy', 'v0', [a]);
  const v = cur.view(keep);
  cur.dispose();
  return v;
}

function finish(r: Tensor, shape: Shape, axes: number[], keepdim: boolean): Tensor {
  if (keepdim) return r;
  const v = r.view(keptShape(shape, axes, false));
  r.dispose();
  return v;
}

/** Broadcasts a gradient of the reduced shape (seen as `keepShape`) back to the input shape. */
function expandTo(g: Tensor, keepShape: Shape, shape: Shape, scale = 1): Tensor {
  const v = g.view(keepShape);
  const r = mapElementwise('expand', scale === 1 ? 'v0' : 'v0 * s0', [v], {
    outShape: shape,
    scalars: [scale],
  });
  v.dispose();
  return r;
}

/** The kernels read f32; an i32 buffer would be reinterpreted bit by bit, so refuse it. */
function requireF32(op: string, a: Tensor): void {
  if (a.dtype !== 'f32') throw new ShapeError(op, `needs an f32 tensor, got ${a.describe()} (cast it first)`);
}

export interface ReduceOptions {
  keepdim?: boolean;
}

export function sum(a: Tensor, axes?: number | number[], options: ReduceOptions = {}): Tensor {
  requireF32('sum', a);
  const ax = normAxes('sum', axes, a.rank);
  const keepdim = options.keepdim ?? false;
  const r = reduceRaw('sum', a, ax);
  const keepShape = r.shape;
  const out = finish(r, a.shape, ax, keepdim);
  return record(out, 'sum', [a], (g) => [expandTo(g, keepShape, a.shape)]);
}

export function mean(a: Tensor, axes?: number | number[], options: ReduceOptions = {}): Tensor {
  requireF32('mean', a);
  const ax = normAxes('mean', axes, a.rank);
  const count = numel(ax.map((i) => a.shape[i]));
  const keepdim = options.keepdim ?? false;
  const s = reduceRaw('sum', a, ax);
  const r = mapElementwise('mean', 'v0 * s0', [s], { scalars: [1 / count] });
  s.dispose();
  const keepShape = r.shape;
  const out = finish(r, a.shape, ax, keepdim);
  return record(out, 'mean', [a], (g) => [expandTo(g, keepShape, a.shape, 1 / count)]);
}

function extremum(
  kind: 'max' | 'min',
  a: Tensor,
  axes: number | number[] | undefined,
  options: ReduceOptions,
): Tensor {
  requireF32(kind, a);
  const ax = normAxes(kind, axes, a.rank);
  const r = reduceRaw(kind, a, ax);
  const keepShape = r.shape;
  const out = finish(r, a.shape, ax, options.keepdim ?? false);
  return record(out, kind, [a], (g) => {
    // Ties share the gradient evenly (PyTorch's amax/amin rule).
    const m = out.view(keepShape);
    const hits = mapElementwise(`${kind}_backward`, 'select(0.0, 1.0, v0 == v1)', [a, m]);
    const count = reduceRaw('sum', hits, ax);
    hits.dispose();
    const gk = g.view(keepShape);
    const ga = mapElementwise(`${kind}_backward`, 'select(0.0, v0 / v3, v1 == v2)', [gk, a, m, count], {
      outShape: a.shape,
    });
    gk.dispose();
    count.dispose();
    m.dispose();
    return [ga];
  });
}

export function max(a: Tensor, axes?: number | number[], options: ReduceOptions = {}): Tensor {
  return extremum('max', a, axes, options);
}

export function min(a: Tensor, axes?: number | number[], options: ReduceOptions = {}): Tensor {
  return extremum('min', a, axes, options);
}

/** Index (i32) of the largest value along one axis (first one on ties; NaN counts as largest). */
export function argmax(a: Tensor, axis: number, options: ReduceOptions = {}): Tensor {
  requireF32('argmax', a);
  const ax = normAxes('argmax', axis, a.rank);
  return finish(reduceRaw('argmax', a, ax), a.shape, ax, options.keepdim ?? false);
}

export function argmin(a: Tensor, axis: number, options: ReduceOptions = {}): Tensor {
  requireF32('argmin', a);
  const ax = normAxes('argmin', axis, a.rank);
  return finish(reduceRaw('argmin', a, ax), a.shape, ax, options.keepdim ?? false);
}

/** Sums `g` over the axes that broadcasting added or stretched, giving `shape`. Not recorded. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  const lead = g.rank - shape.length;
  if (lead < 0) throw new ShapeError('sumToShape', `${fmt(g.shape)} has fewer axes than ${fmt(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== g.shape[i])
      throw new ShapeError('sumToShape', `${fmt(g.shape)} does not broadcast from ${fmt(shape)}`);
  }
  if (axes.length === 0) return g.view(shape);
  const r = reduceRaw('sum', g, axes);
  const v = r.view(shape);
  r.dispose();
  return v;
}
