import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../src/dataset.js';
import { type Batch, BatchLoader, volumeBatches } from '../src/loader.js';
import { writePhantomDataset } from '../src/phantom.js';
import { WorkerPool } from '../src/pool.js';
import type { Volume } from '../src/preprocess.js';
import { builtWorker, tempDir } from './helpers.js';

describe('batch loader', () => {
  let volumes: Volume[];
  let cleanup: () => void;
  let pool: WorkerPool;
  beforeAll(async () => {
    const t = tempDir('loader');
    cleanup = t.cleanup;
    writePhantomDataset(t.dir, { patients: 3, seed: 4, size: 64, slices: [10, 12] });
    pool = new WorkerPool({ workers: 2, workerUrl: await builtWorker() });
    volumes = (await loadDataset(t.dir, { pool, preprocess: { size: 64 } })).volumes;
    // Loaded volumes already live in shared memory, so the loader shares them without a copy.
    expect(volumes[0].image.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
  afterAll(async () => {
    await pool?.close();
    cleanup?.();
  });

  async function collect(loader: BatchLoader, epoch: number): Promise<Batch[]> {
    const out: Batch[] = [];
    for await (const b of loader.epoch(epoch)) out.push(b);
    return out;
  }

  it('batches have the right shapes, binary masks, and drop the last partial batch', async () => {
    const loader = await BatchLoader.create({ volumes, batchSize: 4, seed: 1, pool });
    const n = volumes.reduce((a, v) => a + v.depth, 0);
    expect(loader.batchesPerEpoch).toBe(Math.floor(n / 4));
    const batches = await collect(loader, 0);
    expect(batches).toHaveLength(loader.batchesPerEpoch);
    for (const [i, b] of batches.entries()) {
      expect(b.index).toBe(i);
      expect(b.imageShape).toEqual([4, 3, 64, 64]);
      expect(b.maskShape).toEqual([4, 1, 64, 64]);
      expect(b.image.length).toBe(4 * 3 * 64 * 64);
      expect(b.mask.every((v) => v === 0 || v === 1)).toBe(true);
    }
    await loader.close();
  });

  it('is deterministic for a seed and the same in worker threads and in-process', async () => {
    const a = await BatchLoader.create({ volumes, batchSize: 5, seed: 9, pool });
    const local = new WorkerPool({ workers: 0 });
    const b = await BatchLoader.create({ volumes, batchSize: 5, seed: 9, pool: local });
    const [x, y] = [await collect(a, 3), await collect(b, 3)];
    expect(x.length).toBe(y.length);
    x.forEach((bx, i) => {
      expect(bx.refs).toEqual(y[i].refs);
      expect(Buffer.from(bx.image.buffer).equals(Buffer.from(y[i].image.buffer))).toBe(true);
      expect(Buffer.from(bx.mask.buffer).equals(Buffer.from(y[i].mask.buffer))).toBe(true);
    });
    const other = await collect(a, 4);
    expect(other[0].refs).not.toEqual(x[0].refs);
    await a.close();
    await b.close();
    await local.close();
  });

  it('without augmentation a batch is the stored slices; transform runs ahead, in order', async () => {
    const loader = await BatchLoader.create({
      volumes,
      batchSize: 3,
      seed: 2,
      pool,
      augment: null,
      sampler: 'uniform',
    });
    const started: number[] = [];
    const seen: number[] = [];
    for await (const t of loader.epoch(0, async (b) => {
      started.push(b.index);
      return { b, tag: b.index };
    })) {
      // A training step: with prefetch 2, the next two batches (transform included) get ready meanwhile.
      await new Promise((r) => setTimeout(r, 30));
      expect(started.length).toBeGreaterThanOrEqual(Math.min(t.tag + 3, loader.batchesPerEpoch));
      seen.push(t.tag);
      const P = 64 * 64;
      t.b.refs.forEach((r, k) => {
        const v = volumes[r.volume];
        const want = v.image.subarray(r.slice * 3 * P, (r.slice + 1) * 3 * P);
        expect(Array.from(t.b.image.subarray(k * 3 * P, (k + 1) * 3 * P))).toEqual(Array.from(want));
      });
    }
    expect(seen).toEqual(Array.from({ length: loader.batchesPerEpoch }, (_, i) => i));
    await loader.close();
  });

  it('volumeBatches yields a validation volume in order', () => {
    const v = volumes[0];
    const bs = [...volumeBatches(v, 4)];
    expect(bs.reduce((a, b) => a + b.imageShape[0], 0)).toBe(v.depth);
    expect(Array.from(bs[0].image.subarray(0, 10))).toEqual(Array.from(v.image.subarray(0, 10)));
  });
});
