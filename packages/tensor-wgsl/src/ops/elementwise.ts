/** Elementwise ops with broadcasting, each with its backward rule. */
import { record } from '../autograd.js';
import { runtime } from '../device.js';
import { kernel } from '../kernel.js';
import {
  broadcastShapes,
  broadcastStrides,
  fmt,
  numel,
  type Shape,
  ShapeError,
  sameShape,
} from '../shape.js';
import { type DType, Tensor } from '../tensor.js';
import { type ElementwiseInput, elementwiseKey, elementwiseSpec, SCALAR_SLOTS } from './elementwise.wgsl.js';
import { grid1d } from './grid.js';
import { sumToShape } from './reduce.js';

/**
 * Runs a WGSL expression over broadcast inputs (`v0`, `v1`, … their values; `s0`…`s3` f32 scalars) into a new
 * tensor. Not recorded for autograd: the public ops below wrap it with their backward rules. The kernel is
 * cached by op name, expression, input modes, dtypes and rank.
 */
export function mapElementwise(
  op: string,
  expr: string,
  inputs: readonly Tensor[],
  options: { scalars?: number[]; outDtype?: DType; outShape?: Shape } = {},
): Tensor {
  const scalars = options.scalars ?? [];
  if (scalars.length > SCALAR_SLOTS) throw new Error(`${op}: at most ${SCALAR_SLOTS} scalars`);
  const outShape = options.outShape ?? broadcastShapes(op, ...inputs.map((t) => t.shape));
  const outDtype = options.outDtype ?? inputs[0]?.dtype ?? 'f32';
  const out = Tensor.empty(outShape, outDtype, op);
  const n = numel(outShape);
  if (n === 0) return out;
  const rank = outShape.length;
  const described: ElementwiseInput[] = inputs.map((t) => {
    if (t.size === n && sameShape(t.shape, outShape)) return { dtype: t.dtype, mode: 'same' };
    if (t.size === 1) return { dtype: t.dtype, mode: 'scalar' };
    // Same element count with only size-1 axes inserted or removed reads linearly too.
    if (t.size === n && t.shape.filter((d) => d !== 1).join() === outShape.filter((d) => d !== 1).join())
      return { dtype: t.dtype, mode: 'same' };
    return { dtype: t.dtype, mode: 'bcast' };
  });
  const k = kernel(elementwiseKey(op, expr, described, outDtype, rank), () =>
    elementwiseSpec(op, expr, described, outDtype, rank),
  );
  const bindings: Record<string, GPUBuffer> = { outBuf: out.buffer };
  const uniforms: Record<string, number | number[]> = {
    n,
    s0: scalars[0] ?? 0,
    s1: scalars[1] ?? 0,
    s2: scalars[2] ?? 0,
    s3: scalars[3] ?? 0,
  };
  let bcast = false;
  inputs.forEach((t, i) => {
    bindings[`in${i}`] = t.buffer;
    if (described[i].mode === 'bcast') {
      uniforms[`strides${i}`] = broadcastStrides(t.shape, outShape);
      bcast = true;
    }
  });
  if (bcast) uniforms.shape = [...outShape];
  runtime().dispatchKernel(k, bindings, uniforms, grid1d(n));
  return out;
}

function requireFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts)
    if (t.dtype !== 'f32') throw new ShapeError(op, `needs f32 tensors, got ${t.describe()}`);
}

// ---- unary ----

export function neg(a: Tensor): Tensor {
  const out = mapElementwise('neg', '-v0', [a]);
  return record(out, 'neg', [a], (g) => [neg(g)]);
}

export function exp(a: Tensor): Tensor {
  requireFloat('exp', a);
  const out = mapElementwise('exp', 'exp(v0)', [a]);
  return record(out, 'exp', [a], (g) => [mapElementwise('exp_backward', 'v0 * v1', [g, out])]);
}

export function log(a: Tensor): Tensor {
  requireFloat('log', a);
  const out = mapElementwise('log', 'log(v0)', [a]);
  return record(out, 'log', [a], (g) => [mapElementwise('log_backward', 'v0 / v1', [g, a])]);
}

export function sqrt(a: Tensor): Tensor {
  requireFloat('sqrt', a);
  const out = mapElementwise('sqrt', 'sqrt(v0)', [a]);
  return record(out, 'sqrt', [a], (g) => [mapElementwise('sqrt_backward', 'v0 * 0.5 / v1', [g, out])]);
}

export function abs(a: Tensor): Tensor {
  const out = mapElementwise('abs', 'abs(v0)', [a]);
  return record(out, 'abs', [a], (g) => [mapElementwise('abs_backward', 'v0 * sign(v1)', [g, a])]);
}

export function relu(a: Tensor): Tensor {
  requireFloat('relu', a);
  const out = mapElementwise('relu', 'max(v0, 0.0)', [a]);
  return record(out, 'relu', [a], (g) => [
    mapElementwise('relu_backward', 'select(0.0, v0, v1 > 0.0)', [g, a]),
  ]);
}

export function sigmoid(a: Tensor): Tensor {
  requireFloat('sigmoid', a);
  const out = mapElementwise('sigmoid', '1.0 / (1.0 + exp(-v0))', [a]);
  return record(out, 'sigmoid', [a], (g) => [
    mapElementwise('sigmoid_backward', 'v0 * v1 * (1.0 - v1)', [g, out]),
  ]);
}

export function tanh(a: Tensor): Tensor {
  requireFloat('tanh', a);
  // Written through exp(-2|x|) so large |x| gives ±1 instead of inf/inf.
  const out = mapElementwise('tanh', 'sign(v0) * (1.0 - exp(-2.0 * abs(v0))) / (1.0 + exp(-2.0 * abs(v0)))', [
    a,
  ]);
  return record(out, 'tanh', [a], (g) => [mapElementwise('tanh_backward', 'v0 * (1.0 - v1 * v1)', [g, out])]);
}

/** x^p for a number p; integer powers of negative numbers follow the sign rules (WGSL's pow does not). */
function powScalarExpr(x: string, p: number): string {
  if (p === 0) return '1.0';
  if (p === 1) return x;
  if (p === 2) return `(${x} * ${x})`;
  if (Number.isInteger(p)) {
    const sign = Math.abs(p) % 2 === 1 ? `select(1.0, -1.0, ${x} < 0.0)` : '1.0';
    return `(${sign} * pow(abs(${x}), s0))`;
  }
  return `pow(${x}, s0)`;
}

export function powScalar(a: Tensor, p: number): Tensor {
  requireFloat('pow', a);
  const out = mapElementwise('pow', powScalarExpr('v0', p), [a], { scalars: [p] });
  return record(out, 'pow', [a], (g) => {
    const dp = mapElementwise('pow_backward', `v0 * s1 * ${powScalarExpr('v1', p - 1)}`, [g, a], {
      scalars: [p - 1, p],
    });
    return [dp];
  });
}

export function clamp(a: Tensor, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): Tensor {
  requireFloat('clamp', a);
  if (min > max) throw new Error(`clamp: min ${min} > max ${max}`);
  const out = mapElementwise('clamp', 'min(max(v0, s0), s1)', [a], { scalars: [min, max] });
  return record(out, 'clamp', [a], (g) => [
    mapElementwise('clamp_backward', 'select(0.0, v0, v1 >= s0 && v1 <= s1)', [g, a], {
      scalars: [min, max],
    }),
  ]);
}

/** Converts dtype (f32 → i32 truncates toward zero). */
export function cast(a: Tensor, dtype: DType): Tensor {
  if (a.dtype === dtype) return mapElementwise('copy', 'v0', [a]);
  return mapElementwise('cast', `${dtype}(v0)`, [a], { outDtype: dtype });
}

/** A copy with its own buffer (recorded: gradient passes through). */
export function clone(a: Tensor): Tensor {
  const out = mapElementwise('clone', 'v0', [a]);
  return record(out, 'clone', [a], (g) => [g]);
}

// ---- binary ----

type Operand = Tensor | number;

function scalarRef(dtype: DType): string {
  return dtype === 'i32' ? 'i32(s0)' : 's0';
}

function binary(
  op: string,
  a: Tensor,
  b: Operand,
  expr: (x: string, y: string) => string,
  backward: (g: Tensor, a: Tensor, b: Tensor | number, out: Tensor) => [Tensor | null, Tensor | null],
  outDtype?: DType,
): Tensor {
  if (typeof b === 'number') {
    const out = mapElementwise(op, expr('v0', scalarRef(a.dtype)), [a], { scalars: [b], outDtype });
    return record(out, op, [a], (g) => [backward(g, a, b, out)[0]]);
  }
  if (a.dtype !== b.dtype) throw new ShapeError(op, `dtypes differ: ${a.describe()} and ${b.describe()}`);
  const out = mapElementwise(op, expr('v0', 'v1'), [a, b], { outDtype });
  return record(out, op, [a, b], (g) => {
    const [ga, gb] = backward(g, a, b, out);
    return [ga && reduceTo(ga, a.shape, g), gb && reduceTo(gb, b.shape, g)];
  });
}

/**
 * Sums a broadcast gradient back to an input's shape, disposing the broadcast one unless it is `upstream` (the
 * gradient handed to the backward rule, which the rule does not own: add/sub pass it through unchanged, and it
 * may still be needed for the other input or belong to the caller of backward()).
 */
function reduceTo(g: Tensor, shape: Shape, upstream?: Tensor): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const r = sumToShape(g, shape);
  if (g !== upstream) g.dispose();
  return r;
}

const gradIf = (t: Tensor | number, make: () => Tensor): Tensor | null =>
  typeof t !== 'number' && t.requiresGrad ? make() : null;

export function add(a: Tensor, b: Operand): Tensor {
  return binary(
    'add',
    a,
    b,
    (x, y) => `${x} + ${y}`,
    (g, a, b) => [gradIf(a, () => g), gradIf(b, () => g)],
  );
}

export function sub(a: Tensor, b: Operand): Tensor {
  return binary(
    'sub',
    a,
    b,
    (x, y) => `${x} - ${y}`,
    (g, a, b) => [gradIf(a, () => g), gradIf(b, () => neg(g))],
  );
}

/** b − a for a number b (a number on the left of a subtraction). */
export function rsub(a: Tensor, b: number): Tensor {
  const out = mapElementwise('rsub', `${scalarRef(a.dtype)} - v0`, [a], { scalars: [b] });
  return record(out, 'rsub', [a], (g) => [neg(g)]);
}

export function mul(a: Tensor, b: Operand): Tensor {
  return binary(
    'mul',
    a,
    b,
    (x, y) => `${x} * ${y}`,
    (g, a, b) => [
      gradIf(a, () =>
        typeof b === 'number'
          ? mapElementwise('mul', 'v0 * s0', [g], { scalars: [b] })
          : mapElementwise('mul', 'v0 * v1', [g, b]),
      ),
      gradIf(b, () => mapElementwise('mul', 'v0 * v1', [g, a])),
    ],
  );
}

export function div(a: Tensor, b: Operand): Tensor {
  return binary(
    'div',
    a,
    b,
    (x, y) => `${x} / ${y}`,
    (g, a, b) => [
      gradIf(a, () =>
        typeof b === 'number'
          ? mapElementwise('div', 'v0 / s0', [g], { scalars: [b] })
          : mapElementwise('div', 'v0 / v1', [g, b]),
      ),
      gradIf(b, () => mapElementwise('div_backward', '-v0 * v1 / (v2 * v2)', [g, a, b as Tensor])),
    ],
  );
}

/**
 * WGSL for x^y with real results for negative x when y is an integer (WGSL's pow is undefined for x < 0) and
 * x^0 = 1 for every x (WGSL's pow(0, 0) is NaN).
 */
function powTensorExpr(x: string, y: string): string {
  const signed = `select(1.0, -1.0, fract(${y} * 0.5) != 0.0) * pow(abs(${x}), ${y})`;
  return `select(select(pow(${x}, ${y}), ${signed}, ${x} < 0.0 && ${y} == round(${y})), 1.0, ${y} == 0.0)`;
}

/** a^b elementwise for tensors (a number b uses `powScalar`). */
export function pow(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') return powScalar(a, b);
  requireFloat('pow', a, b);
  return binary(
    'pow',
    a,
    b,
    (x, y) => powTensorExpr(x, y),
    (g, a, b, out) => [
      gradIf(a, () =>
        mapElementwise('pow_backward', `v0 * v2 * ${powTensorExpr('v1', '(v2 - 1.0)')}`, [g, a, b as Tensor]),
      ),
      // d/db a^b = a^b·log(a); at a = 0 with b ≥ 0 the limit is 0 (PyTorch's rule), not 0·(−inf).
      gradIf(b, () =>
        mapElementwise('pow_backward', 'select(v0 * v1 * log(v2), 0.0, v2 == 0.0 && v3 >= 0.0)', [
          g,
          out,
          a,
          b as Tensor,
        ]),
      ),
    ],
  );
}

/**
 * max/min of two operands. Ties send half the gradient to each side, as PyTorch does; `wins` compares the side
 * that receives the gradient (v1 for a, v2 for b) with the other one.
 */
function extremum2(op: 'maximum' | 'minimum', a: Tensor, b: Operand): Tensor {
  const cmp = op === 'maximum' ? '>' : '<';
  return binary(
    op,
    a,
    b,
    (x, y) => `${op === 'maximum' ? 'max' : 'min'}(${x}, ${y})`,
    (g, a, b) => {
      const sel = (mine: string, other: string) => {
        const expr = `select(select(0.0, v0, ${mine} ${cmp} ${other}), v0 * 0.5, v1 == v2)`;
        return typeof b === 'number'
          ? mapElementwise(`${op}_backward`, expr.replaceAll('v2', 's0'), [g, a], { scalars: [b] })
          : mapElementwise(`${op}_backward`, expr, [g, a, b]);
      };
      return [gradIf(a, () => sel('v1', 'v2')), gradIf(b, () => sel('v2', 'v1'))];
    },
  );
}

export function maximum(a: Tensor, b: Operand): Tensor {
  return extremum2('maximum', a, b);
}

export function minimum(a: Tensor, b: Operand): Tensor {
  return extremum2('minimum', a, b);
}

// ---- comparisons: f32 masks of 0 and 1, no gradient ----

function compare(op: string, a: Tensor, b: Operand, cmp: string): Tensor {
  if (typeof b === 'number') {
    // An i32 tensor against a fractional number compares in f32: truncating the number would make 1 < 1.5 false.
    const lhs = a.dtype === 'i32' && !Number.isInteger(b) ? 'f32(v0)' : 'v0';
    const rhs = a.dtype === 'i32' && !Number.isInteger(b) ? 's0' : scalarRef(a.dtype);
    return mapElementwise(op, `select(0.0, 1.0, ${lhs} ${cmp} ${rhs})`, [a], {
      scalars: [b],
      outDtype: 'f32',
    });
  }
  return mapElementwise(op, `select(0.0, 1.0, v0 ${cmp} v1)`, [a, b], { outDtype: 'f32' });
}

export const lt = (a: Tensor, b: Operand) => compare('lt', a, b, '<');
export const le = (a: Tensor, b: Operand) => compare('le', a, b, '<=');
export const gt = (a: Tensor, b: Operand) => compare('gt', a, b, '>');
export const ge = (a: Tensor, b: Operand) => compare('ge', a, b, '>=');
export const eq = (a: Tensor, b: Operand) => compare('eq', a, b, '==');
export const ne = (a: Tensor, b: Operand) => compare('ne', a, b, '!=');

/** cond ? a : b elementwise (cond: nonzero is true), with broadcasting of all three. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const ta = typeof a === 'number' ? null : a;
  const tb = typeof b === 'number' ? null : b;
  const inputs = [cond, ...(ta ? [ta] : []), ...(tb ? [tb] : [])];
  if (ta && tb && ta.dtype !== tb.dtype)
    throw new ShapeError('where', `dtypes differ: ${ta.describe()} and ${tb.describe()}`);
  const outDtype = ta?.dtype ?? tb?.dtype ?? 'f32';
  // Number branches arrive as f32 bits; an i32 result needs them converted for select() to type-check.
  const num = (slot: string) => (outDtype === 'i32' ? `i32(${slot})` : slot);
  const av = ta ? 'v1' : num('s0');
  const bv = tb ? (ta ? 'v2' : 'v1') : num('s1');
  const scalars = [typeof a === 'number' ? a : 0, typeof b === 'number' ? b : 0];
  const c = cond.dtype === 'f32' ? 'v0 != 0.0' : 'v0 != 0';
  const out = mapElementwise('where', `select(${bv}, ${av}, ${c})`, inputs, {
    scalars,
    outDtype,
  });
  const diffInputs = [ta, tb].filter((t): t is Tensor => t !== null);
  return record(out, 'where', diffInputs, (g) => {
    const pass = (keepWhenTrue: boolean, t: Tensor) =>
      reduceTo(
        mapElementwise(
          'where_backward',
          keepWhenTrue
            ? `select(0.0, v0, ${c.replace('v0', 'v1')})`
            : `select(v0, 0.0, ${c.replace('v0', 'v1')})`,
          [g, cond],
          { outShape: g.shape },
        ),
        t.shape,
      );
    const grads: (Tensor | null)[] = [];
    if (ta) grads.push(ta.requiresGrad ? pass(true, ta) : null);
    if (tb) grads.push(tb.requiresGrad ? pass(false, tb) : null);
    return grads;
  });
}

/** Checks that two tensors have one shape (for ops without broadcasting). */
export function assertSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape))
    throw new ShapeError(op, `shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
}
