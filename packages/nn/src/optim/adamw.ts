import { Adam, type AdamOptions } from './adam.js';
import type { ParamsInput } from './optimizer.js';

/** torch.optim.AdamW: Adam with decoupled weight decay, p ← p·(1 − lr·wd) before the Adam step; wd 0.01 by default. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...options });
  }
}
