import { describe, expect, it } from 'vitest';
import { deriveRng, generatePhantomPatient, preprocess, restoreMask } from '../src/index.js';

describe('restoreMask', () => {
  it('puts a hand-made mask back through resize, padding, crop and dropped slices', () => {
    // Frame 4 slices of 4×6; after dropping ends, crop z [0,2), y [1,3), x [1,5) → 2×4, padded 1+1 rows → 4×4,
    // resized to 8×8 (every pixel doubled).
    const info = {
      cropZYX: [0, 2, 1, 3, 1, 5] as [number, number, number, number, number, number],
      padYX: [1, 1, 0, 0] as [number, number, number, number],
    };
    const padded = [
      [0, 0, 0, 0],
      [1, 0, 0, 1],
      [0, 1, 1, 0],
      [0, 0, 0, 0],
    ];
    const mask = new Uint8Array(2 * 64);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) mask[64 + y * 8 + x] = padded[y >> 1][x >> 1];
    const out = restoreMask(mask, { depth: 2, height: 8, width: 8, info }, { depth: 4, height: 4, width: 6 });
    const expected = new Uint8Array(4 * 24);
    // slice 2 of the frame (dropped first + z0 0 + z 1), rows 1..2, columns 1..4
    expected[2 * 24 + 1 * 6 + 1] = 1;
    expected[2 * 24 + 1 * 6 + 4] = 1;
    expected[2 * 24 + 2 * 6 + 2] = 1;
    expected[2 * 24 + 2 * 6 + 3] = 1;
    expect(Array.from(out)).toEqual(Array.from(expected));
  });

  it('reproduces the original mask exactly from an up-sampled preprocessed mask', () => {
    const raw = generatePhantomPatient('TCGA_PH_0001_20000101', deriveRng(3, 'phantom', 0), {
      size: 64,
      slices: [8, 10],
    });
    const vol = preprocess(raw, { size: 64 });
    const [, , y0, y1, x0, x1] = vol.info.cropZYX;
    expect(y1 - y0).toBeLessThan(64);
    expect(x1 - x0).toBeLessThan(64);
    const back = restoreMask(vol.mask, vol, raw);
    let fg = 0;
    for (const v of raw.mask) fg += v;
    expect(fg).toBeGreaterThan(0);
    expect(Array.from(back)).toEqual(Array.from(raw.mask));
  });

  it('a down-sampled mask comes back close to the original and only inside the crop box', () => {
    const raw = generatePhantomPatient('TCGA_PH_0002_20000101', deriveRng(4, 'phantom', 1), {
      size: 96,
      slices: [8, 10],
    });
    const vol = preprocess(raw, { size: 32 });
    const back = restoreMask(vol.mask, vol, raw);
    let inter = 0;
    let sum = 0;
    for (let i = 0; i < back.length; i++) {
      inter += back[i] & raw.mask[i];
      sum += back[i] + raw.mask[i];
    }
    expect((2 * inter) / sum).toBeGreaterThan(0.8);
    const [z0, z1, y0, y1, x0, x1] = vol.info.cropZYX;
    const plane = raw.height * raw.width;
    for (let i = 0; i < back.length; i++) {
      if (!back[i]) continue;
      const z = Math.floor(i / plane) - 1;
      const y = Math.floor((i % plane) / raw.width);
      const x = i % raw.width;
      expect(z >= z0 && z < z1 && y >= y0 && y < y1 && x >= x0 && x < x1).toBe(true);
    }
  });
});
