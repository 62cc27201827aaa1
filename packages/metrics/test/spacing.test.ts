import { describe, expect, it } from 'vitest';
import { binaryVolume, evaluateCases, volume } from '../src/index.js';

/** A box of ones in a [4, 8, 8] volume, x from x0 to x0 + 3. */
function box(x0: number): Uint8Array {
  const m = new Uint8Array(4 * 8 * 8);
  for (let z = 1; z < 3; z++)
    for (let y = 2; y < 6; y++) for (let x = x0; x < x0 + 3; x++) m[z * 64 + y * 8 + x] = 1;
  return m;
}

describe('distance metrics in millimetres', () => {
  const shape = [4, 8, 8];
  const prob = volume(Float32Array.from(box(3)), shape);
  const truth = binaryVolume(box(1), shape);

  it("a case's own spacing scales HD95, ASSD and the surface Dice tolerance; without it they are in voxels", () => {
    const [vox, mm] = evaluateCases([
      { id: 'voxels', prob, truth },
      { id: 'mm', prob, truth, spacing: [5, 0.9, 0.5] },
    ]).rows;
    expect(vox.hd95).toBeCloseTo(2, 10);
    expect(mm.hd95).toBeCloseTo(1, 10);
    expect(mm.assd).toBeCloseTo(vox.assd * 0.5, 10);
    // 1 mm tolerance covers the 2-column (1 mm) shift everywhere; 1 voxel does not.
    expect(mm.surfaceDice).toBe(1);
    expect(vox.surfaceDice).toBeLessThan(1);
  });

  it('the case spacing wins over the default spacing of the options', () => {
    const [row] = evaluateCases([{ id: 'mm', prob, truth, spacing: [1, 1, 2] }], {
      spacing: [1, 1, 10],
    }).rows;
    expect(row.hd95).toBeCloseTo(4, 10);
  });
});
