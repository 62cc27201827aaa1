import { describe, expect, it } from 'vitest';
import { DEFAULT_CRF, denseCrf, PermutohedralLattice } from '../src/index.js';
import { type BruteCrfParams, bruteDenseCrf, bruteNormalisedGaussian } from './crf-reference.js';
import { rng } from './util.js';

/** A disk brighter than its surroundings in every channel, and a noisy probability map shifted off it. */
function scene(D: number, H: number, W: number, C: number, seed: number) {
  const r = rng(seed);
  const image = new Float64Array(D * C * H * W);
  const prob = new Float32Array(D * H * W);
  const truth = new Uint8Array(D * H * W);
  for (let z = 0; z < D; z++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = (z * H + y) * W + x;
        const inside = (x - W * 0.45) ** 2 + (y - H * 0.5) ** 2 < (H * 0.3) ** 2;
        truth[i] = inside ? 1 : 0;
        for (let c = 0; c < C; c++)
          image[((z * C + c) * H + y) * W + x] = (inside ? 1 + 0.5 * c : 0) + 0.2 * (r() - 0.5);
        const edge = Math.hypot(x - W * 0.55, y - H * 0.5) - H * 0.3;
        prob[i] = Math.min(1, Math.max(0, 1 / (1 + Math.exp(edge / 2)) + 0.5 * (r() - 0.5)));
      }
  return { image, prob, truth };
}

const optionsOf = (p: BruteCrfParams, volumetric: boolean) => ({
  appearanceWeight: p.wa,
  appearanceSpatial: p.sa,
  appearanceIntensity: p.sb,
  smoothnessWeight: p.ws,
  smoothnessSpatial: p.sg,
  iterations: p.iterations,
  volumetric,
  sliceSpacing: p.sz,
});

const dice = (a: ArrayLike<number>, b: Uint8Array) => {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i] > 0.5 ? 1 : 0;
    inter += x & b[i];
    sa += x;
    sb += b[i];
  }
  return (2 * inter) / (sa + sb);
};

describe('PermutohedralLattice', () => {
  it('normalised filtering approximates the exact Gaussian in 2 to 5 dimensions', () => {
    const r = rng(7);
    // Error grows as points thin out in feature space (the lattice's weakness): spans where points have neighbours.
    for (const [d, span] of [
      [2, 4],
      [3, 4],
      [5, 2],
    ]) {
      const n = 300;
      const features = Array.from({ length: n }, () => Array.from({ length: d }, () => span * r()));
      const values = Array.from({ length: n }, () => r());
      const lattice = PermutohedralLattice.build(Float64Array.from(features.flat()), n, d);
      const num = lattice.filter(Float64Array.from(values));
      const den = lattice.filter(new Float64Array(n).fill(1));
      const want = bruteNormalisedGaussian(features, values);
      let max = 0;
      let mean = 0;
      want.forEach((w, i) => {
        const e = Math.abs(num[i] / den[i] - w);
        max = Math.max(max, e);
        mean += e / n;
      });
      // Measured: mean ≤ 0.004, max ≤ 0.016 (the lattice's kernel is close to, not exactly, a Gaussian).
      expect(mean, `d ${d}`).toBeLessThan(0.01);
      expect(max, `d ${d}`).toBeLessThan(0.04);
      expect(lattice.vertices).toBeGreaterThan(1);
    }
  });

  it('filters several channels as it filters each alone', () => {
    const r = rng(3);
    const n = 120;
    const f = Float64Array.from({ length: n * 3 }, () => 3 * r());
    const lattice = PermutohedralLattice.build(f, n, 3);
    const a = Float64Array.from({ length: n }, () => r());
    const b = Float64Array.from({ length: n }, () => r());
    const both = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) [both[2 * i], both[2 * i + 1]] = [a[i], b[i]];
    const fb = lattice.filter(both, 2);
    const fa = lattice.filter(a);
    const fbb = lattice.filter(b);
    for (let i = 0; i < n; i++) {
      expect(fb[2 * i]).toBeCloseTo(fa[i], 5);
      expect(fb[2 * i + 1]).toBeCloseTo(fbb[i], 5);
    }
  });

  it('rejects inconsistent sizes', () => {
    expect(() => PermutohedralLattice.build(new Float64Array(5), 2, 3)).toThrow(
      /5 feature values for 2 points/,
    );
    const l = PermutohedralLattice.build(new Float64Array(6), 2, 3);
    expect(() => l.filter(new Float64Array(3))).toThrow(/3 values for 2 points of 1/);
  });
});

describe('denseCrf against the brute-force mean field', () => {
  const cases: [string, [number, number, number, number], boolean, BruteCrfParams][] = [
    [
      'per slice, both kernels',
      [1, 20, 20, 2],
      false,
      { wa: 5, sa: 4, sb: 0.5, ws: 3, sg: 1, iterations: 5, sz: 1 },
    ],
    [
      'per slice, one iteration',
      [1, 18, 16, 3],
      false,
      { wa: 8, sa: 3, sb: 0.4, ws: 2, sg: 1.5, iterations: 1, sz: 1 },
    ],
    [
      'two slices, appearance only',
      [2, 16, 18, 1],
      false,
      { wa: 10, sa: 8, sb: 0.3, ws: 0, sg: 1, iterations: 10, sz: 1 },
    ],
    ['volumetric', [3, 12, 12, 2], true, { wa: 5, sa: 3, sb: 0.5, ws: 3, sg: 1.5, iterations: 5, sz: 2 }],
  ];
  for (const [name, [D, C, H, W], volumetric, p] of cases.map(
    ([n, [d, h, w, c], v, p]) => [n, [d, c, h, w], v, p] as const,
  )) {
    it(name, () => {
      for (const seed of [1, 2]) {
        const s = scene(D, H, W, C, seed);
        const got = denseCrf(
          { data: s.prob, shape: [D, H, W] },
          { data: s.image, shape: [D, C, H, W] },
          optionsOf(p, volumetric),
        );
        const want = bruteDenseCrf(s.prob, s.image, [D, C, H, W], p, volumetric);
        let mean = 0;
        let flips = 0;
        let changed = 0;
        for (let i = 0; i < want.length; i++) {
          mean += Math.abs(got.data[i] - want[i]) / want.length;
          if (got.data[i] > 0.5 !== want[i] > 0.5) flips++;
          if (want[i] > 0.5 !== s.prob[i] > 0.5) changed++;
        }
        // Measured: mean |ΔQ| ≤ 0.009 and at most 3 of 288 labels apart after one iteration at θ_α = 3 px (the
        // lattice approximates the appearance kernel); ≤ 4e-5 and none apart once converged.
        expect(mean, `seed ${seed}`).toBeLessThan(0.015);
        expect(flips, `seed ${seed}`).toBeLessThanOrEqual(Math.ceil(0.015 * want.length));
        // The CRF did change the labelling, so agreeing is not trivial.
        expect(changed).toBeGreaterThan(10);
      }
    });
  }

  /** Largest |ΔQ| between denseCrf and the brute force on one 2-D scene. */
  const maxDifference = (size: number, channels: number, seed: number, p: BruteCrfParams) => {
    const s = scene(1, size, size, channels, seed);
    const got = denseCrf(
      { data: s.prob, shape: [size, size] },
      { data: s.image, shape: [channels, size, size] },
      optionsOf(p, false),
    );
    const want = bruteDenseCrf(s.prob, s.image, [1, channels, size, size], p, false);
    return want.reduce((m, w, i) => Math.max(m, Math.abs(got.data[i] - w)), 0);
  };

  it('close pixel by pixel at a realistic kernel width', () => {
    // Measured: 0.034 (3 iterations, 576 pixels).
    expect(
      maxDifference(24, 3, 8, { wa: 5, sa: 8, sb: 0.5, ws: 3, sg: 1, iterations: 3, sz: 1 }),
    ).toBeLessThan(0.06);
  });

  it('smoothness alone is exact (separable Gaussian, cut at 4σ)', () => {
    expect(
      maxDifference(20, 1, 5, { wa: 0, sa: 4, sb: 0.5, ws: 3, sg: 1.5, iterations: 4, sz: 1 }),
    ).toBeLessThan(1e-4);
  });
});

describe('denseCrf', () => {
  it('moves a shifted, noisy prediction onto the image boundary', () => {
    const s = scene(2, 32, 32, 3, 11);
    const before = dice(s.prob, s.truth);
    const q = denseCrf(
      { data: s.prob, shape: [2, 32, 32] },
      { data: s.image, shape: [2, 3, 32, 32] },
      { appearanceSpatial: 6, appearanceIntensity: 0.5, appearanceWeight: 6, iterations: 8 },
    );
    expect(dice(q.data, s.truth)).toBeGreaterThan(before + 0.05);
    expect(q.shape).toEqual([2, 32, 32]);
    for (const v of q.data) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('zero iterations return the probabilities (kept off 0 and 1); the inputs are not modified', () => {
    const s = scene(1, 8, 8, 1, 2);
    s.prob[0] = 0;
    s.prob[1] = 1;
    const copy = s.prob.slice();
    const img = s.image.slice();
    const q = denseCrf(
      { data: s.prob, shape: [8, 8] },
      { data: s.image, shape: [1, 8, 8] },
      { iterations: 0 },
    );
    expect(q.data[0]).toBeCloseTo(1e-5, 9);
    expect(q.data[1]).toBeCloseTo(1 - 1e-5, 6);
    for (let i = 2; i < 64; i++)
      expect(q.data[i]).toBeCloseTo(Math.min(1 - 1e-5, Math.max(1e-5, s.prob[i])), 6);
    denseCrf({ data: s.prob, shape: [8, 8] }, { data: s.image, shape: [1, 8, 8] });
    expect(s.prob).toEqual(copy);
    expect(s.image).toEqual(img);
  });

  it('uses only the chosen channels', () => {
    const s = scene(1, 16, 16, 2, 4);
    // Channel 1 replaced by noise: with channels [0] the result must not change.
    const noisy = s.image.slice();
    const r = rng(9);
    for (let i = 256; i < 512; i++) noisy[i] = 5 * r();
    const run = (img: Float64Array) =>
      denseCrf(
        { data: s.prob, shape: [16, 16] },
        { data: img, shape: [2, 16, 16] },
        { channels: [0], appearanceSpatial: 4 },
      );
    expect(run(noisy).data).toEqual(run(s.image).data);
    const all = (img: Float64Array) =>
      denseCrf(
        { data: s.prob, shape: [16, 16] },
        { data: img, shape: [2, 16, 16] },
        { appearanceSpatial: 4 },
      );
    expect(all(noisy).data).not.toEqual(all(s.image).data);
  });

  it('clear errors for bad shapes and options', () => {
    const prob = { data: new Float32Array(2 * 4 * 5), shape: [2, 4, 5] as const };
    expect(() => denseCrf(prob, { data: new Float32Array(40), shape: [2, 1, 5, 4] })).toThrow(
      'denseCrf: image [2,1,5,4] does not fit probabilities [2,4,5] (expected [2,C,4,5])',
    );
    expect(() => denseCrf(prob, { data: new Float32Array(40), shape: [1, 4, 5] })).toThrow(
      /expected \[2,C,4,5\]/,
    );
    const img = { data: new Float32Array(40), shape: [2, 1, 4, 5] as const };
    expect(() => denseCrf(prob, img, { channels: [1] })).toThrow(
      'denseCrf: channel 1 asked for, the image has 1 (0..0)',
    );
    expect(() => denseCrf(prob, img, { appearanceSpatial: 0 })).toThrow(
      /appearanceSpatial must be a positive number, got 0/,
    );
    expect(() => denseCrf(prob, img, { iterations: 1.5 })).toThrow(/iterations must be an integer >= 0/);
    expect(() => denseCrf(prob, img, { smoothnessWeight: -1 })).toThrow(
      /smoothnessWeight must be a number >= 0/,
    );
    expect(DEFAULT_CRF.iterations).toBeGreaterThan(0);
  });
});
