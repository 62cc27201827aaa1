import { readSafetensorsFile } from '@mriseg/tensor-wgsl/node';
import { entryToFloat32, type SafetensorsFile } from '@mriseg/tensor-wgsl/safetensors';
import { beforeAll, describe, expect, it } from 'vitest';
import { scanDataset } from '../src/layout.js';
import { preprocess } from '../src/preprocess.js';
import { readPatient } from '../src/reader.js';
import { GOLDEN, requireShared, SAMPLE } from './paths.js';

function ints(g: SafetensorsFile, key: string): number[] {
  return Array.from(entryToFloat32(g.tensors.get(key)!));
}

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

describe.each(['TCGA_CS_4942_19970222', 'TCGA_HT_A616_19991226'])('golden preprocessing %s', (id) => {
  let golden: SafetensorsFile;
  let vol: ReturnType<typeof preprocess>;
  beforeAll(() => {
    requireShared();
    golden = readSafetensorsFile(`${GOLDEN}/${id}.safetensors`);
    const [files] = scanDataset(SAMPLE, { patients: [id] });
    vol = preprocess(readPatient(files));
  });

  it('crop box and padding are exact', () => {
    expect(vol.info.cropZYX).toEqual(ints(golden, 'crop_zyx'));
    expect(vol.info.padYX).toEqual(ints(golden, 'pad_yx'));
  });

  it('p10/p99 and channel statistics within 1e-4 relative', () => {
    const [p10, p99] = ints(golden, 'p10_p99');
    expect(Math.abs(vol.info.p10 - p10)).toBeLessThanOrEqual(1e-4 * Math.max(Math.abs(p10), 1e-6));
    expect(rel(vol.info.p99, p99)).toBeLessThanOrEqual(1e-4);
    const mean = ints(golden, 'channel_mean');
    const std = ints(golden, 'channel_std');
    for (let c = 0; c < 3; c++) {
      expect(rel(vol.info.channelMean[c], mean[c])).toBeLessThanOrEqual(1e-4);
      expect(rel(vol.info.channelStd[c], std[c])).toBeLessThanOrEqual(1e-4);
    }
  });

  it('final mask is exact', () => {
    const m = golden.tensors.get('mask')!;
    expect([vol.depth, vol.height, vol.width]).toEqual(m.shape);
    let diff = 0;
    for (let i = 0; i < vol.mask.length; i++) if (vol.mask[i] !== m.bytes[i]) diff++;
    expect(diff).toBe(0);
  });

  it('final slices within 1e-3 absolute, per-slice statistics within 1e-3', () => {
    const idx = ints(golden, 'slice_index');
    const slices = entryToFloat32(golden.tensors.get('slices')!);
    const P = 256 * 256;
    let worst = 0;
    idx.forEach((z, k) => {
      for (let p = 0; p < P; p++) {
        for (let c = 0; c < 3; c++) {
          const want = slices[(k * P + p) * 3 + c];
          const got = vol.image[(z * 3 + c) * P + p];
          worst = Math.max(worst, Math.abs(got - want));
        }
      }
    });
    expect(worst).toBeLessThanOrEqual(1e-3);
    const means = entryToFloat32(golden.tensors.get('per_slice_channel_mean')!);
    const stds = entryToFloat32(golden.tensors.get('per_slice_channel_std')!);
    for (let z = 0; z < vol.depth; z++) {
      for (let c = 0; c < 3; c++) {
        const plane = vol.image.subarray((z * 3 + c) * P, (z * 3 + c + 1) * P);
        let s = 0;
        for (const v of plane) s += v;
        const m = s / P;
        let ss = 0;
        for (const v of plane) ss += (v - m) ** 2;
        expect(Math.abs(m - means[z * 3 + c])).toBeLessThanOrEqual(1e-3);
        expect(Math.abs(Math.sqrt(ss / P) - stds[z * 3 + c])).toBeLessThanOrEqual(1e-3);
      }
    }
  });
});
