import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import UTIF from 'utif';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, readDataset } from '../src/dataset.js';
import { scanDataset } from '../src/layout.js';
import { WorkerPool } from '../src/pool.js';
import { preprocess } from '../src/preprocess.js';
import type { RawPatient } from '../src/reader.js';
import { builtWorker, tempDir } from './helpers.js';
import { requireShared, SAMPLE } from './paths.js';

const IDS = [
  'TCGA_CS_4942_19970222',
  'TCGA_CS_4943_20000902',
  'TCGA_HT_7602_19951103',
  'TCGA_HT_A616_19991226',
];

function snapshot(root: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else
        h.update(
          `${p}\t${s.size}\t${s.mtimeMs}\t${createHash('sha256').update(readFileSync(p)).digest('hex')}\n`,
        );
    }
  };
  walk(root);
  return h.digest('hex');
}

describe('the 4 sample patients', () => {
  let pool: WorkerPool;
  let raw: RawPatient[];
  let before: string;
  beforeAll(async () => {
    requireShared();
    before = snapshot(SAMPLE);
    pool = new WorkerPool({ workers: 2, workerUrl: await builtWorker() });
    raw = await readDataset(SAMPLE, { pool });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('runs in worker threads', () => {
    expect(pool.mode).toBe('workers');
  });

  it('lists and reads every patient in numeric slice order', () => {
    expect(raw.map((p) => p.id)).toEqual(IDS);
    expect(raw.map((p) => p.depth)).toEqual([20, 20, 20, 28]);
    for (const p of raw) {
      expect(p.sliceNumbers).toEqual(Array.from({ length: p.depth }, (_, i) => i + 1));
      expect([p.height, p.width]).toEqual([256, 256]);
      expect(p.image.length).toBe(p.depth * 256 * 256 * 3);
      let tumour = 0;
      for (const v of p.mask) tumour += v;
      expect(tumour).toBeGreaterThan(0);
    }
  });

  it('slices equal a plain utif decode, slice 10 of CS_4942 (image and mask)', () => {
    const dir = join(SAMPLE, IDS[0]);
    for (const [name, off, len] of [
      [`${IDS[0]}_10.tif`, 9 * 196608, 196608],
      [`${IDS[0]}_10_mask.tif`, 9 * 65536, 65536],
    ] as const) {
      const bytes = readFileSync(join(dir, name));
      const ifds = UTIF.decode(bytes);
      UTIF.decodeImage(bytes, ifds[0]);
      const want = ifds[0].data!;
      const got = name.includes('mask')
        ? raw[0].mask.subarray(off, off + len)
        : raw[0].image.subarray(off, off + len);
      let diff = 0;
      for (let i = 0; i < len; i++) if ((name.includes('mask') ? want[i] / 255 : want[i]) !== got[i]) diff++;
      expect(diff).toBe(0);
    }
  });

  it('HT_A616 is FLAIR-only (3 equal channels)', () => {
    const a = raw[3].image;
    for (let i = 0; i < a.length; i += 3 * 97) {
      expect(a[i]).toBe(a[i + 1]);
      expect(a[i + 2]).toBe(a[i + 1]);
    }
  });

  it('worker threads and in-process give identical preprocessed volumes; the cache serves the second start', async () => {
    const { dir: cacheDir, cleanup } = tempDir('cache');
    try {
      const first = await loadDataset(SAMPLE, { pool, cacheDir, patients: IDS.slice(0, 2) });
      expect(first.built).toBe(2);
      const local = await loadDataset(SAMPLE, { workers: 0, patients: IDS.slice(0, 2) });
      const second = await loadDataset(SAMPLE, { pool, cacheDir, patients: IDS.slice(0, 2) });
      expect(second.cached).toBe(2);
      expect(second.built).toBe(0);
      for (let k = 0; k < 2; k++) {
        const direct = preprocess(raw[k]);
        for (const v of [first.volumes[k], local.volumes[k], second.volumes[k]]) {
          expect(v.info).toEqual(direct.info);
          expect(
            Buffer.from(v.image.buffer, v.image.byteOffset, v.image.byteLength).equals(
              Buffer.from(direct.image.buffer),
            ),
          ).toBe(true);
          expect(Buffer.from(v.mask).equals(Buffer.from(direct.mask))).toBe(true);
        }
      }
    } finally {
      cleanup();
    }
  });

  it('never modifies the source folder', () => {
    expect(scanDataset(SAMPLE)).toHaveLength(4);
    expect(snapshot(SAMPLE)).toBe(before);
  });
});
