import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../src/dataset.js';
import { writePhantomDataset } from '../src/phantom.js';
import { tempDir } from './helpers.js';

describe('preprocessed-volume cache', () => {
  let data: string;
  let cache: string;
  const cleanups: (() => void)[] = [];
  const opts = () => ({ cacheDir: cache, workers: 0, preprocess: { size: 48 }, onWarning: () => {} });
  beforeAll(() => {
    const a = tempDir('cache-data');
    const b = tempDir('cache-dir');
    cleanups.push(a.cleanup, b.cleanup);
    data = a.dir;
    cache = b.dir;
    writePhantomDataset(data, { patients: 3, seed: 9, size: 64, slices: [8, 10] });
  });
  afterAll(() => {
    for (const c of cleanups) c();
  });

  it('builds once, then serves identical volumes from the cache', async () => {
    const a = await loadDataset(data, opts());
    expect([a.built, a.cached]).toEqual([3, 0]);
    const b = await loadDataset(data, opts());
    expect([b.built, b.cached]).toEqual([0, 3]);
    a.volumes.forEach((v, i) => {
      expect(Array.from(b.volumes[i].image)).toEqual(Array.from(v.image));
      expect(Array.from(b.volumes[i].mask)).toEqual(Array.from(v.mask));
      expect(b.volumes[i].info).toEqual(v.info);
      expect(b.volumes[i].sliceNumbers).toEqual(v.sliceNumbers);
    });
  });

  it('other settings get their own entries', async () => {
    const c = await loadDataset(data, { ...opts(), preprocess: { size: 32 } });
    expect(c.built).toBe(3);
    expect(c.volumes[0].height).toBe(32);
    expect(readdirSync(cache)).toHaveLength(6);
  });

  it('rebuilds a corrupt entry, never trusting it', async () => {
    const files = readdirSync(cache).sort();
    const path = join(cache, files[0]);
    const bytes = readFileSync(path);
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(path, bytes);
    writeFileSync(join(cache, files[1]), bytes.subarray(0, 50));
    const d = await loadDataset(data, { ...opts(), preprocess: { size: 32 } });
    const e = await loadDataset(data, opts());
    expect(d.built + e.built).toBe(2);
  });

  it('refuses a cache folder inside the source folder', async () => {
    await expect(loadDataset(data, { ...opts(), cacheDir: join(data, 'cache') })).rejects.toThrow(
      /must not be inside/,
    );
  });

  it('rebuilds when a source file changes (size or mtime)', async () => {
    const patient = readdirSync(data).sort()[1];
    const f = join(data, patient, `${patient}_3.tif`);
    utimesSync(f, new Date(), new Date(Date.now() + 5000));
    const r = await loadDataset(data, opts());
    expect([r.built, r.cached]).toEqual([1, 2]);
  });
});
