/** Shape arithmetic shared by the ops. Errors name the op and the shapes. */

export type Shape = readonly number[];

export class ShapeError extends Error {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'ShapeError';
  }
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `invalid shape ${fmt(shape)}`);
  }
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of several shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else throw new ShapeError(op, `shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast together`);
    }
  }
  return out;
}

/** Strides that read `shape` as if it were broadcast to `outShape` (0 on broadcast dimensions). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, i) => {
    const j = i - off;
    return j < 0 || shape[j] === 1 ? 0 : st[j];
  });
}

/** Normalises axes (negative allowed) and checks them. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (!Number.isInteger(n) || n < 0 || n >= rank)
      throw new ShapeError(op, `axis ${a} is out of range for rank ${rank}`);
    return n;
  });
  if (new Set(out).size !== out.length) throw new ShapeError(op, `repeated axis in ${JSON.stringify(list)}`);
  return out.sort((a, b) => a - b);
}
