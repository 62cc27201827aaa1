#!/usr/bin/env node
/**
 * ONNX Runtime (onnxruntime-node, CPU) on mriseg's ONNX exports: BatchNorm folded into the convolutions against
 * BatchNormalization nodes, with ONNX Runtime's graph optimizations on (its default, which fuses Conv +
 * BatchNormalization itself) and off (what a runtime without that fusion does). Run on the built packages:
 *   node bench/onnx-bench.mjs                       # U-Net f 32, batch 1, 256²
 *   node bench/onnx-bench.mjs --model all --iters 5 # every architecture
 * Options: --model NAME|all --f N --batch N --size N --iters N (timed rounds after two untimed ones) --threads N.
 */
import { initDevice, Rng } from '@mriseg/tensor-wgsl';
import * as ort from 'onnxruntime-node';
import { createModel, decodeOnnxModel, exportOnnx, MODEL_NAMES } from '../dist/index.js';

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
/** ONNX Runtime's intra-op threads (0: its default, one a core). */
const threads = Number(opt('threads', 0));

await initDevice();
const x = new ort.Tensor(
  'float32',
  Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i)),
  [batch, 3, size, size],
);
console.log(
  `ONNX Runtime ${ort.env.versions.node} (CPU, ${threads > 0 ? threads : 'default'} threads), batch ${batch}, ${size}², f ${f}; ms per run over ${iters} rounds after 2 untimed`,
);
console.log(
  '(the four variants of a model run in turn each round, so that load from other processes hits them alike)',
);
console.log('| model | BatchNorm | ORT graph optimizations | file MB | nodes | median ms | min ms |');
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: |');
for (const name of which === 'all' ? MODEL_NAMES : [which]) {
  const model = createModel(name, { features: f, rng: new Rng(1) }).eval();
  const variants = [];
  for (const batchNorm of ['fold', 'node']) {
    const bytes = await exportOnnx(model, { inputSize: size, batchNorm });
    const nodes = decodeOnnxModel(bytes).graph.node.length;
    for (const level of ['all', 'disabled']) {
      const session = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: level,
        ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      });
      variants.push({ batchNorm, level, mb: bytes.length / 2 ** 20, nodes, session, times: [] });
    }
  }
  model.dispose();
  for (let i = 0; i < iters + 2; i++) {
    for (const v of variants) {
      const t0 = performance.now();
      await v.session.run({ image: x });
      if (i >= 2) v.times.push(performance.now() - t0);
    }
  }
  for (const v of variants) {
    await v.session.release();
    v.times.sort((a, b) => a - b);
    console.log(
      `| ${name} | ${v.batchNorm} | ${v.level} | ${v.mb.toFixed(1)} | ${v.nodes} | ${v.times[v.times.length >> 1].toFixed(1)} | ${v.times[0].toFixed(1)} |`,
    );
  }
}
