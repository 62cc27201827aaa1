/** Shape and layout ops: reshape, permute, slice, pad, flip, expand, concat, stack, with backward rules. */
import { record } from '../autograd.js';
import { runtime } from '../device.js';
import { kernel } from '../kernel.js';
import { checkShape, fmt, numel, type Shape, ShapeError, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { full } from './creation.js';
import { grid1d } from './grid.js';
import { gatherSpec, scatterSpec } from './layout.wgsl.js';
import { sumToShape } from './reduce.js';

const UNBOUNDED = 0x7fffffff;

interface GatherAxis {
  size: number;
  start: number;
  step: number;
  bound: number;
  stride: number;
}

function gather(op: string, a: Tensor, axes: GatherAxis[], padValue = 0): Tensor {
  const shape = axes.map((x) => x.size);
  const out = Tensor.empty(shape, a.dtype, op);
  const n = numel(shape);
  if (n === 0) return out;
  const k = kernel(`gather|${op}|${a.dtype}|${shape.length}`, () => ({
    ...gatherSpec(a.dtype, shape.length),
    name: op,
  }));
  runtime().dispatchKernel(
    k,
    { x: a.buffer, y: out.buffer },
    {
      n,
      pad: a.dtype === 'i32' ? padValue | 0 : padValue,
      size: axes.map((x) => x.size),
      start: axes.map((x) => x.start),
      step: axes.map((x) => x.step),
      bound: axes.map((x) => x.bound),
      stride: axes.map((x) => x.stride),
    },
    grid1d(n),
  );
  return out;
}

/** Writes all of `src` into `dst` at element offset `base` with `dstStrides` per axis of `src`. */
function scatterInto(op: string, src: Tensor, dst: Tensor, base: number, dstStrides: number[]): void {
  if (src.size === 0) return;
  const k = kernel(`scatter|${op}|${src.dtype}|${src.rank}`, () => ({
    ...scatterSpec(src.dtype, src.rank),
    name: op,
  }));
  runtime().dispatchKernel(
    k,
    { x: src.buffer, y: dst.buffer },
    { n: src.size, base, size: [...src.shape], outStride: dstStrides.slice(0, src.rank) },
    grid1d(src.size),
  );
}

function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new ShapeError(op, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

// ---- views ----

export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const unknown = s.indexOf(-1);
  if (unknown >= 0) {
    const rest = numel(s.filter((_, i) => i !== unknown));
    if (rest === 0 || a.size % rest !== 0)
      throw new ShapeError('reshape', `cannot reshape ${a.describe()} to ${fmt(shape)}`);
    s[unknown] = a.size / rest;
  }
  checkShape('reshape', s);
  if (numel(s) !== a.size)
    throw new ShapeError('reshape', `cannot reshape ${a.describe()} (${a.size} elements) to ${fmt(shape)}`);
  const out = a.view(s);
  return record(out, 'reshape', [a], (g) => [g.view(a.shape)]);
}

export function flatten(a: Tensor, startDim = 0, endDim = -1): Tensor {
  const s = normAxis('flatten', startDim, Math.max(1, a.rank));
  const e = normAxis('flatten', endDim, Math.max(1, a.rank));
  return reshape(a, [...a.shape.slice(0, s), numel(a.shape.slice(s, e + 1)), ...a.shape.slice(e + 1)]);
}

export function unsqueeze(a: Tensor, axis: number): Tensor {
  const ax = normAxis('unsqueeze', axis, a.rank + 1);
  return reshape(a, [...a.shape.slice(0, ax), 1, ...a.shape.slice(ax)]);
}

export function squeeze(a: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      a,
      a.shape.filter((d) => d !== 1),
    );
  const ax = normAxis('squeeze', axis, a.rank);
  if (a.shape[ax] !== 1) return reshape(a, a.shape);
  return reshape(
    a,
    a.shape.filter((_, i) => i !== ax),
  );
}

// ---- copies ----

/** Permutes axes without recording autograd (used inside other ops). */
export function permuteRaw(a: Tensor, perm: readonly number[]): Tensor {
  const st = stridesOf(a.shape);
  return gather(
    'permute',
    a,
    perm.map((p) => ({ size: a.shape[p], start: 0, step: 1, bound: UNBOUNDED, stride: st[p] })),
  );
}

export function permute(a: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((x) => normAxis('permute', x, a.rank));
  if (p.length !== a.rank || new Set(p).size !== p.length) {
    throw new ShapeError(
      'permute',
      `${JSON.stringify(perm)} is not a permutation of the axes of ${a.describe()}`,
    );
  }
  const out = permuteRaw(a, p);
  const inverse = new Array<number>(p.length);
  p.forEach((v, i) => {
    inverse[v] = i;
  });
  return record(out, 'permute', [a], (g) => [permuteRaw(g, inverse)]);
}

export function transpose(a: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const d0 = normAxis('transpose', dim0, a.rank);
  const d1 = normAxis('transpose', dim1, a.rank);
  const perm = [...a.shape.keys()];
  perm[d0] = d1;
  perm[d1] = d0;
  return permute(a, perm);
}

export interface SliceRange {
  start?: number;
  end?: number;
  step?: number;
}

/** A range as `{ start, end, step }` or as a tuple `[start, end]` / `[start, end, step]` (`t[start:end:step]`). */
export type SliceRangeInput = SliceRange | readonly [number?, number?, number?];

function toRange(r: SliceRangeInput | null | undefined, axis: number): SliceRange {
  if (r === null || r === undefined) return {};
  if (Array.isArray(r)) {
    if (r.length > 3)
      throw new ShapeError('slice', `range ${JSON.stringify(r)} on axis ${axis} has more than 3 parts`);
    return { start: r[0], end: r[1], step: r[2] };
  }
  const unknown = Object.keys(r).filter((k) => k !== 'start' && k !== 'end' && k !== 'step');
  if (unknown.length > 0)
    throw new ShapeError(
      'slice',
      `range on axis ${axis} has unknown key(s) ${unknown.join(', ')} (start, end, step)`,
    );
  return r as SliceRange;
}

/**
 * Slicing per axis (`null`/missing axes are kept whole); negative indices count from the end. Unlike Python, a
 * start or end beyond the axis is an error rather than clipped: `slice(t, [[5, 9]])` on an axis of 4 asks for
 * elements that do not exist, and an empty or shorter result would hide that.
 */
export function slice(a: Tensor, ranges: readonly (SliceRangeInput | null | undefined)[]): Tensor {
  if (ranges.length > a.rank) throw new ShapeError('slice', `${ranges.length} ranges for ${a.describe()}`);
  const st = stridesOf(a.shape);
  const spec = a.shape.map((dim, i) => {
    const r = toRange(ranges[i], i);
    const step = r.step ?? 1;
    if (!Number.isInteger(step) || step <= 0)
      throw new ShapeError('slice', `step ${step} on axis ${i} must be a positive integer (use flip)`);
    const index = (v: number, what: string) => {
      const k = v < 0 ? v + dim : v;
      if (!Number.isInteger(v) || k < 0 || k > dim)
        throw new ShapeError('slice', `${what} ${v} is outside axis ${i} of ${a.describe()} (size ${dim})`);
      return k;
    };
    const start = index(r.start ?? 0, 'start');
    const end = index(r.end ?? dim, 'end');
    if (end < start)
      throw new ShapeError('slice', `range ${start}..${end} on axis ${i} ends before it starts`);
    const size = Math.ceil((end - start) / step);
    return { size, start, step, bound: UNBOUNDED, stride: st[i] };
  });
  const out = gather('slice', a, spec);
  return record(out, 'slice', [a], (g) => {
    if (spec.every((s) => s.step === 1)) {
      // Padding the gradient with zeros puts it back in place.
      return [
        gather(
          'slice_backward',
          g,
          spec.map((s, i) => ({
            size: a.shape[i],
            start: -s.start,
            step: 1,
            bound: s.size,
            stride: stridesOf(g.shape)[i],
          })),
        ),
      ];
    }
    const ga = full(a.shape, 0, a.dtype);
    scatterInto(
      'slice_backward',
      g,
      ga,
      spec.reduce((acc, s) => acc + s.start * s.stride, 0),
      spec.map((s) => s.stride * s.step),
    );
    return [ga];
  });
}

/**
 * Constant padding with PyTorch's F.pad convention: `pads` = [last-axis before, last-axis after, next-to-last
 * before, …]. Negative amounts crop.
 */
export function pad(a: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > a.rank)
    throw new ShapeError('pad', `pads ${JSON.stringify(pads)} do not fit ${a.describe()}`);
  const before = new Array<number>(a.rank).fill(0);
  const after = new Array<number>(a.rank).fill(0);
  for (let k = 0; k < pads.length / 2; k++) {
    before[a.rank - 1 - k] = pads[2 * k];
    after[a.rank - 1 - k] = pads[2 * k + 1];
  }
  const st = stridesOf(a.shape);
  const shape = a.shape.map((d, i) => d + before[i] + after[i]);
  if (shape.some((d) => d < 0))
    throw new ShapeError('pad', `pads ${JSON.stringify(pads)} crop ${a.describe()} below zero`);
  const out = gather(
    'pad',
    a,
    shape.map((size, i) => ({ size, start: -before[i], step: 1, bound: a.shape[i], stride: st[i] })),
    value,
  );
  return record(out, 'pad', [a], (g) => {
    const gs = stridesOf(g.shape);
    return [
      gather(
        'pad_backward',
        g,
        a.shape.map((size, i) => ({ size, start: before[i], step: 1, bound: g.shape[i], stride: gs[i] })),
      ),
    ];
  });
}

export function flip(a: Tensor, axes: number | readonly number[]): Tensor {
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((x) => normAxis('flip', x, a.rank));
  const run = (t: Tensor) => {
    const st = stridesOf(t.shape);
    return gather(
      'flip',
      t,
      t.shape.map((size, i) =>
        list.includes(i)
          ? { size, start: size - 1, step: -1, bound: UNBOUNDED, stride: st[i] }
          : { size, start: 0, step: 1, bound: UNBOUNDED, stride: st[i] },
      ),
    );
  };
  const out = run(a);
  return record(out, 'flip', [a], (g) => [run(g)]);
}

/** Broadcasts to a larger shape (a copy; -1 keeps an axis). */
export function expand(a: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - a.rank;
  if (lead < 0) throw new ShapeError('expand', `cannot expand ${a.describe()} to fewer axes ${fmt(shape)}`);
  const st = stridesOf(a.shape);
  const target = shape.map((d, i) => {
    if (d !== -1) return d;
    if (i < lead) throw new ShapeError('expand', `-1 for the new leading axis ${i} in ${fmt(shape)}`);
    return a.shape[i - lead];
  });
  checkShape('expand', target);
  const axes = target.map((size, i) => {
    const j = i - lead;
    if (j < 0) return { size, start: 0, step: 1, bound: UNBOUNDED, stride: 0 };
    if (a.shape[j] === size) return { size, start: 0, step: 1, bound: UNBOUNDED, stride: st[j] };
    if (a.shape[j] === 1) return { size, start: 0, step: 1, bound: UNBOUNDED, stride: 0 };
    throw new ShapeError('expand', `cannot expand ${a.describe()} to ${fmt(shape)}`);
  });
  const out = gather('expand', a, axes);
  return record(out, 'expand', [a], (g) => [sumToShape(g, a.shape)]);
}

/** Concatenation along an axis. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat', 'no tensors');
  const first = tensors[0];
  const ax = normAxis('concat', axis, first.rank);
  for (const t of tensors) {
    if (
      t.rank !== first.rank ||
      t.dtype !== first.dtype ||
      t.shape.some((d, i) => i !== ax && d !== first.shape[i])
    ) {
      throw new ShapeError(
        'concat',
        `shapes ${tensors.map((x) => `${x.dtype}${fmt(x.shape)}`).join(', ')} do not match outside axis ${ax}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[ax] = tensors.reduce((s, t) => s + t.shape[ax], 0);
  const out = Tensor.empty(shape, first.dtype, 'concat');
  const ost = stridesOf(shape);
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    offsets.push(at);
    scatterInto('concat', t, out, at * ost[ax], ost);
    at += t.shape[ax];
  }
  return record(out, 'concat', tensors, (g) =>
    tensors.map((t, k) =>
      t.requiresGrad
        ? gather(
            'concat_backward',
            g,
            t.shape.map((size, i) => ({
              size,
              start: i === ax ? offsets[k] : 0,
              step: 1,
              bound: UNBOUNDED,
              stride: ost[i],
            })),
          )
        : null,
    ),
  );
}

export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError('stack', 'no tensors');
  const ax = normAxis('stack', axis, tensors[0].rank + 1);
  const parts = tensors.map((t) => unsqueeze(t, ax));
  const out = concat(parts, ax);
  // The unsqueezed views are internal; backward needs only their shapes and graph links.
  for (const p of parts) p.dispose();
  return out;
}

export type { Shape };
