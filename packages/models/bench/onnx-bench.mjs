#!/usr/bin/env node
/**
 * ONNX Runtime (onnxruntime-node, CPU) on mriseg's ONNX exports: BatchNorm folded into the convolutions against
 * BatchNormalization nodes, with ONNX Runtime's graph optimizations on (its default, which fuses Conv +
 * BatchNormalization itself) and off (what a runtime without that fusion does). Run on the built packages:
 *   node bench/onnx-bench.mjs                       # U-Net f 32, batch 1, 256²
 *   node bench/onnx-bench.mjs --model all --iters 5 # every architecture
 * Options: --model NAME|all --f N --batch N --size N --iters N (timed runs after two untimed ones).
 */
import { initDevice, Rng } from '@mriseg/tensor-wgsl';
import * as ort from 'onnxruntime-node';
import { createModel, exportOnnx, MODEL_NAMES } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
const which = opt('model', 'unet');
const f = Number(opt('f', 32));
const batch = Number(opt('batch', 1));
const size = Number(opt('size', 256));
const iters = Number(opt('iters', 10));

await initDevice();
const x = new ort.Tensor(
  'float32',
  Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i)),
  [batch, 3, size, size],
);
console.log(
  `ONNX Runtime ${ort.env.versions.node} (CPU), batch ${batch}, ${size}², f ${f}; ms per run, median of ${iters} after 2 untimed`,
);
console.log('| model | BatchNorm | optimizations | file MB | nodes | median ms | min ms |');
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: |');
for (const name of which === 'all' ? MODEL_NAMES : [which]) {
  const model = createModel(name, { features: f, rng: new Rng(1) }).eval();
  for (const batchNorm of ['fold', 'node']) {
    const bytes = await exportOnnx(model, { inputSize: size, batchNorm });
    for (const level of ['all', 'disabled']) {
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level });
      const times = [];
      for (let i = 0; i < iters + 2; i++) {
        const t0 = performance.now();
        await session.run({ image: x });
        if (i >= 2) times.push(performance.now() - t0);
      }
      await session.release();
      times.sort((a, b) => a - b);
      const nodes = (await import('../dist/index.js')).decodeOnnxModel(bytes).graph.node.length;
      console.log(
        `| ${name} | ${batchNorm} | ${level} | ${(bytes.length / 2 ** 20).toFixed(1)} | ${nodes} | ${times[times.length >> 1].toFixed(1)} | ${times[0].toFixed(1)} |`,
      );
    }
  }
  model.dispose();
}
