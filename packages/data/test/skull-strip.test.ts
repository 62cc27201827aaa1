import { Rng } from '@mriseg/tensor-wgsl';
import { describe, expect, it } from 'vitest';
import { scanDataset } from '../src/layout.js';
import { preprocess } from '../src/preprocess.js';
import type { RawPatient } from '../src/reader.js';
import { readPatient } from '../src/reader.js';
import { brainMask, combineChannels, convexHullPerSlice } from '../src/skull-strip.js';
import { requireShared, SAMPLE } from './paths.js';

/**
 * Axial slices of a synthetic head, 128 px: bright scalp ring, dark skull ring, grey brain with dark sulci, and a
 * bright tumour pressed against the skull on the right; in the middle slices a 4-px bridge of tissue crosses the
 * skull at the top.
 */
function head(D = 7, S = 128) {
  const rng = new Rng(1);
  const r = () => rng.uniform();
  const image = new Float64Array(D * S * S);
  const brain = new Uint8Array(D * S * S);
  const tumour = new Uint8Array(D * S * S);
  const scalp = new Uint8Array(D * S * S);
  for (let z = 0; z < D; z++) {
    const shrink = 1 - (0.25 * Math.abs(z - (D - 1) / 2)) / ((D - 1) / 2);
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const i = (z * S + y) * S + x;
        const rad = Math.hypot((x - S / 2) / shrink, ((y - S / 2) * 1.1) / shrink);
        let v = 0;
        if (rad < 44) {
          brain[i] = 1;
          v = 0.45 + (Math.sin(Math.atan2(y - S / 2, x - S / 2) * 12) > 0.95 && rad > 36 ? -0.35 : 0);
          if (Math.hypot(x - (S / 2 + 34 * shrink), y - S / 2) < 10) {
            tumour[i] = 1;
            v = 0.85;
          }
        } else if (rad < 49) v = 0.03;
        else if (rad < 57) {
          v = 0.8;
          scalp[i] = 1;
        }
        const bridge = z >= 2 && z <= 4 && Math.abs(x - S / 2) < 2 && y < S / 2 && rad >= 44 && rad < 49;
        if (bridge) v = 0.5;
        image[i] = v > 0 ? v * (1 + 0.05 * (r() - 0.5)) : 0;
      }
  }
  return { image, brain, tumour, scalp, shape: [D, S, S] as [number, number, number] };
}

describe('brainMask', () => {
  it('keeps the whole brain and the tumour at its edge, and drops most of the scalp', () => {
    const h = head();
    const m = brainMask(h.image, h.shape);
    let brainOut = 0;
    let tumourOut = 0;
    let scalpIn = 0;
    let scalp = 0;
    for (let i = 0; i < m.length; i++) {
      if (h.brain[i] && !m[i]) brainOut++;
      if (h.tumour[i] && !m[i]) tumourOut++;
      if (h.scalp[i]) {
        scalp++;
        if (m[i]) scalpIn++;
      }
    }
    expect(tumourOut).toBe(0);
    expect(brainOut).toBe(0);
    expect(scalpIn / scalp).toBeLessThan(0.1);
  });

  it('scales its lengths with the slice size', () => {
    const big = head(5, 128);
    const small = head(5, 64);
    const fracIn = (h: ReturnType<typeof head>) => {
      const m = brainMask(h.image, h.shape);
      let a = 0;
      let b = 0;
      for (let i = 0; i < m.length; i++) {
        a += m[i];
        b += h.brain[i];
      }
      return a / b;
    };
    expect(Math.abs(fracIn(big) - fracIn(small))).toBeLessThan(0.1);
  });

  it('an empty volume gives an empty mask; bad options are named', () => {
    expect(brainMask(new Float64Array(2 * 8 * 8), [2, 8, 8]).every((v) => v === 0)).toBe(true);
    expect(() => brainMask(new Float64Array(3), [2, 8, 8])).toThrow(/3 values for shape \[2,8,8\]/);
    expect(() => brainMask(new Float64Array(128), [2, 8, 8], { threshold: 0 })).toThrow(
      /threshold must be in/,
    );
    expect(() => brainMask(new Float64Array(128), [2, 8, 8], { margin: -1 })).toThrow(
      /margin must be a number/,
    );
  });
});

/**
 * Modelled on TCGA_DU_7306 (a tumour in the temporal lobe at the skull base): in the two lowest slices the brain is
 * a central piece (cerebellum) and two lateral lobes cut off from it by dark tissue, too shallow to be seeds (with
 * `depth` 40, seeds must reach 40 px into the head); one slice up, the whole brain covers the lobes. Returns the
 * head and the left lobe's tumour.
 */
function skullBase(D = 6, S = 128) {
  const image = new Float64Array(D * S * S);
  const tumour = new Uint8Array(D * S * S);
  const scalp = new Uint8Array(D * S * S);
  for (let z = 0; z < D; z++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const i = (z * S + y) * S + x;
        const rad = Math.hypot(x - S / 2, y - S / 2);
        const lobe = Math.min(Math.hypot(x - S / 2 + 30, y - S / 2), Math.hypot(x - S / 2 - 30, y - S / 2));
        let v = 0;
        if (rad < 44) {
          if (z >= 2 || rad < 15 || lobe < 9) v = 0.45;
          if (z < 2 && Math.hypot(x - S / 2 + 32, y - S / 2) < 5) {
            v = 0.8;
            tumour[i] = 1;
          }
        } else if (rad >= 49 && rad < 57) {
          v = 0.8;
          scalp[i] = 1;
        }
        image[i] = v;
      }
  return { image, tumour, scalp, shape: [D, S, S] as [number, number, number] };
}

describe('brainMask on failures seen in the full data set', () => {
  it('takes brain pieces too shallow to be seeds from the slice above (skull base)', () => {
    const h = skullBase();
    const m = brainMask(h.image, h.shape, { depth: 40 });
    let tumourOut = 0;
    let scalpIn = 0;
    let scalp = 0;
    for (let i = 0; i < m.length; i++) {
      if (h.tumour[i] && !m[i]) tumourOut++;
      scalp += h.scalp[i];
      if (h.scalp[i] && m[i]) scalpIn++;
    }
    expect(tumourOut).toBe(0);
    expect(scalpIn / scalp).toBeLessThan(0.1);
  });

  it('never returns a near-empty mask: a FLAIR whose brain is black falls back to the whole head', () => {
    // Modelled on TCGA_HT_A61A, whose FLAIR shows only the scalp: no brain to find in it.
    const h = head(7, 128);
    const flair = h.image.map((v, i) => (h.scalp[i] ? v : 0));
    const m = brainMask(flair, h.shape);
    for (let i = 0; i < m.length; i++) if (h.brain[i] || h.tumour[i]) expect(m[i], `voxel ${i}`).toBe(1);
    // With the fallback off, the same volume gives (nearly) nothing.
    let kept = 0;
    for (const v of brainMask(flair, h.shape, { minFraction: 0 })) kept += v;
    let brain = 0;
    for (const v of h.brain) brain += v;
    expect(kept).toBeLessThan(0.2 * brain);
  });

  it('strips such a patient properly from all channels together (the default)', () => {
    const h = head(7, 128);
    const flair = h.image.map((v, i) => (h.scalp[i] ? v : 0));
    // T1 before contrast: the tumour darker than brain, as a glioma is.
    const t1 = h.image.map((v, i) => (h.tumour[i] ? 0.25 : v));
    const combined = combineChannels([t1, flair, h.image], h.shape);
    const m = brainMask(combined, h.shape);
    let tumourOut = 0;
    let brainOut = 0;
    let scalpIn = 0;
    let scalp = 0;
    for (let i = 0; i < m.length; i++) {
      if (h.tumour[i] && !m[i]) tumourOut++;
      if (h.brain[i] && !m[i]) brainOut++;
      scalp += h.scalp[i];
      if (h.scalp[i] && m[i]) scalpIn++;
    }
    expect(tumourOut).toBe(0);
    expect(brainOut).toBe(0);
    expect(scalpIn / scalp).toBeLessThan(0.1);
    // preprocess does the same with its default options.
    const raw = rawFrom(h.image, h.tumour, h.shape, [t1, flair, h.image]);
    const v = preprocess(raw, { size: 128, normalize: false, skullStrip: true });
    expect(v.info.skullStrip?.tumourOutside).toBe(0);
    expect(v.info.skullStrip?.brainVoxels).toBeLessThan(0.6 * v.depth * 128 * 128);
  });

  it('combineChannels takes out each background, scales by the 99th percentile within the head, takes the maximum', () => {
    // One slice of 3×102 px: the frame (rows 0 and 2, columns 0 and 101) is background; row 1, x = 1..100, the head.
    const shape: [number, number, number] = [1, 3, 102];
    const at = (x: number) => 102 + x;
    const a = new Float64Array(306);
    const b = new Float64Array(306);
    const c = new Float64Array(306);
    for (let x = 1; x <= 100; x++) {
      a[at(x)] = 50 + x; // 51..150: 99th percentile, interpolated as NumPy does, 149.01
      b[at(x)] = 2 * (150 - x + 1); // 102..300 in steps of 2: 298.02
    }
    // A grey background under channel b (as some T1 series have) is subtracted first.
    const bg = b.map((v) => v + 40);
    const out = combineChannels([a, bg, c], shape);
    for (let x = 1; x <= 100; x++)
      expect(out[at(x)]).toBeCloseTo(Math.max((50 + x) / 149.01, (151 - x) / 149.01), 12);
    expect(out[0]).toBe(0);
    expect(() => combineChannels([a, new Float64Array(3)], shape)).toThrow(
      /a channel of 3 values for shape \[1,3,102\]/,
    );
  });
});

describe('convexHullPerSlice', () => {
  it('is the set of pixel centres inside the convex hull of the pixels (checked by support functions)', () => {
    const rng = new Rng(4);
    const r = () => rng.uniform();
    const [D, H, W] = [3, 23, 19];
    const mask = new Uint8Array(D * H * W);
    for (let i = 0; i < mask.length; i++) mask[i] = r() < 0.02 ? 1 : 0;
    const hull = convexHullPerSlice(mask, [D, H, W]);
    for (let z = 0; z < D; z++) {
      const corners: [number, number][] = [];
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          if (mask[(z * H + y) * W + x])
            for (const [dx, dy] of [
              [-0.5, -0.5],
              [0.5, -0.5],
              [-0.5, 0.5],
              [0.5, 0.5],
            ])
              corners.push([x + dx, y + dy]);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          // Inside iff no direction separates the centre from all corners (720 directions; margin for rounding).
          let inside = corners.length > 0;
          let strictlyInside = inside;
          for (let k = 0; k < 720 && inside; k++) {
            const a = (k * Math.PI) / 360;
            const [ux, uy] = [Math.cos(a), Math.sin(a)];
            const support = Math.max(...corners.map(([cx, cy]) => cx * ux + cy * uy));
            const p = x * ux + y * uy;
            if (p > support + 1e-6) inside = false;
            if (p > support - 0.02) strictlyInside = false;
          }
          const got = hull[(z * H + y) * W + x];
          if (strictlyInside) expect(got, `z ${z} y ${y} x ${x}`).toBe(1);
          if (!inside) expect(got, `z ${z} y ${y} x ${x}`).toBe(0);
        }
    }
  });
});

/** A raw patient from a float volume in [0, 1] (all three channels equal, or `channels`) and a mask. */
function rawFrom(
  image: Float64Array,
  mask: Uint8Array,
  [D, H, W]: [number, number, number],
  channels: Float64Array[] = [image, image, image],
): RawPatient {
  const img = new Uint8Array(D * H * W * 3);
  for (let i = 0; i < D * H * W; i++)
    for (let c = 0; c < 3; c++) img[3 * i + c] = Math.round(255 * Math.min(1, channels[c][i]));
  return {
    id: 'synthetic',
    sliceNumbers: Array.from({ length: D }, (_, z) => z + 1),
    depth: D,
    height: H,
    width: W,
    image: img,
    mask,
  };
}

describe('preprocess with skullStrip', () => {
  it('zeroes every channel outside the brain before normalising; counts tumour outside', () => {
    const h = head(9, 128);
    const raw = rawFrom(h.image, h.tumour, h.shape);
    const plain = preprocess(raw, { size: 128, normalize: false });
    const stripped = preprocess(raw, { size: 128, normalize: false, skullStrip: true });
    expect(stripped.mask).toEqual(plain.mask);
    expect(stripped.info.skullStrip?.tumourOutside).toBe(0);
    const plane = 128 * 128;
    let zeroed = 0;
    let kept = 0;
    for (let z = 0; z < stripped.depth; z++)
      for (let i = 0; i < plane; i++) {
        const a = plain.image[(z * 3 + 1) * plane + i];
        const b = stripped.image[(z * 3 + 1) * plane + i];
        if (b === 0 && a > 0) zeroed++;
        if (b !== 0) {
          kept++;
          expect(b).toBe(a);
          expect(stripped.image[z * 3 * plane + i]).toBe(plain.image[z * 3 * plane + i]);
        }
      }
    expect(zeroed).toBeGreaterThan(1000);
    // Voxels kept non-zero lie in the brain mask (some brain voxels are zero already).
    expect(kept).toBeLessThanOrEqual(stripped.info.skullStrip!.brainVoxels);
    // Normalised, the stripped volume's background is one value per channel.
    const norm = preprocess(raw, { size: 128, skullStrip: true });
    expect(norm.info.skullStrip).toEqual(stripped.info.skullStrip);
  });

  it('cuts no tumour on the four sample patients', async () => {
    requireShared();
    for (const files of scanDataset(SAMPLE)) {
      // Each patient is seconds of synchronous work: yield between them so that the test runner's messages to its
      // worker are answered (a long block ends in its "Timeout calling onTaskUpdate").
      await new Promise((resolve) => setTimeout(resolve, 0));
      const v = preprocess(readPatient(files), { skullStrip: true });
      const s = v.info.skullStrip!;
      let tumour = 0;
      for (const m of v.mask) tumour += m;
      expect(tumour, v.id).toBeGreaterThan(0);
      expect(s.tumourOutside, v.id).toBe(0);
      expect(s.brainVoxels, v.id).toBeLessThan(0.75 * v.depth * v.height * v.width);
    }
  }, 120_000);
});

describe('preprocess with biasCorrect', () => {
  it('flattens a multiplicative field; equal channels share one estimate', () => {
    const [D, S] = [6, 96];
    const image = new Float64Array(D * S * S);
    const mask = new Uint8Array(D * S * S);
    for (let z = 0; z < D; z++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const rad = Math.hypot(x - S / 2, y - S / 2);
          if (rad > 40) continue;
          const tissue = rad < 20 ? 0.6 : 0.4;
          image[(z * S + y) * S + x] = tissue * Math.exp(0.5 * (x / S) - 0.3 * (y / S));
        }
    const raw = rawFrom(image, mask, [D, S, S]);
    const o = { size: 96, normalize: false, dropEnds: false };
    const plain = preprocess(raw, o);
    const corrected = preprocess(raw, { ...o, biasCorrect: { shrink: 2, levels: 3 } });
    expect(corrected.info.biasCorrection).toHaveLength(3);
    expect(corrected.info.biasCorrection?.[1]).toEqual(corrected.info.biasCorrection?.[0]);
    const cv = (img: Float32Array) => {
      const plane = corrected.height * corrected.width;
      const vals: number[] = [];
      for (let z = 0; z < corrected.depth; z++)
        for (let y = 0; y < corrected.height; y++)
          for (let x = 0; x < corrected.width; x++) {
            const rad = Math.hypot(x - corrected.width / 2, y - corrected.height / 2);
            if (rad < 15) vals.push(img[(z * 3 + 1) * plane + y * corrected.width + x]);
          }
      const m = vals.reduce((a, b) => a + b, 0) / vals.length;
      return Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length) / m;
    };
    expect(cv(corrected.image)).toBeLessThan(0.5 * cv(plain.image));
  });
});
