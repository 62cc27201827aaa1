/**
 * A parameter group's optimizer state packed into one flat buffer per state name, plus a flat buffer the
 * gradients are copied into, so that a multi-tensor kernel binds a group's whole state with a few bindings
 * (see foreach.ts for why). Parameters keep their own buffers.
 */
import { keep, runtime, type Tensor, zeros } from '@mriseg/tensor-wgsl';

/**
 * Regions start at multiples of this many elements: a kernel's workgroups of this size then never straddle
 * two parameters.
 */
export const FLAT_ALIGN = 256;

export class FlatState {
  /** Element offset of each parameter's region (in every flat buffer). */
  readonly offsets = new Map<Tensor, number>();
  /** Flat state by PyTorch name, e.g. `exp_avg`. */
  readonly buffers = new Map<string, Tensor>();
  /** Where `step()` copies the gradients of the parameters it updates. */
  readonly grads: Tensor;

  constructor(
    readonly params: readonly Tensor[],
    readonly names: readonly string[],
  ) {
    let total = 0;
    for (const p of params) {
      this.offsets.set(p, total);
      total += Math.ceil(p.size / FLAT_ALIGN) * FLAT_ALIGN;
    }
    const n = Math.max(total, 1);
    this.grads = keep(zeros([n]));
    for (const name of names) this.buffers.set(name, keep(zeros([n])));
  }

  /** Copies `src` (a parameter-shaped tensor) into parameter `p`'s region of `dst`. */
  copyIn(p: Tensor, src: Tensor, dst: Tensor): void {
    if (p.size > 0) runtime().copyBuffer(src.buffer, 0, dst.buffer, this.offsets.get(p)! * 4, p.size * 4);
  }

  /** Copies parameter `p`'s region of `src` into `dst` (a parameter-shaped tensor). */
  copyOut(p: Tensor, src: Tensor, dst: Tensor): void {
    if (p.size > 0) runtime().copyBuffer(src.buffer, this.offsets.get(p)! * 4, dst.buffer, 0, p.size * 4);
  }

  dispose(): void {
    this.grads.dispose();
    for (const t of this.buffers.values()) t.dispose();
    this.buffers.clear();
  }
}
