import { REFERENCE_INFERENCE } from '@mriseg/models';
import type { InferenceSpec } from '@mriseg/nn';
import { describe, expect, it } from 'vitest';
import { settle } from '../src/commands/infer.js';
import type { LoadedCheckpoint } from '../src/lib/infer.js';
import { commandLine, selfCommand, shellWord, shownPath } from '../src/lib/paths.js';
import { Progress } from '../src/lib/progress.js';
import { plural } from '../src/lib/words.js';

describe('progress bar', () => {
  it('shows no rate before the first readback, then the rate of the steps read back', () => {
    const lines: string[] = [];
    let t = 0;
    const stream = { isTTY: false, write: (s: string) => void lines.push(s) };
    const p = new Progress('epoch 1/2', 10, stream as never, 0, 0, () => t);
    p.update(0);
    t = 100; // recording is fast: 5 steps queued in 0.1 s say nothing of the GPU's speed
    p.update(5, 'loss …');
    expect(lines.at(-1)).toContain('5/10 … img/s ETA --:--');
    t = 4000; // the first readback: 5 steps of 4 images took 4 s
    p.update(5, 'loss 0.9', { steps: 5, images: 20 });
    expect(lines.at(-1)).toMatch(/5\/10 5\.0 img\/s ETA 00:04/);
    t = 8000;
    p.update(10, 'loss 0.8', { steps: 10, images: 40 });
    expect(lines.at(-1)).toMatch(/10\/10 5\.0 img\/s ETA 00:00/);
  });

  it('resumed mid-epoch: the ETA counts the steps left from where it started', () => {
    const lines: string[] = [];
    let t = 0;
    const p = new Progress(
      'e',
      10,
      { isTTY: false, write: (s: string) => void lines.push(s) } as never,
      0,
      6,
      () => t,
    );
    t = 2000;
    p.update(8, '', { steps: 2, images: 8 });
    expect(lines.at(-1)).toMatch(/8\/10 4\.0 img\/s ETA 00:02/);
  });
});

describe('paths and commands as printed', () => {
  it('are relative inside the working folder, absolute outside, quoted for a shell', () => {
    expect(shownPath('/w/runs/a', '/w')).toBe('runs/a');
    expect(shownPath('runs/a', '/w')).toBe('runs/a');
    expect(shownPath('/elsewhere/x', '/w')).toBe('/elsewhere/x');
    expect(shownPath('/w', '/w')).toBe('.');
    expect(shellWord('runs/2026-demo/best.safetensors')).toBe('runs/2026-demo/best.safetensors');
    expect(shellWord("my run's/x")).toBe(`'my run'\\''s/x'`);
    expect(selfCommand('/w/apps/cli/dist/bin.js', '/w')).toBe('node apps/cli/dist/bin.js');
    expect(selfCommand('/usr/local/bin/mriseg', '/w')).toBe('mriseg');
    expect(commandLine(['evaluate', '--checkpoint', 'a b'], 'node x.js')).toBe(
      "node x.js evaluate --checkpoint 'a b'",
    );
    expect([plural(1, 'patient'), plural(3, 'patient'), plural(0, 'model')]).toEqual([
      '1 patient',
      '3 patients',
      '0 models',
    ]);
  });
});

describe('run settings of checkpoints', () => {
  const spec: InferenceSpec = {
    ...REFERENCE_INFERENCE,
    inputSize: 64,
    threshold: 0.4,
    postprocess: 'lcc3d,fill-holes2d',
  };
  const loaded = (s: typeof spec, note: string | null = null) =>
    ({
      path: 'runs/a/best.safetensors',
      model: null,
      train: null,
      inference: { spec: s, from: note ? 'older metadata' : 'checkpoint', note },
    }) as unknown as LoadedCheckpoint;
  const none = { 'image-size': null, threshold: null, postprocess: null, tta: 'none', 'batch-size': 4 };

  it('are what the checkpoint records unless an option says otherwise; an older file prints its note', () => {
    const notes: string[] = [];
    expect(settle([loaded(spec)], none, (s) => notes.push(s))).toEqual({
      tta: 'none',
      batchSize: 4,
      imageSize: 64,
      preprocess: { size: 64 },
      threshold: 0.4,
      postprocess: 'lcc3d,fill-holes2d',
    });
    expect(notes).toEqual([]);
    const o = settle(
      [loaded({ ...spec, postprocess: '' }, 'x records no inference settings')],
      { ...none, threshold: 0.7, 'image-size': 128 },
      (s) => notes.push(s),
    );
    expect([o.imageSize, o.preprocess.size, o.threshold, o.postprocess]).toEqual([128, 128, 0.7, 'none']);
    expect(notes).toEqual(['note: x records no inference settings']);
  });

  it('of an ensemble must agree on the input size, or be given one', () => {
    const two = [loaded(spec), loaded({ ...spec, inputSize: 256 })];
    expect(() => settle(two, none, () => {})).toThrow(
      /different input sizes \(64, 256 px\); give --image-size/,
    );
    expect(settle(two, { ...none, 'image-size': 64 }, () => {}).imageSize).toBe(64);
  });
});
