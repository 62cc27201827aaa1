/**
 * Step replay on real models: N training steps replayed from a capture equal N eager steps bit for bit — losses,
 * parameters, BatchNorm running statistics and optimizer state — with a new batch uploaded into the static
 * inputs before each step and the learning rate changed by a schedule every step; and inference batches
 * replayed by predictVolume equal eager ones.
 */
import { Adam, CosineWarmupLR, diceLoss, SGD } from '@mriseg/nn';
import {
  add,
  initDevice,
  keep,
  mul,
  Rng,
  runtime,
  StepGraph,
  scope,
  type Tensor,
  zeros,
} from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, predictVolume } from '../src/index.js';

beforeAll(async () => {
  await initDevice();
});

const bits = (a: Float32Array | Int32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Deterministic batches: images in [−1, 1], masks of a moving square. */
function batch(step: number, n: number, size: number): { image: Float32Array; mask: Float32Array } {
  const rng = new Rng(1000 + step);
  const image = Float32Array.from({ length: n * 3 * size * size }, () => rng.uniform() * 2 - 1);
  const mask = new Float32Array(n * size * size).map((_, i) => {
    const x = i % size;
    const y = Math.floor(i / size) % size;
    return x >= step % 5 && x < (step % 5) + 6 && y > 3 && y < 11 ? 1 : 0;
  });
  return { image, mask };
}

interface Trained {
  losses: number[][];
  state: Map<string, number[]>;
  optimizer: Map<string, number[]>;
  steps: Record<string, number>;
  calls: number;
  mode: string;
}

async function train(
  name: string,
  optimizer: 'adam' | 'sgd',
  replay: boolean,
  steps: number,
): Promise<Trained> {
  const n = 2;
  const size = 16;
  const model = createModel(name, { features: 2, rng: new Rng(5) }).train();
  const opt =
    optimizer === 'adam'
      ? new Adam(model.parameters(), { lr: 1e-2 })
      : new SGD(model.parameters(), { lr: 5e-2, momentum: 0.9, nesterov: true });
  const schedule = new CosineWarmupLR(opt, { warmupSteps: 2, totalSteps: steps });
  const x = keep(zeros([n, 3, size, size]));
  const y = keep(zeros([n, 1, size, size]));
  const graph = new StepGraph({ enabled: replay });
  let calls = 0;
  const step = () => {
    calls++;
    opt.zeroGrad();
    const heads = model.forwardHeads(x);
    let loss: Tensor = diceLoss(heads[0], y);
    for (let k = 1; k < heads.length; k++) loss = add(loss, diceLoss(heads[k], y));
    loss = mul(loss, 1 / heads.length);
    loss.backward();
    opt.step();
    return loss.detach();
  };
  const losses: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const b = batch(s, n, size);
    runtime().writeBuffer(x.buffer, b.image);
    runtime().writeBuffer(y.buffer, b.mask);
    const loss = scope(() => graph.run('train', step));
    losses.push(bits(await loss.data()));
    loss.dispose();
    schedule.step();
  }
  const state = new Map<string, number[]>();
  for (const [k, t] of model.stateDict()) state.set(k, bits(await t.data()));
  const sd = opt.stateDict();
  const optState = new Map<string, number[]>();
  for (const [k, t] of sd.tensors) optState.set(k, bits(await t.data()));
  const mode = graph.status('train').mode;
  graph.dispose();
  opt.zeroGrad();
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return { losses, state, optimizer: optState, steps: sd.steps, calls, mode };
}

describe('training steps replayed from a capture', () => {
  for (const [name, optimizer] of [
    ['unet', 'adam'],
    ['unet++', 'sgd'],
    ['attention-unet', 'adam'],
  ] as const) {
    it(`${name} with ${optimizer}: equal the eager steps bit for bit`, async () => {
      const steps = 7;
      const eager = await train(name, optimizer, false, steps);
      const replayed = await train(name, optimizer, true, steps);
      expect(replayed.mode).toBe('replaying');
      expect(replayed.calls).toBe(3);
      expect(eager.calls).toBe(steps);
      expect(replayed.losses).toEqual(eager.losses);
      expect([...replayed.state.keys()]).toEqual([...eager.state.keys()]);
      for (const [k, v] of eager.state) expect(replayed.state.get(k), k).toEqual(v);
      expect(replayed.steps).toEqual(eager.steps);
      for (const [k, v] of eager.optimizer) expect(replayed.optimizer.get(k), k).toEqual(v);
      // The losses moved: the steps did train (a replay that updated nothing would repeat one value).
      expect(new Set(replayed.losses.map((l) => l[0])).size).toBeGreaterThan(3);
    }, 240_000);
  }
});

describe('predictVolume with replayed batches', () => {
  it('gives the eager probabilities, batch after batch and volume after volume', async () => {
    const model = createModel('unet', { features: 2, rng: new Rng(3) });
    for (const [D, tta] of [
      [9, 'none'],
      [7, 'hflip'],
    ] as const) {
      const rng = new Rng(D);
      const vol = {
        data: Float32Array.from({ length: D * 3 * 16 * 16 }, () => rng.uniform() * 2 - 1),
        shape: [D, 3, 16, 16] as const,
      };
      const eager = await predictVolume(model, vol, { batchSize: 2, tta, replay: false });
      // Two volumes: batches of the second replay what the first captured.
      for (let pass = 0; pass < 2; pass++) {
        const replayed = await predictVolume(model, vol, { batchSize: 2, tta });
        expect(bits(replayed)).toEqual(bits(eager));
      }
    }
    model.dispose();
    expect(runtime().memory().heldBuffers).toBe(0);
  }, 240_000);
});
