import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import UTIF from 'utif';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanDataset } from '../src/layout.js';
import { generatePhantomPatient, phantomId, writePhantomDataset } from '../src/phantom.js';
import { preprocess } from '../src/preprocess.js';
import { readPatient } from '../src/reader.js';
import { deriveRng } from '../src/seed.js';
import { tempDir } from './helpers.js';

describe('phantom data set', () => {
  let dir: string;
  let pngDir: string;
  const cleanups: (() => void)[] = [];
  beforeAll(() => {
    const a = tempDir('phantom');
    const b = tempDir('phantom-png');
    cleanups.push(a.cleanup, b.cleanup);
    dir = a.dir;
    pngDir = b.dir;
    writePhantomDataset(dir, { patients: 2, seed: 5, slices: [20, 22] });
    writePhantomDataset(pngDir, { patients: 1, seed: 5, slices: [20, 22], format: 'png' });
  });
  afterAll(() => {
    for (const c of cleanups) c();
  });

  it('writes the Kaggle layout as real RGB / grey TIFFs that utif decodes', () => {
    const id = phantomId(0);
    const names = readdirSync(join(dir, id));
    expect(names).toContain(`${id}_1.tif`);
    expect(names).toContain(`${id}_1_mask.tif`);
    const bytes = readFileSync(join(dir, id, `${id}_10.tif`));
    const ifds = UTIF.decode(bytes);
    UTIF.decodeImage(bytes, ifds[0]);
    expect([ifds[0].width, ifds[0].height, ifds[0].t277?.[0], ifds[0].t259?.[0]]).toEqual([256, 256, 3, 1]);
    expect(ifds[0].data!.length).toBe(196608);
  });

  it('reads back exactly what was generated (TIFF and PNG); every patient has tumour; preprocessing runs', () => {
    const files = scanDataset(dir);
    expect(files.map((f) => f.id)).toEqual([phantomId(0), phantomId(1)]);
    const gen = generatePhantomPatient(phantomId(0), deriveRng(5, 'phantom', 0), { slices: [20, 22] });
    for (const f of [files[0], scanDataset(pngDir)[0]]) {
      const back = readPatient(f);
      expect(Buffer.from(back.image).equals(Buffer.from(gen.image))).toBe(true);
      expect(Buffer.from(back.mask).equals(Buffer.from(gen.mask))).toBe(true);
    }
    const v = preprocess(readPatient(files[1]));
    expect(v.height).toBe(256);
    expect(v.mask.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
    // Tumour is FLAIR-bright: mean FLAIR (channel 1) inside the mask above the brain's mean.
    const P = 256 * 256;
    let inside = 0;
    let n = 0;
    for (let z = 0; z < v.depth; z++) {
      for (let i = 0; i < P; i++) {
        if (v.mask[z * P + i]) {
          inside += v.image[(z * 3 + 1) * P + i];
          n++;
        }
      }
    }
    expect(inside / n).toBeGreaterThan(1);
  });
});
