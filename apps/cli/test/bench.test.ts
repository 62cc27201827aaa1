import { initDevice, runtime } from '@mriseg/tensor-wgsl';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatBench, runBench } from '../src/commands/bench.js';
import { main } from '../src/main.js';

let out: string[];
beforeEach(() => {
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => vi.restoreAllMocks());

describe('bench', () => {
  it('measures a training step and inference of a tiny model, with GPU time where timestamps exist', async () => {
    await initDevice();
    const live = runtime().memory().liveBuffers;
    const r = await runBench({
      model: 'unet',
      features: 2,
      batchSize: 2,
      imageSize: 32,
      warmup: 1,
      iters: 2,
      mode: 'both',
      loss: 'dice',
    });
    expect(r.parameters).toBe(30_751);
    expect(r.trainStepMs).toBeGreaterThan(0);
    expect(r.trainImgPerS).toBeCloseTo((2 * 1000) / r.trainStepMs!, -1);
    expect(r.inferImgPerS).toBeGreaterThan(0);
    expect(r.peakTrainMiB).toBeGreaterThan(0);
    if (runtime().hasFeature('timestamp-query')) {
      expect(r.trainGpuMs).toBeGreaterThanOrEqual(0);
      expect(r.trainGpuMs!).toBeLessThanOrEqual(r.trainStepMs! + 1);
    } else expect(r.trainGpuMs).toBeUndefined();
    expect(formatBench(r)).toMatch(/train step\s+[\d.]+ ms.* img\/s/);
    // The model, optimizer state and batch are all freed afterwards.
    expect(runtime().memory().liveBuffers).toBe(live);
  });

  it('the command prints JSON and rejects bad numbers', async () => {
    expect(
      await main([
        'bench',
        '--model',
        'resunet',
        '--features',
        '2',
        '--batch-size',
        '1',
        '--image-size',
        '32',
        '--iters',
        '1',
        '--warmup',
        '0',
        '--mode',
        'infer',
        '--json',
      ]),
    ).toBe(0);
    const r = JSON.parse(out.join('\n'));
    expect(r.model).toBe('resunet');
    expect(r.trainStepMs).toBeUndefined();
    expect(r.inferImgPerS).toBeGreaterThan(0);
    expect(await main(['bench', '--batch-size', '0'])).toBe(2);
    expect(await main(['bench', '--mode', 'fast'])).toBe(2);
  });
});
