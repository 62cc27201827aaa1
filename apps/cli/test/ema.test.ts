/**
 * train --ema: the average is validated and checkpointed beside the raw weights (both curves in metrics.jsonl and
 * the report), and an interrupted run resumes it to the same weights as a run never interrupted. The update rule
 * itself is checked against float64 in packages/nn (test/ema.test.ts).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '@mriseg/nn/node';
import { initDevice } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT_INTERRUPTED, train } from '../src/commands/train.js';
import type { EpochRecord } from '../src/lib/report.js';
import { tinyDataset, tinyTrainArgs } from './fixture.js';

let fx: ReturnType<typeof tinyDataset>;
const lines: string[] = [];
const log = (s: string) => void lines.push(s);

beforeAll(async () => {
  await initDevice();
  fx = tinyDataset();
});

const records = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochRecord);

/** The tensors of a checkpoint's model as bytes, by name. */
function weights(path: string): Map<string, Buffer> {
  const ck = loadCheckpoint(path);
  return new Map(
    [...ck.model].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]),
  );
}

describe('train --ema', () => {
  it('validates and checkpoints the average beside the raw weights; a resumed run continues it exactly', async () => {
    const a = join(fx.root, 'emaA');
    expect(await train(tinyTrainArgs(fx.data, a, ['--ema', '0.7']), { log })).toBe(0);
    for (const f of ['last-ema.safetensors', 'best-ema.safetensors', 'last.safetensors'])
      expect(existsSync(join(a, f)), f).toBe(true);
    const rs = records(a);
    expect(rs).toHaveLength(2);
    for (const r of rs) {
      expect(r.valMeanDscEma).toBeGreaterThanOrEqual(0);
      expect(Object.keys(r.valDscEma!)).toEqual(Object.keys(r.valDsc!));
    }
    expect(readFileSync(join(a, 'report.md'), 'utf8')).toContain('EMA val mean DSC');
    expect(lines.join('\n')).toMatch(/Best validation mean DSC of the weight average \(EMA 0\.7\)/);
    // The average is not the raw weights (decay 0.7 over 8 steps), and a checkpoint the other commands read.
    const raw = weights(join(a, 'last.safetensors'));
    const avg = weights(join(a, 'last-ema.safetensors'));
    expect([...raw.keys()]).toEqual([...avg.keys()]);
    expect(raw.get('conv.weight')!.equals(avg.get('conv.weight')!)).toBe(false);
    expect(loadCheckpoint(join(a, 'last-ema.safetensors')).metadata.metrics?.valMeanDsc).toBe(
      rs[1].valMeanDscEma,
    );

    // Ctrl-C in epoch 2, then --resume: the same average as the run above.
    const b = join(fx.root, 'emaB');
    const code = await train(tinyTrainArgs(fx.data, b, ['--ema', '0.7']), {
      log,
      onStep: (step) => {
        if (step === 6) (process.listeners('SIGINT').at(-1) as (s: string) => void)('SIGINT');
      },
    });
    expect(code).toBe(EXIT_INTERRUPTED);
    expect(await train(['--resume', b], { log })).toBe(0);
    const resumed = weights(join(b, 'last-ema.safetensors'));
    for (const [k, v] of avg) expect(resumed.get(k)!.equals(v), k).toBe(true);
    expect(records(b).map((r) => r.valMeanDscEma)).toEqual(rs.map((r) => r.valMeanDscEma));

    // An average that is not of last's step (a kill between the two writes): started again from the weights, said.
    rmSync(join(b, 'last-ema.safetensors'));
    lines.length = 0;
    expect(await train(['--resume', b, '--epochs', '3'], { log })).toBe(0);
    expect(lines.join('\n')).toMatch(
      /last-ema\.safetensors is missing or not of step 8: the weight average starts again/,
    );
    expect(loadCheckpoint(join(b, 'last-ema.safetensors')).metadata.epoch).toBe(3);
  });
});
