import type { Tensor } from '@mriseg/tensor-wgsl';
import type { FlatState } from './flat.js';
import { type FlatParam, type SgdFlatScalars, sgdFlat } from './foreach.js';
import { sgdUpdate } from './kernels.js';
import { Optimizer, type ParamState, type ParamsInput } from './optimizer.js';

/** lr, momentum, dampening, weightDecay, nesterov, maximize: the kernels' scalars (one set per group). */
export type SgdOptions = SgdFlatScalars;

/**
 * torch.optim.SGD: d = g + wd·p; with momentum b ← μ·b + (1 − dampening)·d (b = d on the first step), then
 * d = d + μ·b (Nesterov) or d = b; p ← p − lr·d. State: `momentum_buffer`.
 */
export class SGD extends Optimizer<SgdOptions> {
  constructor(params: ParamsInput<SgdOptions>, options: Partial<SgdOptions> & { lr: number }) {
    super(params, {
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      maximize: false,
      ...options,
    });
  }

  protected validate(o: SgdOptions): void {
    if (!(o.lr >= 0)) throw new Error(`SGD: invalid lr ${o.lr}`);
    if (!(o.momentum >= 0)) throw new Error(`SGD: invalid momentum ${o.momentum}`);
    if (!(o.weightDecay >= 0)) throw new Error(`SGD: invalid weightDecay ${o.weightDecay}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0))
      throw new Error('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
  }

  protected stateNames(o: SgdOptions): string[] {
    return o.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, o: SgdOptions): void {
    sgdUpdate(p, grad, st.tensors.get('momentum_buffer') ?? null, () => ({ ...o, firstStep: st.step === 1 }));
  }

  protected updateFlat(items: FlatParam[], flat: FlatState, o: SgdOptions): void {
    sgdFlat(items, flat, () => o, this.maxTensorsPerDispatch);
  }
}
