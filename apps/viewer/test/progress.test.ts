import { describe, expect, it } from 'vitest';
import { inferenceProgress } from '../src/progress.js';

describe('inference progress text', () => {
  it('says which slices run before the first batch is back, and that it prepares the pipelines', () => {
    expect(inferenceProgress({ done: 0, total: 15, batchSize: 4, elapsedMs: 0, firstBatchMs: null })).toBe(
      'Running the model on slices 1–4 of 15 (the first batch also prepares the GPU pipelines)…',
    );
    expect(inferenceProgress({ done: 0, total: 1, batchSize: 4, elapsedMs: 0, firstBatchMs: null })).toMatch(
      /^Running the model on slice 1 of 1 /,
    );
  });

  it('moves per batch, times a slice on the batches after the first, and ends with the total time', () => {
    // First batch back after 20 s (compiling included): the estimate can only use it.
    expect(
      inferenceProgress({ done: 4, total: 15, batchSize: 4, elapsedMs: 20_000, firstBatchMs: 20_000 }),
    ).toBe('4 of 15 slices done, 5.0 s a slice, about 55 s left; running slices 5–8…');
    // Second batch 4 s later: 1 s a slice from then on.
    expect(
      inferenceProgress({ done: 8, total: 15, batchSize: 4, elapsedMs: 24_000, firstBatchMs: 20_000 }),
    ).toBe('8 of 15 slices done, 1.0 s a slice, about 7.0 s left; running slices 9–12…');
    expect(
      inferenceProgress({ done: 12, total: 13, batchSize: 4, elapsedMs: 28_000, firstBatchMs: 20_000 }),
    ).toMatch(/running slice 13…$/);
    expect(
      inferenceProgress({ done: 15, total: 15, batchSize: 4, elapsedMs: 31_500, firstBatchMs: 20_000 }),
    ).toBe('All 15 slices done in 32 s.');
  });
});
