import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineKernel, initDevice, type Kernel, tensor, WebGPUError } from '../src/index.js';

const rt = await initDevice();
const timestamps = rt.hasFeature('timestamp-query');
afterEach(() => vi.restoreAllMocks());

const oneBuffer = (name: string, code: string): Kernel =>
  defineKernel(`test.profile|${name}`, {
    name,
    storage: [{ name: 'b', access: 'read_write' }],
    workgroupSize: 64,
    code,
  });

// Adds 1 to each of the first 64 elements.
const CHEAP = 'fn main(@builtin(global_invocation_id) g: vec3u) { b[g.x] = b[g.x] + 1.0; }';

// A long dependent chain per invocation, so that it takes far longer than CHEAP on any adapter.
const COSTLY = `fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = b[g.x];
  for (var k = 0u; k < 200000u; k++) { acc = acc * 0.99999 + 1.0; }
  b[g.x] = acc;
}`;

const cheap = (buf: GPUBuffer, name = 'prof_cheap') =>
  rt.dispatchKernel(oneBuffer(name, CHEAP), { b: buf }, null, [1]);

/** Records, for every compute pass begun from now on, whether it writes timestamps. */
function watchPasses(): ('timed' | 'plain')[] {
  const passes: ('timed' | 'plain')[] = [];
  const create = rt.device.createCommandEncoder.bind(rt.device);
  vi.spyOn(rt.device, 'createCommandEncoder').mockImplementation((descriptor) => {
    const encoder = create(descriptor);
    const begin = encoder.beginComputePass.bind(encoder);
    encoder.beginComputePass = (d) => {
      passes.push(d?.timestampWrites ? 'timed' : 'plain');
      return begin(d);
    };
    return encoder;
  });
  return passes;
}

describe('GPU profile', () => {
  it.skipIf(!timestamps)(
    'attributes GPU time to each op name and counts every dispatch and copy',
    async () => {
      const a = tensor(new Float32Array(64), [64]);
      const b = tensor(new Float32Array(64), [64]);
      await rt.sync();
      rt.startProfile();
      expect(rt.profiling).toBe(true);
      cheap(a.buffer);
      rt.dispatchKernel(oneBuffer('prof_costly', COSTLY), { b: b.buffer }, null, [1]);
      cheap(a.buffer);
      rt.copyBuffer(a.buffer, 0, b.buffer, 0, 16);
      const p = await rt.stopProfile();
      expect(rt.profiling).toBe(false);
      // No assertion compares durations: under load a CPU driver's timestamps can put a cheap pass above a costly
      // one. What must hold whatever the clock says: every name dispatched is there with its own count, nothing
      // else is, every time is a finite non-negative number, the ops are listed by time, and they add up.
      const counts = Object.fromEntries(p.ops.map((o) => [o.name, o.dispatches]));
      expect(counts).toEqual({ prof_costly: 1, prof_cheap: 2 });
      expect(p.dispatches).toBe(3);
      expect(p.copies).toBe(1);
      for (const o of p.ops) {
        expect(Number.isFinite(o.totalMs), o.name).toBe(true);
        expect(o.totalMs, o.name).toBeGreaterThanOrEqual(0);
      }
      for (let i = 1; i < p.ops.length; i++)
        expect(p.ops[i - 1].totalMs).toBeGreaterThanOrEqual(p.ops[i].totalMs);
      expect(p.totalMs).toBeCloseTo(
        p.ops.reduce((sum, o) => sum + o.totalMs, 0),
        9,
      );
      // The kernels ran as usual.
      const [va, vb] = [await a.data(), await b.data()];
      expect(va[0]).toBe(2);
      expect(vb[0]).toBe(2);
      expect(vb[1]).toBe(2);
      expect(vb[4]).toBeGreaterThan(1000);
      a.dispose();
      b.dispose();
    },
  );

  it.skipIf(!timestamps)(
    'gives a profile of one op name all of its time, with nanosecond timestamps',
    async () => {
      const b = tensor(new Float32Array(64), [64]);
      await rt.sync();
      rt.startProfile();
      rt.dispatchKernel(oneBuffer('prof_alone', COSTLY), { b: b.buffer }, null, [1]);
      const p = await rt.stopProfile();
      expect(p.ops.map((o) => [o.name, o.dispatches])).toEqual([['prof_alone', 1]]);
      expect(p.ops[0].totalMs).toBe(p.totalMs);
      expect(Number.isFinite(p.totalMs)).toBe(true);
      expect(p.totalMs).toBeGreaterThanOrEqual(0);
      // Dawn rounds timestamps to 65,536 ns unless told not to (Node): a kernel of this length is then not a multiple.
      if (p.totalMs > 0) expect(Math.round(p.totalMs * 1e6) % 65_536).not.toBe(0);
      expect((await b.data())[0]).toBeGreaterThan(1000);
      b.dispose();
    },
  );

  it.skipIf(!timestamps)(
    'keeps every dispatch across forced submits, readbacks and full query sets',
    async () => {
      const a = tensor(new Float32Array(64), [64]);
      await rt.sync();
      const submits = rt.counters.submits;
      rt.startProfile();
      // 37 then a readback leaves a query set part used, and the next resolve must start on an aligned query;
      // 1100 more cross the 512-dispatch submit and the 1024-dispatch query set.
      for (let i = 0; i < 37; i++) cheap(a.buffer, 'prof_first');
      expect((await a.data())[0]).toBe(37);
      for (let i = 0; i < 1100; i++) cheap(a.buffer, i % 3 === 0 ? 'prof_third' : 'prof_rest');
      const p = await rt.stopProfile();
      expect(rt.counters.submits - submits).toBeGreaterThanOrEqual(4);
      const counts = Object.fromEntries(p.ops.map((o) => [o.name, o.dispatches]));
      expect(counts).toEqual({ prof_first: 37, prof_third: 367, prof_rest: 733 });
      expect(p.dispatches).toBe(1137);
      expect(Number.isFinite(p.totalMs)).toBe(true);
      expect((await a.data())[0]).toBe(1137);
      a.dispose();
    },
  );

  it.skipIf(!timestamps)('gives each dispatch its own timed pass only while profiling', async () => {
    const a = tensor(new Float32Array(64), [64]);
    await rt.sync();
    const passes = watchPasses();
    const three = async () => {
      for (let i = 0; i < 3; i++) cheap(a.buffer);
      await rt.sync();
      return passes.splice(0);
    };
    expect(await three()).toEqual(['plain']);
    rt.startProfile();
    expect(await three()).toEqual(['timed', 'timed', 'timed']);
    await rt.stopProfile();
    expect(await three()).toEqual(['plain']);
    expect((await a.data())[0]).toBe(9);
    a.dispose();
  });

  it('says which feature is missing, and refuses to nest or stop what was not started', async () => {
    await expect(rt.stopProfile()).rejects.toThrow(/without startProfile/);
    const has = rt.hasFeature.bind(rt);
    vi.spyOn(rt, 'hasFeature').mockImplementation((f) => f !== 'timestamp-query' && has(f));
    expect(() => rt.startProfile()).toThrow(WebGPUError);
    expect(() => rt.startProfile()).toThrow(/'timestamp-query'/);
    expect(rt.profiling).toBe(false);
    vi.restoreAllMocks();
    rt.startProfile();
    expect(() => rt.startProfile()).toThrow(/already running/);
    const p = await rt.stopProfile();
    expect(p).toEqual({ ops: [], dispatches: 0, totalMs: 0, copies: 0 });
  });
});
