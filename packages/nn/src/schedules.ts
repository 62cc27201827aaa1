/**
 * Learning-rate schedules. Each sets the lr of every parameter group of an optimizer from the group's initial
 * lr and a step counter (`lastEpoch`, advanced by `step()`; call it once per epoch or per iteration, as the
 * schedule's lengths are meant). Closed forms, so a schedule restored from its state dict continues exactly.
 */
import type { Optimizer } from './optim/optimizer.js';

export interface SchedulerState {
  type: string;
  lastEpoch: number;
  baseLrs: number[];
  extra?: Record<string, unknown>;
}

type AnyOptimizer = Optimizer<{ lr: number }>;

export abstract class LRScheduler {
  lastEpoch = 0;
  readonly baseLrs: number[];

  constructor(readonly optimizer: AnyOptimizer) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.options.lr);
  }

  /** The lr of a group with initial lr `base` after `epoch` steps. */
  abstract lrAt(epoch: number, base: number): number;

  /** Sets the groups' lr for the current `lastEpoch` (call after constructing the last argument checks). */
  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.options.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]);
    });
  }

  step(): void {
    this.lastEpoch++;
    this.apply();
  }

  get lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.options.lr);
  }

  stateDict(): SchedulerState {
    return { type: this.constructor.name, lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(s: SchedulerState): void {
    if (s.type !== this.constructor.name)
      throw new Error(`${this.constructor.name}.loadStateDict: state is for ${s.type}`);
    if (s.baseLrs.length !== this.baseLrs.length)
      throw new Error(
        `${this.constructor.name}.loadStateDict: ${s.baseLrs.length} groups, ${this.baseLrs.length} here`,
      );
    this.lastEpoch = s.lastEpoch;
    this.baseLrs.splice(0, this.baseLrs.length, ...s.baseLrs);
    this.apply();
  }
}

/** lr = base · γ^⌊epoch / stepSize⌋ (StepLR). */
export class StepLR extends LRScheduler {
  constructor(
    optimizer: AnyOptimizer,
    readonly stepSize: number,
    readonly gamma = 0.1,
  ) {
    super(optimizer);
    if (!(Number.isInteger(stepSize) && stepSize > 0))
      throw new Error(`StepLR: stepSize ${stepSize} must be a positive integer`);
    this.apply();
  }

  lrAt(epoch: number, base: number): number {
    return base * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = base · γ^(number of milestones ≤ epoch) (MultiStepLR). */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];

  constructor(
    optimizer: AnyOptimizer,
    milestones: number[],
    readonly gamma = 0.1,
  ) {
    super(optimizer);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.apply();
  }

  lrAt(epoch: number, base: number): number {
    return base * this.gamma ** this.milestones.filter((m) => m <= epoch).length;
  }
}

/** lr = base · γ^epoch (ExponentialLR). */
export class ExponentialLR extends LRScheduler {
  constructor(
    optimizer: AnyOptimizer,
    readonly gamma: number,
  ) {
    super(optimizer);
    this.apply();
  }

  lrAt(epoch: number, base: number): number {
    return base * this.gamma ** epoch;
  }
}

export interface CosineWarmupOptions {
  /** Steps of linear warm-up from warmupStartFactor·base to base. */
  warmupSteps: number;
  /** Total steps; the cosine runs from warmupSteps to here, then the lr stays at minLr. */
  totalSteps: number;
  minLr?: number;
  warmupStartFactor?: number;
}

/** Linear warm-up, then cosine annealing to minLr. */
export class CosineWarmupLR extends LRScheduler {
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly minLr: number;
  readonly warmupStartFactor: number;

  constructor(optimizer: AnyOptimizer, options: CosineWarmupOptions) {
    super(optimizer);
    this.warmupSteps = options.warmupSteps;
    this.totalSteps = options.totalSteps;
    this.minLr = options.minLr ?? 0;
    this.warmupStartFactor = options.warmupStartFactor ?? 0;
    if (!(this.warmupSteps >= 0 && this.totalSteps > this.warmupSteps))
      throw new Error(
        `CosineWarmupLR: need 0 ≤ warmupSteps < totalSteps, got ${this.warmupSteps}, ${this.totalSteps}`,
      );
    this.apply();
  }

  lrAt(epoch: number, base: number): number {
    if (epoch < this.warmupSteps) {
      const f = this.warmupStartFactor + ((1 - this.warmupStartFactor) * epoch) / this.warmupSteps;
      return base * f;
    }
    const t = Math.min(1, (epoch - this.warmupSteps) / (this.totalSteps - this.warmupSteps));
    return this.minLr + ((base - this.minLr) * (1 + Math.cos(Math.PI * t))) / 2;
  }
}

/** nnU-Net's polynomial decay: lr = base · (1 − epoch / totalSteps)^exponent (0.9), 0 from totalSteps on. */
export class PolyLR extends LRScheduler {
  constructor(
    optimizer: AnyOptimizer,
    readonly totalSteps: number,
    readonly exponent = 0.9,
  ) {
    super(optimizer);
    if (!(totalSteps > 0)) throw new Error(`PolyLR: totalSteps ${totalSteps} must be > 0`);
    this.apply();
  }

  lrAt(epoch: number, base: number): number {
    return base * Math.max(0, 1 - epoch / this.totalSteps) ** this.exponent;
  }
}

export interface ReduceOnPlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  /** Reductions smaller than this are skipped. */
  eps?: number;
}

/** torch.optim.lr_scheduler.ReduceLROnPlateau: lr × factor after `patience` epochs without improvement. */
export class ReduceLROnPlateau {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(
    readonly optimizer: AnyOptimizer,
    options: ReduceOnPlateauOptions = {},
  ) {
    this.mode = options.mode ?? 'min';
    this.factor = options.factor ?? 0.1;
    if (!(this.factor < 1 && this.factor >= 0))
      throw new Error(`ReduceLROnPlateau: factor ${this.factor} must be < 1`);
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.cooldown = options.cooldown ?? 0;
    const n = optimizer.paramGroups.length;
    const m = options.minLr ?? 0;
    this.minLrs = typeof m === 'number' ? new Array<number>(n).fill(m) : [...m];
    if (this.minLrs.length !== n)
      throw new Error(`ReduceLROnPlateau: ${this.minLrs.length} minLr values for ${n} groups`);
    this.eps = options.eps ?? 1e-8;
    this.best = this.mode === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  private isBetter(a: number, best: number): boolean {
    if (this.mode === 'min')
      return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (1 + this.threshold) : a > best + this.threshold;
  }

  /** Reports the epoch's metric; reduces the lr when it has not improved for more than `patience` epochs. */
  step(metric: number): void {
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const old = g.options.lr;
        const next = Math.max(old * this.factor, this.minLrs[i]);
        if (old - next > this.eps) g.options.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
  }

  get lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.options.lr);
  }

  stateDict(): SchedulerState {
    return {
      type: 'ReduceLROnPlateau',
      lastEpoch: this.lastEpoch,
      baseLrs: this.lastLr,
      // A string, since JSON has no Infinity (the initial best).
      extra: {
        best: String(this.best),
        numBadEpochs: this.numBadEpochs,
        cooldownCounter: this.cooldownCounter,
      },
    };
  }

  loadStateDict(s: SchedulerState): void {
    if (s.type !== 'ReduceLROnPlateau')
      throw new Error(`ReduceLROnPlateau.loadStateDict: state is for ${s.type}`);
    this.lastEpoch = s.lastEpoch;
    const e = s.extra ?? {};
    this.best = Number(e.best ?? this.best);
    this.numBadEpochs = Number(e.numBadEpochs ?? 0);
    this.cooldownCounter = Number(e.cooldownCounter ?? 0);
    this.optimizer.paramGroups.forEach((g, i) => {
      if (s.baseLrs[i] !== undefined) g.options.lr = s.baseLrs[i];
    });
  }
}

export type Scheduler = LRScheduler | ReduceLROnPlateau;
