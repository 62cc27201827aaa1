import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adapterInfo,
  add,
  dawnOptionsFor,
  defineKernel,
  hasRuntime,
  initDevice,
  mul,
  NoAdapterError,
  runtime,
  scope,
  tensor,
  WebGPUError,
} from '../src/index.js';

const PKG = fileURLToPath(new URL('../', import.meta.url));

beforeAll(async () => {
  await initDevice();
});

describe('adapter report', () => {
  it('reports the adapter, whether it is a CPU driver, its features and its limits', async () => {
    const info = await adapterInfo();
    expect(typeof info.vendor).toBe('string');
    expect(`${info.vendor}${info.description}${info.device}`.length).toBeGreaterThan(0);
    expect(typeof info.isCpu).toBe('boolean');
    const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
    if (/llvmpipe|lavapipe|swiftshader/.test(text)) expect(info.isCpu).toBe(true);
    expect(info.features).toEqual([...info.features].sort());
    for (const f of info.features) expect(runtime().hasFeature(f)).toBe(true);
    // The spec's guaranteed minimums: anything lower means the limits were not read.
    const minimums: Record<string, number> = {
      maxStorageBufferBindingSize: 128 * 2 ** 20,
      maxBufferSize: 256 * 2 ** 20,
      maxComputeWorkgroupStorageSize: 16384,
      maxStorageBuffersPerShaderStage: 8,
      maxComputeInvocationsPerWorkgroup: 256,
    };
    for (const [name, min] of Object.entries(minimums)) {
      expect(info.limits[name], name).toBeGreaterThanOrEqual(min);
      // The device is created with the adapter's own limits, not the defaults.
      const adapterLimit = (runtime().adapter.limits as unknown as Record<string, number>)[name];
      expect(info.limits[name], name).toBe(adapterLimit);
    }
  });

  it('initDevice is idempotent and the runtime is shared', async () => {
    const a = await initDevice();
    const b = await initDevice({ validate: true });
    expect(a).toBe(b);
    expect(runtime()).toBe(a);
    expect(hasRuntime()).toBe(true);
  });
});

/** A kernel whose shader does not compile, named `name`. */
const invalid = (name: string) =>
  defineKernel(`test.invalid|${name}`, {
    name,
    storage: [{ name: 'x', access: 'read_write' }],
    workgroupSize: 1,
    code: 'fn main() { x[0] = not_declared; }',
  });

describe('WebGPU errors', () => {
  it('an invalid shader surfaces as a WebGPUError naming the op at the next data()', async () => {
    const t = tensor([1, 2, 3]);
    const before = scope(() => add(t, 1));
    runtime().dispatchKernel(invalid('deliberately_invalid'), { x: t.buffer }, null, [1]);
    const err = await before.data().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WebGPUError);
    expect((err as Error).message).toMatch(/deliberately_invalid/);
    expect((err as Error).message).toMatch(/not_declared/);
    // The error is reported once; later work runs normally.
    const after = scope(() => mul(t, 2));
    expect(Array.from(await after.data())).toEqual([2, 4, 6]);
    for (const x of [t, before, after]) x.dispose();
  });

  it('and at the next sync()', async () => {
    const t = tensor([1]);
    runtime().dispatchKernel(invalid('invalid_before_sync'), { x: t.buffer }, null, [1]);
    await expect(runtime().sync()).rejects.toThrow(/invalid_before_sync/);
    await expect(runtime().sync()).resolves.toBeUndefined();
    t.dispose();
  });

  it('an error from an earlier submit still names its op when later submits ran before the check', async () => {
    const t = tensor([1, 2, 3]);
    runtime().dispatchKernel(invalid('early_invalid'), { x: t.buffer }, null, [1]);
    const submitsBefore = runtime().counters.submits;
    // More dispatches than one submit holds: the invalid one ends up in an earlier command buffer.
    const out = scope(() => {
      let x = t;
      for (let i = 0; i < 600; i++) x = add(x, 1);
      return x;
    });
    expect(runtime().counters.submits).toBeGreaterThan(submitsBefore);
    // Dawn's own text names the shader's label too; the runtime's list of candidate ops must include it as well.
    await expect(out.data()).rejects.toThrow(/\(ops [^;(]*early_invalid[^;(]*;/);
    for (const x of [t, out]) x.dispose();
  });

  it('a dispatch larger than the per-dimension limit is refused before it reaches the GPU', () => {
    const t = tensor([1]);
    const max = runtime().limits.maxComputeWorkgroupsPerDimension;
    expect(() => runtime().dispatchKernel(invalid('huge'), { x: t.buffer }, null, [max + 1])).toThrow(
      /huge: dispatch of \d+×1×1 workgroups exceeds the limit/,
    );
    t.dispose();
  });
});

describe('command recording', () => {
  it('copyBuffer is ordered with the dispatches around it', async () => {
    const a = tensor([1, 2, 3, 4]);
    const b = tensor([0, 0, 0, 0]);
    const c = scope(() => {
      const a2 = mul(a, 10);
      runtime().copyBuffer(a2.buffer, 4, b.buffer, 0, 8);
      return add(b, 1);
    });
    expect(Array.from(await c.data())).toEqual([21, 31, 1, 1]);
    for (const x of [a, b, c]) x.dispose();
  });

  it('reads requested together all resolve with their own values', async () => {
    const ts = [1, 2, 3, 4, 5].map((k) => scope(() => mul(tensor([k, k + 0.5], [2]), 2)));
    const got = await Promise.all(ts.map((t) => t.data()));
    expect(got.map((v) => Array.from(v))).toEqual([1, 2, 3, 4, 5].map((k) => [2 * k, 2 * k + 1]));
    for (const t of ts) t.dispose();
  });

  it('a long chain without reads is submitted in batches and stays correct', async () => {
    const t = tensor([0]);
    const submits = runtime().counters.submits;
    const out = scope(() => {
      let x = t;
      for (let i = 0; i < 1500; i++) x = add(x, 1);
      return x;
    });
    expect(runtime().counters.submits - submits).toBeGreaterThanOrEqual(2);
    expect(runtime().hasPendingWork).toBe(true);
    expect(await out.item()).toBe(1500);
    expect(runtime().hasPendingWork).toBe(false);
    for (const x of [t, out]) x.dispose();
  });
});

describe('GPU timing', () => {
  it('timeGpu runs the work it measures and grows with the amount of work', async () => {
    const rt = runtime();
    const x = tensor(new Float32Array(1 << 16).fill(1));
    let out: ReturnType<typeof tensor> | null = null;
    const run = (n: number) => () => {
      out?.dispose();
      out = scope(() => {
        let y = x;
        for (let i = 0; i < n; i++) y = add(y, 1);
        return y;
      });
    };
    const small = await rt.timeGpu(run(2));
    expect(out!.size).toBe(1 << 16);
    expect(Array.from((await out!.data()).slice(0, 2))).toEqual([3, 3]);
    const large = await rt.timeGpu(run(400));
    expect(Array.from((await out!.data()).slice(0, 2))).toEqual([401, 401]);
    if (!rt.hasFeature('timestamp-query')) {
      expect(small).toBeNull();
      expect(large).toBeNull();
    } else {
      // 200× the dispatches: even with quantised timestamps the longer run must measure longer.
      expect(small!).toBeGreaterThanOrEqual(0);
      expect(large!).toBeGreaterThan(small!);
    }
    out!.dispose();
    x.dispose();
  });
});

describe('Dawn options', () => {
  it('turn timestamp rounding off, and robustness off only when asked', () => {
    expect(dawnOptionsFor({})).toEqual(['disable-dawn-features=timestamp_quantization']);
    expect(dawnOptionsFor({ robustness: true }, { MRISEG_ROBUSTNESS: '0' })).toEqual([
      'disable-dawn-features=timestamp_quantization',
    ]);
    const off = [
      'disable-dawn-features=timestamp_quantization',
      'enable-dawn-features=disable_robustness,disable_workgroup_init',
    ];
    expect(dawnOptionsFor({ robustness: false })).toEqual(off);
    expect(dawnOptionsFor({}, { MRISEG_ROBUSTNESS: '0' })).toEqual(off);
    expect(dawnOptionsFor({}, { MRISEG_ROBUSTNESS: '1' })).toEqual([off[0]]);
  });

  it("merge into the caller's own toggle lists without repeating a toggle", () => {
    expect(
      dawnOptionsFor(
        {
          robustness: false,
          dawnOptions: [
            'backend=vulkan',
            'enable-dawn-features=allow_unsafe_apis,disable_robustness',
            'disable-dawn-features=foo',
          ],
        },
        {},
      ),
    ).toEqual([
      'backend=vulkan',
      'enable-dawn-features=allow_unsafe_apis,disable_robustness,disable_workgroup_init',
      'disable-dawn-features=foo,timestamp_quantization',
    ]);
    // The caller's own choice about timestamps stands.
    expect(dawnOptionsFor({ dawnOptions: ['enable-dawn-features=timestamp_quantization'] })).toEqual([
      'enable-dawn-features=timestamp_quantization',
    ]);
  });
});

describe('runtime in a separate process', () => {
  // The runtime is a process-wide singleton, so adapter selection and validate mode are checked in child
  // processes running the package source bundled with esbuild. The bundle lives inside the package so that
  // the child resolves the same `webgpu` package as the tests.
  let work = '';
  let bundle = '';

  beforeAll(() => {
    mkdirSync(join(PKG, 'node_modules'), { recursive: true });
    work = mkdtempSync(join(PKG, 'node_modules', '.mriseg-test-'));
    bundle = join(work, 'index.mjs');
    buildSync({
      entryPoints: [join(PKG, 'src/index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile: bundle,
      external: ['webgpu'],
      logLevel: 'silent',
    });
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function runChild(body: string, env: Record<string, string | undefined>): Record<string, unknown> {
    const script = join(work, `child-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(
      script,
      `import * as m from './index.mjs';\ntry {\n${body}\n} catch (e) {\n` +
        '  console.log(JSON.stringify({ thrown: true, name: e.name, message: e.message, isWebGPUError: e instanceof m.WebGPUError, isNoAdapter: e instanceof m.NoAdapterError }));\n}\n',
    );
    const r = spawnSync(process.execPath, [script], {
      env: env as NodeJS.ProcessEnv,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const line = r.stdout
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('{'));
    if (!line) throw new Error(`child printed no result (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(line) as Record<string, unknown>;
  }

  it('without any Vulkan driver initDevice rejects with the documented NoAdapterError', () => {
    const empty = mkdtempSync(join(tmpdir(), 'mriseg-novk-'));
    try {
      const env: Record<string, string | undefined> = {
        ...process.env,
        VK_ICD_FILENAMES: join(empty, 'no-such-icd.json'),
        MRISEG_VULKAN_DIR: empty,
      };
      delete env.VK_DRIVER_FILES;
      const r = runChild('await m.initDevice(); console.log(JSON.stringify({ thrown: false }));', env);
      expect(r.thrown).toBe(true);
      expect(r.name).toBe('NoAdapterError');
      expect(r.isNoAdapter).toBe(true);
      // It got as far as asking for an adapter (the webgpu package itself loaded).
      expect(r.message).toMatch(/no WebGPU adapter \(requestAdapter\(\) returned null\)/);
      // It says what to install, not only a script of the repository (which an npm user does not have).
      expect(r.message).toMatch(/libvulkan1/);
      expect(r.message).toMatch(/Mesa >= 25 lavapipe/);
      expect(r.message).toMatch(/VK_ICD_FILENAMES/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('NoAdapterError is exported with the documented name and hint', () => {
    const e = new NoAdapterError('detail');
    expect(e.name).toBe('NoAdapterError');
    expect(e.message).toMatch(/^mriseg: no WebGPU adapter \(detail\)/);
  });

  it('MRISEG_VALIDATE=1 pins a WebGPU error to the exact op that caused it', () => {
    const r = runChild(
      `const rt = await m.initDevice();
const t = m.tensor([1, 2, 3]);
const a = m.add(t, 1);
const bad = m.defineKernel('test.child.invalid', { name: 'the_bad_op', storage: [{ name: 'x', access: 'read_write' }], workgroupSize: 1, code: 'fn main() { x[0] = not_declared; }' });
rt.dispatchKernel(bad, { x: t.buffer }, null, [1]);
const b = m.mul(a, 2);
await b.data();
console.log(JSON.stringify({ thrown: false, validate: rt.validate }));`,
      { ...process.env, MRISEG_VALIDATE: '1' },
    );
    expect(r.thrown).toBe(true);
    expect(r.isWebGPUError).toBe(true);
    // Validate mode names the op first, not the list of ops in the failing submit.
    expect(r.message).toMatch(/^the_bad_op: /);
    expect(r.message).toMatch(/not_declared/);
  });

  it('a lost device turns later ops and reads into WebGPUErrors', () => {
    const r = runChild(
      `const rt = await m.initDevice();
const t = m.tensor([1, 2, 3]);
rt.device.destroy();
await rt.device.lost;
m.add(t, 1);
console.log(JSON.stringify({ thrown: false }));`,
      { ...process.env },
    );
    expect(r.thrown).toBe(true);
    expect(r.isWebGPUError).toBe(true);
    expect(r.message).toMatch(/^add: the GPU device was lost/);
  });

  it('destroy() releases the device and a later initDevice() starts a working new runtime', () => {
    const r = runChild(
      `const rt = await m.initDevice();
const before = await m.tensor([1, 2]).data();
rt.destroy();
const hadRuntime = m.hasRuntime();
const rt2 = await m.initDevice();
const v = await m.mul(m.tensor([1, 2]), 3).data();
console.log(JSON.stringify({ thrown: false, hadRuntime, fresh: rt2 !== rt, v: Array.from(v), before: Array.from(before) }));`,
      { ...process.env },
    );
    expect(r).toEqual({ thrown: false, hadRuntime: false, fresh: true, v: [3, 6], before: [1, 2] });
  });

  // Reads a[i + 1] of a 4-element workgroup array: thread 3 reads one past the end. With robustness Dawn clamps
  // the index (a[3] = 13); without, the read lands outside a (b follows it on lavapipe: 20).
  const OUT_OF_BOUNDS = `const rt = await m.initDevice();
const t = m.zeros([4]);
const code = \`var<workgroup> a: array<f32, 4>;
var<workgroup> b: array<f32, 4>;
fn main(@builtin(local_invocation_index) i: u32) {
  a[i] = f32(i) + 10.0; b[i] = f32(i) + 20.0;
  workgroupBarrier();
  out[i] = a[i + u32(out[i] + 1.0)];
}\`;
const probe = m.defineKernel('test.probe', { name: 'probe', storage: [{ name: 'out', access: 'read_write' }], workgroupSize: 4, code });
rt.dispatchKernel(probe, { out: t.buffer }, null, [1]);
const v = Array.from(await t.data());
console.log(JSON.stringify({ thrown: false, robustness: rt.robustness, v }));`;

  it('keeps array indexing clamped into bounds by default', () => {
    const r = runChild(OUT_OF_BOUNDS, { ...process.env, MRISEG_ROBUSTNESS: undefined });
    expect(r).toEqual({ thrown: false, robustness: true, v: [11, 12, 13, 13] });
  });

  it('MRISEG_ROBUSTNESS=0 reaches the device: the clamps are gone', () => {
    const r = runChild(OUT_OF_BOUNDS, { ...process.env, MRISEG_ROBUSTNESS: '0' });
    expect(r.robustness).toBe(false);
    expect((r.v as number[]).slice(0, 3)).toEqual([11, 12, 13]);
    expect((r.v as number[])[3]).not.toBe(13);
  });

  it('refuses to re-create Dawn with other options in the same process', () => {
    const r = runChild(
      `const rt = await m.initDevice();
rt.destroy();
await m.initDevice({ robustness: false });
console.log(JSON.stringify({ thrown: false }));`,
      { ...process.env, MRISEG_ROBUSTNESS: undefined },
    );
    expect(r.thrown).toBe(true);
    expect(r.message).toMatch(/cannot be created again with .*disable_robustness.*start a new process/);
  });

  it('validate mode stays quiet for valid work', () => {
    const r = runChild(
      `const rt = await m.initDevice();
const v = await m.sum(m.mul(m.tensor([1, 2, 3]), 2)).data();
console.log(JSON.stringify({ thrown: false, validate: rt.validate, value: v[0] }));`,
      { ...process.env, MRISEG_VALIDATE: '1' },
    );
    expect(r).toEqual({ thrown: false, validate: true, value: 12 });
  });
});
