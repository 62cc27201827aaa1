#!/usr/bin/env node
/**
 * What a training step and an inference batch dispatch at the GPU's shape, without a GPU: every dispatch and
 * buffer copy of the second training step (Adam + Dice) and of one inference batch is recorded instead of run,
 * with the workgroups it launches. The runtime is told it is a GPU with the H100's limits (2 GiB storage
 * bindings, 48 KiB workgroup memory) so that the GPU's tilings and image splits are chosen; nothing executes, so
 * batch 16 at 256² costs a second on a CPU driver. Kernels launching fewer than 264 workgroups (two per H100
 * multiprocessor) are counted: they cannot fill the card. The buffer pool's peak (counted on the host, so the same
 * as on a GPU with these tilings) is printed as `bench` reports it. Run on the built packages:
 *   node bench/launch-audit.mjs [unet|attention-unet|unet++] [batch] [size]
 */
import { Adam, createLoss } from '@mriseg/nn';
import { initDevice, noGrad, Rng, Runtime, rand, scope } from '@mriseg/tensor-wgsl';
import { createModel } from '../dist/index.js';

const [name = 'unet', batch = '16', size = '256'] = process.argv.slice(2);
const FEW_WORKGROUPS = 264;

const rt = await initDevice();
const limits = {};
for (const k in rt.device.limits) limits[k] = rt.device.limits[k];
Object.assign(limits, {
  maxStorageBufferBindingSize: 2 ** 31 - 4,
  maxBufferSize: 2 ** 31 - 4,
  maxComputeWorkgroupStorageSize: 49152,
  maxComputeInvocationsPerWorkgroup: 1024,
});
Object.defineProperty(Runtime.prototype, 'limits', { get: () => limits });
rt.report.isCpu = false;

let phase = 'train';
const records = [];
Runtime.prototype.dispatchKernel = (kernel, _bindings, uniforms, workgroups) => {
  // Dynamic uniforms are computed as at a real dispatch (an optimizer's advance its host state).
  if (typeof uniforms === 'function') uniforms();
  const [x, y = 1, z = 1] = workgroups;
  records.push({ phase, name: kernel.name, workgroups: x * y * z, threads: kernel.threads });
};
Runtime.prototype.copyBuffer = (_src, _so, _dst, _do, bytes) => {
  records.push({ phase, name: 'buffer copy', workgroups: 0, threads: 0, bytes });
};

const rng = new Rng(0);
const model = createModel(name, { features: 32, rng });
const x = rand([Number(batch), 3, Number(size), Number(size)], rng, -1, 1);
const y = rand([Number(batch), 1, Number(size), Number(size)], rng, 0, 1);
const lossFn = createLoss('dice');
const opt = new Adam(model.parameters(), { lr: 1e-4 });
model.train();
const step = () =>
  scope(() => {
    opt.zeroGrad();
    const heads = model.forwardHeads(x);
    let loss = lossFn(heads[0], y);
    for (let k = 1; k < heads.length; k++) loss = loss.add(lossFn(heads[k], y));
    if (heads.length > 1) loss = loss.mul(1 / heads.length);
    loss.backward();
    opt.step();
  });
const MiB = 2 ** 20;
// The buffer pool's peak is counted on the host (the same whether or not the kernels run, but it depends on the
// tilings: the weight gradients' split-K partial sums): as `bench` reports it, over the first two training steps
// (the first creates the optimizer's state), then over one inference batch with the pool emptied in between.
rt.pool.resetPeak();
step();
records.length = 0;
step();
const peakTrain = rt.memory().peakBytes / MiB;
phase = 'inference';
opt.zeroGrad();
opt.dispose();
model.eval();
rt.pool.trim();
rt.pool.resetPeak();
scope(() => noGrad(() => model.forward(x)));
const peakInfer = rt.memory().peakBytes / MiB;

const rows = new Map();
for (const r of records) {
  const key = `${r.phase}|${r.name}`;
  const row = rows.get(key) ?? { ...r, calls: 0, min: Infinity, max: 0, few: 0, bytes: 0 };
  row.calls++;
  row.min = Math.min(row.min, r.workgroups);
  row.max = Math.max(row.max, r.workgroups);
  row.bytes += r.bytes ?? 0;
  if (r.name !== 'buffer copy' && r.workgroups < FEW_WORKGROUPS) row.few++;
  rows.set(key, row);
}
const count = (p) => records.filter((r) => r.phase === p && r.name !== 'buffer copy').length;
const copies = (p) => records.filter((r) => r.phase === p && r.name === 'buffer copy').length;
console.log(
  `${name} f32 batch ${batch} ${size}²: training step ${count('train')} dispatches + ${copies('train')} buffer copies; inference ${count('inference')} dispatches + ${copies('inference')} copies`,
);
console.log(
  `peak GPU memory (buffer pool): training ${peakTrain.toFixed(1)} MiB, inference ${peakInfer.toFixed(1)} MiB\n`,
);
console.log(
  `| phase | kernel | calls | workgroups min–max | threads a workgroup | calls under ${FEW_WORKGROUPS} workgroups |`,
);
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const r of [...rows.values()].sort(
  (a, b) => a.phase.localeCompare(b.phase) || b.few - a.few || b.calls - a.calls,
))
  console.log(
    r.name === 'buffer copy'
      ? `| ${r.phase} | buffer copy | ${r.calls} | ${(r.bytes / 2 ** 20).toFixed(1)} MiB | | |`
      : `| ${r.phase} | ${r.name} | ${r.calls} | ${r.min}–${r.max} | ${r.threads} | ${r.few} |`,
  );
