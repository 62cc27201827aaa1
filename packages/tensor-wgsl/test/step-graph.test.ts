/**
 * Step capture and replay: a replayed step does what the eager step does, the step's JavaScript runs only while
 * warming up and capturing, and the graph refuses (runs eagerly, saying why) what it could not replay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  add,
  cast,
  defineKernel,
  initDevice,
  keep,
  mul,
  StepGraph,
  scope,
  type Tensor,
  tensor,
  zeros,
} from '../src/index.js';

const rt = await initDevice();

/** acc[i] += scale · x[i], in place: a step that changes persistent state, as an optimizer does. */
const accumulate = defineKernel('test.step_graph.accumulate', {
  name: 'accumulate',
  storage: [{ name: 'x' }, { name: 'acc', access: 'read_write' }],
  uniforms: { n: 'u32', scale: 'f32' },
  workgroupSize: 64,
  code: `fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= params.n) { return; }
  acc[g.x] = acc[g.x] + params.scale * x[g.x];
}`,
});

const graphs: StepGraph[] = [];
afterEach(() => {
  for (const g of graphs.splice(0)) g.dispose();
});
const newGraph = () => {
  const g = new StepGraph();
  graphs.push(g);
  return g;
};

/**
 * One step of a small "training loop": y = (x·2 + 1)·x from the static input, acc += step · y where `step` (a
 * host-side counter, advanced by a host action) scales the update through a dynamic uniform. Returns y.
 */
function makeStep(x: Tensor, acc: Tensor, counter: { step: number; calls: number }) {
  return () => {
    counter.calls++;
    const y = mul(add(mul(x, 2), 1), x);
    rt.hostAction(() => {
      counter.step++;
    });
    rt.dispatchKernel(
      accumulate,
      { x: y.buffer, acc: acc.buffer },
      () => ({ n: x.size, scale: counter.step }),
      [Math.ceil(x.size / 64)],
    );
    return y;
  };
}

async function run(replay: boolean, steps: number, inputs: Float32Array[]) {
  const x = keep(zeros([100]));
  const acc = keep(zeros([100]));
  const counter = { step: 0, calls: 0 };
  const graph = replay ? newGraph() : null;
  const ys: number[][] = [];
  const fn = makeStep(x, acc, counter);
  for (let i = 0; i < steps; i++) {
    rt.writeBuffer(x.buffer, inputs[i % inputs.length]);
    const y = scope(() => (graph ? graph.run('step', fn) : fn()));
    ys.push(Array.from(await y.data()));
    y.dispose();
  }
  const final = Array.from(await acc.data());
  const status = graph?.status('step');
  x.dispose();
  acc.dispose();
  return { ys, final, counter, status };
}

const inputs = [0, 1, 2].map((k) => Float32Array.from({ length: 100 }, (_, i) => Math.sin(i * 0.37 + k)));

describe('StepGraph', () => {
  it('replays a step bit for bit: outputs, persistent state, host actions and dynamic uniforms', async () => {
    const eager = await run(false, 8, inputs);
    const replayed = await run(true, 8, inputs);
    expect(replayed.ys).toEqual(eager.ys);
    expect(replayed.final).toEqual(eager.final);
    expect(replayed.counter.step).toBe(8);
    // Warm-up and two captures ran the JavaScript; the other five calls were replays.
    expect(replayed.counter.calls).toBe(3);
    expect(replayed.status).toEqual({ mode: 'replaying', dispatches: 4 });
  });

  it('counts replayed dispatches and submits one command buffer a replay', async () => {
    const x = keep(zeros([64]));
    const graph = newGraph();
    const step = () => scope(() => graph.run('k', () => mul(add(x, 1), 3)).dispose());
    for (let i = 0; i < 3; i++) step();
    await rt.sync();
    const before = { ...rt.counters };
    for (let i = 0; i < 5; i++) step();
    await rt.sync();
    expect(rt.counters.replays - before.replays).toBe(5);
    expect(rt.counters.dispatches - before.dispatches).toBe(10);
    expect(rt.counters.pipelinesCreated).toBe(before.pipelinesCreated);
    expect(rt.counters.bindGroupsCreated).toBe(before.bindGroupsCreated);
    x.dispose();
  });

  it('keeps memory flat: replays allocate nothing, and dispose gives the buffers back', async () => {
    const x = keep(zeros([4096]));
    const graph = newGraph();
    const step = () => scope(() => graph.run('m', () => mul(add(mul(x, 2), x), x)).dispose());
    for (let i = 0; i < 4; i++) step();
    await rt.sync();
    const held = rt.memory();
    expect(held.heldBuffers).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) step();
    await rt.sync();
    const after = rt.memory();
    expect(after.liveBytes).toBe(held.liveBytes);
    expect(after.heldBytes).toBe(held.heldBytes);
    expect(after.created).toBe(held.created);
    graph.dispose();
    expect(rt.memory().heldBuffers).toBe(0);
    x.dispose();
  });

  it('refuses a step that reads a new outside tensor each call, so it never replays stale inputs', async () => {
    const graph = newGraph();
    const values: number[] = [];
    for (let i = 0; i < 8; i++) {
      const x = tensor([i, i + 1]);
      const y = scope(() => graph.run('fresh', () => mul(x, 10)));
      values.push(...(await y.data()));
      y.dispose();
      x.dispose();
    }
    // The pool hands each new x the buffer the last one freed, so two captures agree; freeing the input the
    // kept capture reads makes it stale (captured again once, then eager for good).
    expect(values).toEqual(Array.from({ length: 8 }, (_, i) => [10 * i, 10 * i + 10]).flat());
    const s = graph.status('fresh');
    expect(s.mode).toBe('eager');
    expect(s.reason).toMatch(
      /captured twice and each time a buffer it reads that it did not allocate .* was freed/,
    );
  });

  it('refuses a step that reads a different outside tensor in each of its captures', async () => {
    const graph = newGraph();
    const xs = [0, 1, 2, 3, 4].map((i) => keep(tensor([i, i + 1])));
    const values: number[] = [];
    for (const x of xs) {
      const y = scope(() => graph.run('other', () => mul(x, 10)));
      values.push(...(await y.data()));
      y.dispose();
    }
    expect(values).toEqual([0, 10, 10, 20, 20, 30, 30, 40, 40, 50]);
    expect(graph.status('other').reason).toMatch(
      /differs between two calls: operation 1 \(mul\) binds another in0/,
    );
    for (const x of xs) x.dispose();
  });

  it('refuses a step whose uniforms change without being declared dynamic', async () => {
    const graph = newGraph();
    const x = keep(zeros([8]));
    let k = 0;
    const out: number[] = [];
    for (let i = 0; i < 5; i++) {
      k++;
      const y = scope(() => graph.run('scalar', () => add(x, k)));
      out.push((await y.data())[0]);
      y.dispose();
    }
    expect(out).toEqual([1, 2, 3, 4, 5]);
    expect(graph.status('scalar').reason).toMatch(/other uniform values/);
    x.dispose();
  });

  it('refuses a step that reads back from the GPU', async () => {
    const graph = newGraph();
    const x = keep(zeros([4]));
    for (let i = 0; i < 4; i++)
      scope(() =>
        graph.run('read', () => {
          const y = add(x, 1);
          void y.data();
          return y;
        }),
      ).dispose();
    await rt.sync();
    expect(graph.status('read').reason).toMatch(/cannot be replayed: it calls data\(\)/);
    x.dispose();
  });

  it('keys capture separately, and invalidateGraphs() makes a key capture again', async () => {
    const graph = newGraph();
    const a = keep(tensor([1, 2, 3]));
    const b = keep(tensor([1, 2, 3, 4, 5]));
    let calls = 0;
    const step = (x: Tensor, key: string) =>
      scope(() =>
        graph.run(key, () => {
          calls++;
          return mul(x, x);
        }),
      );
    for (let i = 0; i < 4; i++) {
      step(a, 'a').dispose();
      step(b, 'b').dispose();
    }
    expect(calls).toBe(6);
    expect(graph.status('a').mode).toBe('replaying');
    rt.invalidateGraphs();
    const y = step(a, 'a');
    expect(Array.from(await y.data())).toEqual([1, 4, 9]);
    y.dispose();
    expect(calls).toBe(7);
    expect(graph.status('a').mode).toBe('capturing');
    a.dispose();
    b.dispose();
  });

  it('returns the same structure of outputs at every replay, as new views of the same buffers', async () => {
    const graph = newGraph();
    const x = keep(tensor([1, 2]));
    let last: { double: Tensor; square: Tensor } | null = null;
    for (let i = 0; i < 5; i++) {
      last?.double.dispose();
      last?.square.dispose();
      last = scope(() => graph.run('rec', () => ({ double: mul(x, 2), square: mul(x, x) })));
    }
    expect(Array.from(await last!.double.data())).toEqual([2, 4]);
    expect(Array.from(await last!.square.data())).toEqual([1, 4]);
    last!.double.dispose();
    last!.square.dispose();
    x.dispose();
  });

  it('runWithInputs uploads each batch into static inputs kept per shape, and replays', async () => {
    const graph = newGraph();
    let calls = 0;
    const results: number[][] = [];
    for (let i = 0; i < 6; i++) {
      // Batches of two shapes in turn: each shape captures and replays on its own.
      const n = i % 2 === 0 ? 3 : 2;
      const a = Float32Array.from({ length: n }, (_, k) => i + k);
      const b = Int32Array.from({ length: n }, (_, k) => k);
      const y = scope(() =>
        graph.runWithInputs(
          'ab',
          [
            { data: a, shape: [n] },
            { data: b, shape: [n] },
          ],
          (x, idx) => {
            calls++;
            return mul(x, cast(add(idx, 1), 'f32'));
          },
        ),
      );
      results.push(Array.from(await y.data()));
      y.dispose();
    }
    expect(results).toEqual([
      [0, 2, 6],
      [1, 4],
      [2, 6, 12],
      [3, 8],
      [4, 10, 18],
      [5, 12],
    ]);
    // Three calls of each shape: warm-up and two captures, no replay yet.
    expect(calls).toBe(6);
    for (let i = 0; i < 2; i++)
      scope(() =>
        graph.runWithInputs(
          'ab',
          [
            { data: new Float32Array([7, 7, 7]), shape: [3] },
            { data: new Int32Array(3), shape: [3] },
          ],
          (x, idx) => {
            calls++;
            return mul(x, cast(add(idx, 1), 'f32'));
          },
        ),
      ).dispose();
    expect(calls).toBe(6);
    graph.dispose();
    expect(rt.memory().heldBuffers).toBe(0);
  });

  it('keeps every buffer a capture binds alive, even where the pool would destroy what is released', async () => {
    const pool = rt.pool;
    const cap = pool.maxPooledBytes;
    // Every release beyond the cap is destroyed: the step's intermediates would be, while being recorded.
    pool.maxPooledBytes = 0;
    try {
      const graph = newGraph();
      const x = keep(tensor([1, 2, 3, 4]));
      const out: number[][] = [];
      for (let i = 0; i < 6; i++) {
        // The step frees its intermediates itself, inside the capture (as a training step's scope does).
        const y = graph.run('cap', () => scope(() => add(mul(add(x, 1), 2), mul(x, x))));
        out.push(Array.from(await y.data()));
        y.dispose();
      }
      expect(graph.status('cap').mode).toBe('replaying');
      expect(out).toEqual(Array.from({ length: 6 }, () => [5, 10, 17, 26]));
      x.dispose();
    } finally {
      pool.maxPooledBytes = cap;
    }
  });

  it('MRISEG_REPLAY=0 and { enabled: false } run every call eagerly', () => {
    const graph = new StepGraph({ enabled: false });
    let calls = 0;
    for (let i = 0; i < 4; i++) graph.run('off', () => void calls++);
    expect(calls).toBe(4);
    expect(graph.status('off')).toEqual({ mode: 'eager', reason: 'replay is off' });
  });
});
