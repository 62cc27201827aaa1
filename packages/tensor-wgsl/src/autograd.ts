/**
 * Reverse-mode automatic differentiation. Each op that sees an input with `requiresGrad` records a GradNode on
 * its output; `backward()` walks the nodes in reverse topological order and calls each op's backward rule (which
 * lives next to the op's forward). Backward runs without recording, so gradients have no graph of their own.
 */

import { ones } from './ops/creation.js';
import { add } from './ops/elementwise.js';
import { keep } from './scope.js';
import { fmt, sameShape } from './shape.js';
import type { Tensor } from './tensor.js';

export interface GradNode {
  /** The op's name, for errors. */
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients of the inputs (null where none is needed) given the output's gradient. */
  backward(gradOutput: Tensor): (Tensor | null)[];
  /** Set once backward has consumed the node (the graph is single-use, as in PyTorch by default). */
  released?: boolean;
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording autograd nodes (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/** Attaches a node to an op's output when any input needs a gradient. Returns the output. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: (gradOutput: Tensor) => (Tensor | null)[],
): Tensor {
  if (needsGrad(...inputs)) {
    out.requiresGrad = true;
    out.gradFn = { op, inputs, backward };
  }
  return out;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: U-Net graphs are deep enough to make recursion risky.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    if (t.gradFn) for (const i of t.gradFn.inputs) if (i.requiresGrad && !seen.has(i)) stack.push([i, false]);
  }
  return order.reverse();
}

export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error(`backward(): ${root.describe()} does not require grad`);
  if (!grad && root.size !== 1) {
    throw new Error(`backward(): ${root.describe()} is not a scalar; pass the upstream gradient`);
  }
  if (grad && !sameShape(grad.shape, root.shape)) {
    throw new Error(`backward(): gradient ${fmt(grad.shape)} does not match ${root.describe()}`);
  }
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    const owned = new Set<Tensor>();
    const seed = grad ?? ones(root.shape);
    if (!grad) owned.add(seed);
    grads.set(root, seed);
    try {
      backwardPass(root, grads, owned);
    } catch (e) {
      // A failed pass (e.g. through a released graph) must not leak the gradients it still holds.
      for (const g of grads.values()) if (owned.has(g)) g.dispose();
      throw e;
    }
  });
}

function backwardPass(root: Tensor, grads: Map<Tensor, Tensor>, owned: Set<Tensor>): void {
  for (const t of topoOrder(root)) {
    const g = grads.get(t);
    if (!g) continue;
    if (!t.gradFn) {
      accumulateLeaf(t, g, owned.has(g));
      grads.delete(t);
      continue;
    }
    const node = t.gradFn;
    if (node.released) {
      throw new Error(`backward(): the graph through ${node.op} was already used by an earlier backward()`);
    }
    // Rules may hand back the upstream gradient itself or one tensor for two inputs; views make every
    // returned gradient a separate reference that this loop owns.
    const given = new Set<Tensor>();
    const inputGrads = node.backward(g).map((gi) => {
      if (!gi) return null;
      const own = gi === g || given.has(gi) ? gi.view(gi.shape) : gi;
      given.add(gi);
      return own;
    });
    node.released = true;
    grads.delete(t);
    if (owned.has(g)) g.dispose();
    node.inputs.forEach((input, i) => {
      const gi = inputGrads[i];
      if (!gi) return;
      if (!input.requiresGrad) {
        gi.dispose();
        return;
      }
      if (!sameShape(gi.shape, input.shape)) {
        throw new Error(`backward of ${node.op}: gradient ${fmt(gi.shape)} for input ${input.describe()}`);
      }
      const prev = grads.get(input);
      if (prev) {
        grads.set(input, add(prev, gi));
        prev.dispose();
        gi.dispose();
      } else {
        grads.set(input, gi);
      }
      owned.add(grads.get(input)!);
    });
  }
}

function accumulateLeaf(leaf: Tensor, g: Tensor, owned: boolean): void {
  if (leaf.grad) {
    const sum = add(leaf.grad, g);
    leaf.grad.dispose();
    leaf.grad = keep(sum);
    if (owned) g.dispose();
  } else {
    // The leaf owns its gradient: it must outlive the scope backward ran in.
    leaf.grad = keep(owned ? g : g.detach());
  }
}
