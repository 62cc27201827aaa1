import type { Tensor } from '@mriseg/tensor-wgsl';
import type { FlatState } from './flat.js';
import { type AdamFlatScalars, adamFlat, type FlatParam } from './foreach.js';
import { adamUpdate } from './kernels.js';
import { Optimizer, type ParamState, type ParamsInput } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

function checkAdam(name: string, o: AdamOptions): void {
  const [b1, b2] = o.betas;
  if (!(o.lr >= 0)) throw new Error(`${name}: invalid lr ${o.lr}`);
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1))
    throw new Error(`${name}: invalid betas ${JSON.stringify(o.betas)}`);
  if (!(o.eps >= 0)) throw new Error(`${name}: invalid eps ${o.eps}`);
  if (!(o.weightDecay >= 0)) throw new Error(`${name}: invalid weightDecay ${o.weightDecay}`);
}

/**
 * torch.optim.Adam: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps);
 * weight decay adds wd·p to the gradient (L2). State: `exp_avg`, `exp_avg_sq` (+ `max_exp_avg_sq`).
 */
export class Adam extends Optimizer<AdamOptions> {
  protected readonly decoupled: boolean = false;

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: false,
      maximize: false,
      ...options,
    });
  }

  protected validate(o: AdamOptions): void {
    checkAdam(this.constructor.name, o);
  }

  protected stateNames(o: AdamOptions): string[] {
    return o.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  /** The kernels' scalars for a group's options (the per-tensor kernel adds the step count). */
  private scalars(o: AdamOptions): AdamFlatScalars {
    return {
      lr: o.lr,
      beta1: o.betas[0],
      beta2: o.betas[1],
      eps: o.eps,
      weightDecay: o.weightDecay,
      decoupled: this.decoupled,
      amsgrad: o.amsgrad,
      maximize: o.maximize,
    };
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, o: AdamOptions): void {
    adamUpdate(
      p,
      grad,
      st.tensors.get('exp_avg')!,
      st.tensors.get('exp_avg_sq')!,
      st.tensors.get('max_exp_avg_sq') ?? null,
      () => ({ ...this.scalars(o), step: st.step }),
    );
  }

  protected updateFlat(items: FlatParam[], flat: FlatState, o: AdamOptions): void {
    adamFlat(items, flat, () => this.scalars(o), this.maxTensorsPerDispatch);
  }
}
