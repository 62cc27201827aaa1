import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachePath } from '../src/cache.js';
import { loadDataset } from '../src/dataset.js';
import { DataError } from '../src/errors.js';
import { writePhantomDataset } from '../src/phantom.js';
import { resolvePreprocess } from '../src/preprocess.js';
import { tempDir } from './helpers.js';

describe('preprocessed-volume cache', () => {
  let data: string;
  let cache: string;
  let warnings: string[] = [];
  const cleanups: (() => void)[] = [];
  const opts = () => ({
    cacheDir: cache,
    workers: 0,
    preprocess: { size: 48 },
    onWarning: (w: string) => warnings.push(w),
  });
  const entries = () =>
    readdirSync(cache)
      .filter((n) => n.endsWith('.mrivol'))
      .sort();
  const patients = () => readdirSync(data).sort();
  /** The entry `opts()` reads for the i-th patient. */
  const entryOf = (i: number) => cachePath(cache, patients()[i], resolvePreprocess(opts().preprocess));

  beforeAll(() => {
    const a = tempDir('cache-data');
    const b = tempDir('cache-dir');
    cleanups.push(a.cleanup, b.cleanup);
    data = a.dir;
    cache = join(b.dir, 'volumes');
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
    // The folder's secret is readable by its owner only.
    expect(statSync(join(cache, '.mriseg-cache-secret')).mode & 0o077).toBe(0);
  });

  it('other settings get their own entries', async () => {
    const c = await loadDataset(data, { ...opts(), preprocess: { size: 32 } });
    expect(c.built).toBe(3);
    expect(c.volumes[0].height).toBe(32);
    expect(entries()).toHaveLength(6);
  });

  it('rebuilds a corrupt or truncated entry, never trusting it', async () => {
    warnings = [];
    const files = entries();
    const path = join(cache, files[0]);
    const bytes = readFileSync(path);
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(path, bytes);
    writeFileSync(join(cache, files[1]), bytes.subarray(0, 50));
    const d = await loadDataset(data, { ...opts(), preprocess: { size: 32 } });
    const e = await loadDataset(data, opts());
    expect(d.built + e.built).toBe(2);
    expect(warnings.filter((w) => /discarded and rebuilt/.test(w))).toHaveLength(2);
  });

  it('rebuilds an entry whose body was replaced by another valid gzip (tampering)', async () => {
    warnings = [];
    const path = entryOf(2);
    const bytes = readFileSync(path);
    const len = bytes.readUInt32LE(8);
    const bodyStart = 12 + len;
    const body = gunzipSync(bytes.subarray(bodyStart, bytes.length - 32));
    // Every mask voxel set to tumour: a valid stream of the right size, with the MAC left as it was.
    body.fill(1, body.length - body.length / 13);
    const forged = Buffer.concat([
      bytes.subarray(0, bodyStart),
      gzipSync(body),
      bytes.subarray(bytes.length - 32),
    ]);
    writeFileSync(path, forged);
    const r = await loadDataset(data, opts());
    expect(r.built).toBe(1);
    expect(warnings.join('\n')).toMatch(/failed verification/);
    expect(r.volumes.every((v) => v.mask.some((x) => x === 0))).toBe(true);
  });

  it('rebuilds an entry replaced by a directory', async () => {
    warnings = [];
    const path = entryOf(0);
    rmSync(path);
    mkdirSync(join(path, 'inner'), { recursive: true });
    const r = await loadDataset(data, opts());
    expect(r.built).toBe(1);
    expect(statSync(path).isFile()).toBe(true);
    expect(warnings.join('\n')).toMatch(/not a regular file \(a directory\)/);
  });

  it('keys on content: a mask rewritten with the same size and mtime is rebuilt, a touch is not', async () => {
    const p = patients()[1];
    const f = join(data, p, `${p}_3.tif`);
    const before = statSync(f);
    utimesSync(f, new Date(), new Date(Date.now() + 5000));
    const touched = await loadDataset(data, opts());
    expect([touched.built, touched.cached]).toEqual([0, 3]);

    const m = join(data, p, `${p}_4_mask.tif`);
    const st = statSync(m);
    const bytes = readFileSync(m);
    // Flip one pixel of the (uncompressed) mask's last strip: same size, then the old mtime back.
    bytes[bytes.length - 200] ^= 0xff;
    writeFileSync(m, bytes);
    utimesSync(m, st.atime, st.mtime);
    expect(Math.abs(statSync(m).mtimeMs - st.mtimeMs)).toBeLessThan(1);
    const r = await loadDataset(data, opts());
    expect([r.built, r.cached]).toEqual([1, 2]);
    utimesSync(f, before.atime, before.mtime);
  });

  it('refuses a cache folder inside the source folder, also through a symbolic link', async () => {
    await expect(loadDataset(data, { ...opts(), cacheDir: join(data, 'cache') })).rejects.toThrow(
      /must not be inside/,
    );
    const { dir, cleanup } = tempDir('cache-link');
    cleanups.push(cleanup);
    const p = patients()[0];
    symlinkSync(join(data, p), join(dir, 'into-patient'));
    const err = await loadDataset(data, { ...opts(), cacheDir: join(dir, 'into-patient', 'cache') }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).problem).toMatch(/must not be inside the source data .* resolves to/);
    expect(readdirSync(join(data, p)).some((n) => n.includes('cache'))).toBe(false);
  });

  it('a cache folder that cannot be made costs the cache, not the run', async () => {
    warnings = [];
    const { dir, cleanup } = tempDir('cache-blocked');
    cleanups.push(cleanup);
    writeFileSync(join(dir, 'file'), 'x');
    const r = await loadDataset(data, { ...opts(), cacheDir: join(dir, 'file', 'cache') });
    expect(r.volumes).toHaveLength(3);
    expect(warnings.join('\n')).toMatch(/cannot use the cache folder/);
  });
});
