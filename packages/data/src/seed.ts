import { Rng } from '@mriseg/tensor-wgsl';

/**
 * A 32-bit seed from a string (FNV-1a), for seeding the core's `Rng` (which takes a number) from labels. Same text,
 * same seed, on every platform.
 */
export function seedFromString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A new generator derived from a seed and labels, independent of how far any other generator has run. */
export function deriveRng(seed: number | string, ...labels: (number | string)[]): Rng {
  return new Rng(seedFromString(`${seed}/${labels.join('/')}`));
}
