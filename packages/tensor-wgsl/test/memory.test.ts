import { beforeAll, describe, expect, it } from 'vitest';
import { BufferPool } from '../src/buffer-pool.js';
import {
  add,
  bucketSize,
  concat,
  initDevice,
  keep,
  matmul,
  max,
  mean,
  memory,
  mul,
  pad,
  Rng,
  randn,
  relu,
  runtime,
  ShapeError,
  scope,
  scopeDepth,
  sigmoid,
  slice,
  sum,
  type Tensor,
  tensor,
  zeros,
} from '../src/index.js';

beforeAll(async () => {
  await initDevice();
});

const live = () => memory().liveBuffers;

/** A small forward pass touching most backward rules (broadcast add, reductions, layout ops). */
function forward(x: Tensor, w: Tensor, b: Tensor): Tensor {
  const h = relu(add(matmul(x, w), b));
  const c = concat([h, sigmoid(h)], 1);
  const p = slice(pad(c, [1, 1]), [null, { step: 2 }]);
  return add(mean(p), mul(sum(max(p, 1)), 0.1));
}

describe('memory', () => {
  it('100 forward+backward iterations inside a scope leave the live-buffer count unchanged', async () => {
    const rng = new Rng(1);
    const x = randn([4, 3], rng);
    const w = randn([3, 5], rng);
    const b = randn([5], rng);
    w.requiresGrad = true;
    b.requiresGrad = true;
    // Warm-up: the first step creates the parameters' .grad buffers; the second needs one more buffer per
    // parameter while it adds into them. From then on every step needs the same buffers.
    for (let i = 0; i < 2; i++) scope(() => forward(x, w, b).backward());
    await runtime().sync();
    const before = memory();
    for (let i = 0; i < 100; i++) scope(() => forward(x, w, b).backward());
    await runtime().sync();
    const after = memory();
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.liveBytes).toBe(before.liveBytes);
    // Every buffer of the later iterations came from the pool.
    expect(after.created).toBe(before.created);
    expect(after.reused).toBeGreaterThan(before.reused);
    for (const t of [x, w, b]) t.dispose();
  });

  it('backward outside any scope releases every temporary it makes', async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    const base = live();
    // sum/mean/max backward expand the upstream gradient through a reshaped view of it: the view must be freed.
    const outs = [sum(x, 1), mean(x, 0), max(x, 1, { keepdim: true }), add(x, tensor([1, 2, 3], [3]))];
    const bcastB = outs[3].gradFn!.inputs[1];
    const losses = outs.map((o) => sum(o));
    for (const l of losses) l.backward();
    for (const t of [...outs, ...losses, bcastB]) t.dispose();
    // Only x's gradient is left.
    expect(live()).toBe(base + 1);
    x.dispose();
    expect(live()).toBe(base - 1);
  });

  it('a backward that fails part-way releases the gradients it was holding', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = mul(x, 3);
    const l1 = sum(y);
    l1.backward();
    const gradBefore = x.grad;
    const l2 = sum(add(y, 1));
    const base = live();
    expect(() => l2.backward()).toThrow(/already used/);
    // The seed and the gradients computed before reaching the released node are gone again.
    expect(live()).toBe(base);
    expect(x.grad).toBe(gradBefore);
    for (const t of [x, y, l1, l2]) t.dispose();
  });

  it('a view keeps the buffer alive; disposing both frees it once', async () => {
    const base = live();
    const t = tensor([1, 2, 3, 4], [2, 2]);
    const v = t.view([4]);
    const r = t.reshape([4, 1]);
    expect(live()).toBe(base + 1);
    t.dispose();
    r.dispose();
    expect(live()).toBe(base + 1);
    expect(Array.from(await v.data())).toEqual([1, 2, 3, 4]);
    v.dispose();
    expect(live()).toBe(base);
    v.dispose();
    expect(live()).toBe(base);
    const u = tensor([1, 2, 3, 4], [4]);
    expect(() => u.view([5])).toThrow(/view: cannot view f32\[4\] as \[5\]/);
    expect(() => u.view([2, 3])).toThrow(ShapeError);
    u.dispose();
  });

  it('scope returns nested results (arrays, objects, Maps) alive and disposes everything else', async () => {
    const base = live();
    const made: Tensor[] = [];
    const result = scope(() => {
      const a = tensor([1, 2]);
      const b = add(a, 1);
      const c = mul(b, 2);
      const d = mul(c, 3);
      const tmp = add(d, 0);
      made.push(a, b, c, d, tmp);
      return { pair: [a, { deep: c }], map: new Map([['d', d]]), n: 3 };
    });
    expect(made.map((t) => t.disposed)).toEqual([false, true, false, false, true]);
    expect(live()).toBe(base + 3);
    expect(Array.from(await (result.map.get('d') as Tensor).data())).toEqual([12, 18]);
    for (const t of made) t.dispose();
    expect(live()).toBe(base);
  });

  it('inner scope results move to the enclosing scope and die with it unless returned', () => {
    let inner: Tensor | null = null;
    let escaped: Tensor | null = null;
    const base = live();
    const out = scope(() => {
      inner = scope(() => tensor([1]));
      escaped = scope(() => tensor([2]));
      expect(scopeDepth()).toBe(1);
      return escaped;
    });
    expect(scopeDepth()).toBe(0);
    expect(inner!.disposed).toBe(true);
    expect(out).toBe(escaped);
    expect(out.disposed).toBe(false);
    out.dispose();
    expect(live()).toBe(base);
  });

  it('keep() takes a tensor out of every enclosing scope', () => {
    let kept: Tensor | null = null;
    scope(() =>
      scope(() => {
        kept = keep(tensor([1, 2, 3]));
      }),
    );
    expect(kept!.disposed).toBe(false);
    kept!.dispose();
  });

  it('a scope whose fn throws disposes its tensors and rethrows', () => {
    const base = live();
    let t: Tensor | null = null;
    expect(() =>
      scope(() => {
        t = tensor([1, 2]);
        add(t, t);
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(t!.disposed).toBe(true);
    expect(live()).toBe(base);
    expect(scopeDepth()).toBe(0);
  });

  it('an async fn is refused', async () => {
    expect(() => scope(async () => 1)).toThrow(/Promise/);
    expect(scopeDepth()).toBe(0);
  });

  it('use after dispose throws a clear error naming the tensor', async () => {
    const t = tensor([1, 2], [2], { name: 'encoder1.weight' });
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => add(t, 1)).toThrow(/"encoder1.weight" f32\[2\] was used after dispose\(\)/);
    await expect(t.data()).rejects.toThrow(/encoder1.weight/);
    expect(() => t.view([2])).toThrow(/after dispose/);
  });

  it('dispose also frees the gradient', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    scope(() => sum(mul(x, x)).backward());
    const g = x.grad!;
    x.dispose();
    expect(g.disposed).toBe(true);
    expect(x.grad).toBeNull();
  });
});

describe('buffer pool', () => {
  it('bucketSize rounds up to multiples of 256 at most ~19% above the request, monotonically', () => {
    let prev = 0;
    for (let bytes = 1; bytes < 5_000_000; bytes = Math.ceil(bytes * 1.07) + 3) {
      const b = bucketSize(bytes);
      expect(b).toBeGreaterThanOrEqual(bytes);
      expect(b % 256).toBe(0);
      expect(b).toBeLessThanOrEqual(Math.max(256, bytes * 1.19 + 256));
      expect(b).toBeGreaterThanOrEqual(prev);
      prev = b;
    }
    expect(bucketSize(1)).toBe(256);
    expect(bucketSize(256)).toBe(256);
    expect(bucketSize(1 << 20)).toBe(1 << 20);
  });

  it('released buffers are reused for tensors of the same bucket', () => {
    const pool = runtime().pool;
    const a = zeros([1000]);
    const buf = a.buffer;
    expect(buf.size).toBe(bucketSize(4000));
    a.dispose();
    const s0 = memory();
    // 990 floats fall in the same bucket as 1000.
    expect(bucketSize(3960)).toBe(bucketSize(4000));
    const b = zeros([990]);
    const s1 = memory();
    expect(b.buffer).toBe(buf);
    expect(s1.reused).toBe(s0.reused + 1);
    expect(s1.created).toBe(s0.created);
    expect(s1.pooledBuffers).toBe(s0.pooledBuffers - 1);
    b.dispose();
    expect(pool.snapshot().pooledBytes).toBeGreaterThanOrEqual(buf.size);
  });

  it('trim() right after a dispose does not destroy a buffer that recorded work still uses', async () => {
    const t = tensor([1, 2, 3]);
    // Recorded, not yet submitted: its output buffer goes back to the pool at once.
    mul(t, 2).dispose();
    expect(runtime().hasPendingWork).toBe(true);
    runtime().pool.trim();
    const y = scope(() => add(t, 1));
    expect(Array.from(await y.data())).toEqual([2, 3, 4]);
    for (const x of [t, y]) x.dispose();
  });

  it('a pool over its byte limit hands released buffers to its destroy hook instead of keeping them', () => {
    const destroyed: GPUBuffer[] = [];
    const pool = new BufferPool(runtime().device, 1000, (b) => destroyed.push(b));
    const a = pool.acquire(600, 'a');
    const b = pool.acquire(600, 'b');
    pool.release(a);
    pool.release(b);
    expect(destroyed).toEqual([b]);
    expect(pool.snapshot()).toMatchObject({ liveBuffers: 0, pooledBuffers: 1, created: 2 });
    pool.trim();
    expect(destroyed).toEqual([b, a]);
    for (const x of destroyed) x.destroy();
  });

  it('trim() destroys pooled buffers and resetPeak() restarts the peak', () => {
    const pool = runtime().pool;
    zeros([5000]).dispose();
    expect(memory().pooledBuffers).toBeGreaterThan(0);
    pool.trim();
    const s = memory();
    expect(s.pooledBuffers).toBe(0);
    expect(s.pooledBytes).toBe(0);
    pool.resetPeak();
    expect(memory().peakBytes).toBe(s.liveBytes);
    const t = zeros([100000]);
    expect(memory().peakBytes).toBeGreaterThanOrEqual(s.liveBytes + 400000);
    t.dispose();
  });

  it('peakLiveBytes counts buffers in use, not the free ones the pool keeps', () => {
    const pool = runtime().pool;
    pool.trim();
    pool.resetPeak();
    const base = memory().liveBytes;
    // A freed buffer of another size stays pooled: it counts in the reserved peak, not in the live one.
    zeros([300000]).dispose();
    const t = zeros([200000]);
    const s = memory();
    expect(s.peakLiveBytes).toBe(base + bucketSize(1_200_000));
    expect(s.peakBytes).toBeGreaterThanOrEqual(s.liveBytes + s.pooledBytes);
    expect(s.peakBytes).toBeGreaterThan(s.peakLiveBytes);
    t.dispose();
  });
});
