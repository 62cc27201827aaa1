import { describe, expect, it } from 'vitest';
import { deriveRng, seedFromString } from '../src/seed.js';

const draws = (rng: { nextUint32(): number }, n = 8) => Array.from({ length: n }, () => rng.nextUint32());

describe('seeds', () => {
  it('seedFromString is a stable unsigned 32-bit value that tells texts apart', () => {
    const seeds = ['', 'a', 'b', 'ab', 'ba', '1/phantom/0', '1/phantom/1'].map(seedFromString);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(seedFromString('sample')).toBe(seedFromString('sample'));
  });

  it('deriveRng: same seed and labels, same sequence; another label or seed, another sequence', () => {
    expect(draws(deriveRng(3, 'augment', 2))).toEqual(draws(deriveRng(3, 'augment', 2)));
    expect(draws(deriveRng(3, 'augment', 2))).toEqual(draws(deriveRng('3', 'augment', '2')));
    expect(draws(deriveRng(3, 'augment', 2))).not.toEqual(draws(deriveRng(3, 'augment', 3)));
    expect(draws(deriveRng(3, 'augment', 2))).not.toEqual(draws(deriveRng(3, 'sample', 2)));
    expect(draws(deriveRng(3, 'augment', 2))).not.toEqual(draws(deriveRng(4, 'augment', 2)));
  });
});
