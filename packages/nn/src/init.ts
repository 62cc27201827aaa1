/**
 * Parameter initialisation with PyTorch's default rules, drawn on the CPU from a seeded generator so that a
 * run is reproducible: `manualSeed(seed)` resets the process-wide generator; every layer also takes an `rng`.
 * (The values differ from PyTorch's for the same seed: the generators differ; the distributions are the same.)
 */
import { numel, Rng, type Tensor, tensor } from '@mriseg/tensor-wgsl';

let globalRng = new Rng(0);

/** Resets the default generator used by layers created without an explicit `rng`. */
export function manualSeed(seed: number): void {
  globalRng = new Rng(seed);
}

export function defaultRng(): Rng {
  return globalRng;
}

/** PyTorch's fan-in of a weight: shape[1] × the receptive field (for ConvTranspose2d that is out_channels·k²). */
export function fanIn(shape: readonly number[]): number {
  if (shape.length < 2) throw new Error(`fanIn: weight of shape [${shape.join(', ')}] needs ≥ 2 axes`);
  return shape[1] * numel(shape.slice(2));
}

/** U(−bound, bound). */
export function uniform(shape: readonly number[], bound: number, rng: Rng = globalRng): Tensor {
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = (2 * rng.uniform() - 1) * bound;
  return tensor(v, shape);
}

/**
 * Kaiming (He) uniform with leaky-ReLU slope `a`: bound = gain·√(3/fan_in), gain = √(2/(1 + a²)). PyTorch's
 * default for conv weights is a = √5, which gives bound = 1/√fan_in.
 */
export function kaimingUniform(shape: readonly number[], a = Math.sqrt(5), rng: Rng = globalRng): Tensor {
  const gain = Math.sqrt(2 / (1 + a * a));
  return uniform(shape, gain * Math.sqrt(3 / fanIn(shape)), rng);
}

/** PyTorch's default bias: U(±1/√fan_in) with the weight's fan-in. */
export function defaultBias(size: number, weightShape: readonly number[], rng: Rng = globalRng): Tensor {
  const f = fanIn(weightShape);
  return uniform([size], f > 0 ? 1 / Math.sqrt(f) : 0, rng);
}
