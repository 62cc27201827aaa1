import { Adam, createLoss } from '@mriseg/nn';
import { initDevice, noGrad, Rng, rand, StepGraph, scope } from '@mriseg/tensor-wgsl';
import { createModel } from '../dist/index.js';

const [name = 'unet', batch = '1', size = '256', iters = '20', replay = '1'] = process.argv.slice(2);
const rt = await initDevice({ dawnOptions: ['backend=null'] });
const rng = new Rng(0);
const model = createModel(name, { features: 32, rng });
const x = rand([Number(batch), 3, Number(size), Number(size)], rng, -1, 1);
const y = rand([Number(batch), 1, Number(size), Number(size)], rng, 0, 1);
const lossFn = createLoss('dice');
const opt = new Adam(model.parameters(), { lr: 1e-4 });
model.train();
const graph = new StepGraph({ enabled: replay === '1' });
const body = () => {
  opt.zeroGrad();
  const heads = model.forwardHeads(x);
  let loss = lossFn(heads[0], y);
  for (let k = 1; k < heads.length; k++) loss = loss.add(lossFn(heads[k], y));
  loss.backward();
  opt.step();
  return loss.detach();
};
const step = () =>
  scope(() => {
    graph.run('train', body);
  });
for (let i = 0; i < 5; i++) {
  step();
  await rt.sync();
}
console.log(JSON.stringify(graph.status('train')));
const ts = [];
let d0 = rt.counters.dispatches;
for (let i = 0; i < Number(iters); i++) {
  const t0 = performance.now();
  step();
  ts.push(performance.now() - t0);
  await rt.sync();
}
ts.sort((a, b) => a - b);
console.log(
  name,
  batch,
  size,
  'train host ms median',
  ts[ts.length >> 1].toFixed(2),
  'dispatches/step',
  (rt.counters.dispatches - d0) / Number(iters),
);
graph.dispose();
model.eval();
const ig = new StepGraph({ enabled: replay === '1' });
const inf = [];
d0 = rt.counters.dispatches;
for (let i = 0; i < Number(iters) + 5; i++) {
  const t0 = performance.now();
  scope(() => {
    ig.run('infer', () => noGrad(() => model.forward(x)));
  });
  if (i >= 5) inf.push(performance.now() - t0);
  await rt.sync();
}
inf.sort((a, b) => a - b);
console.log(JSON.stringify(ig.status('infer')));
console.log(
  name,
  'infer host ms median',
  inf[inf.length >> 1].toFixed(2),
  'dispatches',
  (rt.counters.dispatches - d0) / (Number(iters) + 5),
);
process.exit(0);
