import type { Tensor } from '@mriseg/tensor-wgsl';
import { Module } from '../module.js';

/** Runs its modules in order; they are registered as '0', '1', … (PyTorch's keys). */
export class Sequential extends Module {
  private readonly list: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: Module): this {
    this.registerModule(String(this.list.length), m);
    this.list.push(m);
    return this;
  }

  get length(): number {
    return this.list.length;
  }

  at(i: number): Module {
    const m = this.list[i < 0 ? i + this.list.length : i];
    if (!m) throw new Error(`Sequential.at(${i}): ${this.list.length} modules`);
    return m;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.list) y = m.forward(y);
    return y;
  }
}
