import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Adam,
  clearConvTilings,
  convTilingProblem,
  diceLoss,
  type GemmTiling,
  gemmExtent,
  type HostTensor,
  pickGpuTiling,
  recordConvProblems,
  setConvTiling,
  winogradEligibleFor,
} from '@mriseg/nn';
import { add, entryToFloat32, initDevice, mul, scope, sum, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { readSafetensorsFile } from '@mriseg/tensor-wgsl/node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type SegmentationModel } from '../src/index.js';

const GOLDEN = fileURLToPath(new URL('../../../../shared/golden/models/', import.meta.url));

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

function loadGolden(file: string) {
  const path = `${GOLDEN}${file}.safetensors`;
  if (!existsSync(path))
    throw new Error(`golden fixture missing: ${path} (shared/ must sit beside the repository)`);
  const f = readSafetensorsFile(path);
  const get = (k: string) => {
    const e = f.tensors.get(k);
    if (!e) throw new Error(`${path}: no ${k}`);
    return { shape: e.shape, data: entryToFloat32(e) };
  };
  const keys = (prefix: string) =>
    [...f.tensors.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  return { get, keys, metadata: f.metadata };
}

/**
 * The model's state before the golden's training step. The fixture's `param.*` entries hold the values after it
 * (they equal `adam_step1.*`, and the BN running statistics equal `after_forward.*`), so the initial weights are
 * recovered from Adam's first step, p1 = p0 − lr·g/(|g| + eps) (the bias corrections cancel at step 1). The
 * fixture's running statistics before its forward pass are not stored (they were not PyTorch's defaults); a
 * train-mode forward does not read them, so the post-forward values stand in, and the eval pass below reloads
 * them. (BatchNorm's running-statistics update itself is checked against its own golden in @mriseg/nn.)
 */
function initialStateFromGolden(
  g: ReturnType<typeof loadGolden>,
  lr: number,
  eps = 1e-8,
): Map<string, HostTensor> {
  const dict = new Map<string, HostTensor>();
  for (const key of g.keys('param.')) {
    const { shape, data } = g.get(`param.${key}`);
    if (key.endsWith('num_batches_tracked'))
      dict.set(key, { dtype: 'i32', shape: [], data: new Int32Array(1) });
    else if (key.endsWith('running_mean') || key.endsWith('running_var'))
      dict.set(key, { dtype: 'f32', shape, data });
    else {
      const grad = g.get(`grad.${key}`).data;
      dict.set(key, {
        dtype: 'f32',
        shape,
        data: data.map((p, i) => p + (lr * grad[i]) / (Math.abs(grad[i]) + eps)),
      });
    }
  }
  return dict;
}

/** The running statistics after the golden's forward pass, for the eval pass. */
function runningStatsFromGolden(g: ReturnType<typeof loadGolden>): Map<string, HostTensor> {
  const dict = new Map<string, HostTensor>();
  for (const key of g.keys('after_forward.')) {
    if (key.endsWith('num_batches_tracked')) continue;
    const { shape, data } = g.get(`after_forward.${key}`);
    dict.set(key, { dtype: 'f32', shape, data });
  }
  return dict;
}

/**
 * Pins every convolution GEMM of a training step to the tiling a GPU runs without autotuning (`pickGpuTiling`:
 * register-blocked with prefetch), in turn plain, with vec4 reads, with double buffering and with both where the
 * tile allows, and every other 3×3 convolution kernel (forward, either gradient) to Winograd, so that one pass
 * through the model runs each kind of kernel the autotuner may choose. A CPU adapter's default is small tiles;
 * this checks the GPU's configurations against the same goldens. Returns how many GEMMs were pinned and how many
 * of them use vec4 reads, double buffering and Winograd (and of those, 4×4 output tiles).
 */
function pinGpuTilings(
  model: SegmentationModel,
  x: Tensor,
): { gemms: number; vec4: number; double: number; winograd: number; winograd4: number } {
  const problems = recordConvProblems(() =>
    scope(() => {
      const heads = model.forwardHeads(x);
      let total = sum(heads[0]);
      for (const h of heads.slice(1)) total = add(total, sum(h));
      total.backward();
    }),
  );
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  const count = { gemms: problems.length, vec4: 0, double: 0, winograd: 0, winograd4: 0 };
  let turn = 0;
  let eligible = 0;
  for (const p of problems) {
    const { M, N } = gemmExtent(p.kernel, p.geometry);
    const base = pickGpuTiling(M, N, p.kernel === 'weight_grad' ? 1 : 256);
    const flags = [{ vec4: true }, { vec4: true, double: true }, {}, { double: true }][turn++ % 4];
    // Every other kernel of a 3×3 stride-1 convolution (forward, input or weight gradient) by Winograd.
    // … with 2×2 and 4×4 output tiles in turn.
    const turnOf = winogradEligibleFor(p.kernel, p.geometry) ? eligible++ % 4 : 1;
    const winograd: GemmTiling['winograd'] = turnOf === 0 ? 2 : turnOf === 2 ? 4 : undefined;
    const flagged: GemmTiling = { ...base, ...flags, ...(winograd ? { winograd } : {}) };
    const tiling =
      [flagged, { ...base, ...(winograd ? { winograd } : {}) }].find(
        (t) => !convTilingProblem(p.kernel, t, p.geometry),
      ) ?? base;
    setConvTiling(p.kernel, p.geometry, tiling);
    if (tiling.vec4) count.vec4++;
    if (tiling.double) count.double++;
    if (tiling.winograd) count.winograd++;
    if (tiling.winograd === 4) count.winograd4++;
    // Tiles that cannot read vec4 (fewer than 4 registers a side) take their turn again with the next GEMM.
    if (flagged.vec4 && !tiling.vec4) turn--;
  }
  return count;
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

const cases: [string, string, number][] = [
  ['UNet_f4', 'unet', 1],
  ['AttentionUNet_f4', 'attention-unet', 1],
  ['UNetPlusPlus_f4', 'unet++', 4],
];

beforeAll(async () => {
  await initDevice();
});

describe('models match the PyTorch goldens (f = 4, batch 2, 32×32)', () => {
  // Pinned tilings must not outlive their test, failed or not.
  afterEach(() => clearConvTilings());
  for (const [file, name, heads] of cases)
    for (const tilings of ['default', 'gpu'] as const) {
      const title =
        tilings === 'default' ? '' : ' (GPU tilings: register-blocked, vec4, double-buffered, Winograd)';
      it(`${name}: logits, loss, every gradient, running stats, one Adam step, eval logits${title}`, async () => {
        const g = loadGolden(file);
        const model: SegmentationModel = createModel(name, { features: 4 });
        expect(model.numParameters()).toBe(Number(g.metadata.params));
        const input = g.get('input');
        const x = tensor(input.data, input.shape);
        const y = tensor(g.get('target').data, g.get('target').shape);
        if (tilings === 'gpu') {
          const pinned = pinGpuTilings(model, x);
          expect(pinned.gemms).toBeGreaterThan(20);
          expect(pinned.vec4).toBeGreaterThanOrEqual(3);
          expect(pinned.winograd).toBeGreaterThanOrEqual(3);
          expect(pinned.winograd4).toBeGreaterThanOrEqual(2);
          expect(pinned.double).toBeGreaterThanOrEqual(3);
        }
        model.loadStateDict(initialStateFromGolden(g, 1e-3));

        model.train();
        const { logits, loss } = scope(() => {
          const outs = model.forwardHeads(x);
          let total: Tensor = diceLoss(outs[0], y, { smooth: 1 });
          for (let k = 1; k < outs.length; k++) total = add(total, diceLoss(outs[k], y, { smooth: 1 }));
          const l = mul(total, 1 / outs.length);
          l.backward();
          return { logits: outs, loss: l };
        });
        expect(logits.length).toBe(heads);
        for (let k = 0; k < heads; k++) {
          expect(relL2(await logits[k].data(), g.get(`logits${k}`).data), `logits${k}`).toBeLessThan(1e-4);
        }
        const wantLoss = g.get('loss').data[0];
        expect(Math.abs((await loss.item()) - wantLoss) / wantLoss).toBeLessThan(1e-4);

        const named = new Map(model.namedParameters());
        expect(new Set(g.keys('grad.'))).toEqual(new Set(named.keys()));
        // Biases that feed a BatchNorm have a gradient of exactly zero; in float32 they come out as rounding noise,
        // so the tolerance has a floor proportional to the typical gradient's size.
        const norms = [...named.keys()].map((k) => norm(g.get(`grad.${k}`).data)).sort((a, b) => a - b);
        const floor = 1e-5 * norms[norms.length >> 1];
        for (const [key, p] of named) {
          const want = g.get(`grad.${key}`).data;
          const got = await p.grad!.data();
          const err = norm(Array.from(got, (v, i) => v - want[i]));
          expect(err, `grad.${key}: |error| ${err} vs |grad| ${norm(want)}`).toBeLessThanOrEqual(
            1e-3 * norm(want) + floor,
          );
        }
        for (const [key, b] of model.namedBuffers()) {
          if (key.endsWith('num_batches_tracked')) expect(Array.from(await b.data()), key).toEqual([1]);
        }

        const opt = new Adam(model.parameters(), { lr: 1e-3 });
        opt.step();
        for (const [key, p] of named) {
          const want = g.get(`adam_step1.${key}`).data;
          const got = await p.data();
          if (norm(g.get(`grad.${key}`).data) < floor) {
            // A zero gradient's rounding noise becomes a step of up to lr under Adam's normalisation.
            for (let i = 0; i < got.length; i++)
              expect(Math.abs(got[i] - want[i]), `adam_step1.${key}`).toBeLessThanOrEqual(1e-3);
          } else expect(relL2(got, want), `adam_step1.${key}`).toBeLessThan(1e-4);
        }

        model.loadStateDict(runningStatsFromGolden(g), { strict: false });
        model.eval();
        const evalOut = scope(() => model.forwardHeads(x));
        for (let k = 0; k < heads; k++) {
          expect(
            relL2(await evalOut[k].data(), g.get(`eval_logits${k}`).data),
            `eval_logits${k}`,
          ).toBeLessThan(1e-4);
        }
        for (const t of [...logits, loss, ...evalOut, x, y]) t.dispose();
        model.dispose();
      });
    }
});
