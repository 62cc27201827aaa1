/**
 * The Winograd F(2×2, 3×3) form of the forward convolution (conv-winograd.wgsl.ts): an algorithm the autotuner
 * may choose for a 3×3 convolution at stride 1 and dilation 1, selected by a tiling with `winograd` (the tiling
 * then shapes its 16 GEMMs). Results equal the direct convolution's up to float32 rounding.
 */
import { grid1d, runtime, Tensor } from '@mriseg/tensor-wgsl';
import type { ConvGeometry } from './conv.js';
import { type ConvEpilogue, sizeWords } from './conv.wgsl.js';
import {
  winogradGemmWgsl,
  winogradInputWgsl,
  winogradOutputWgsl,
  winogradWeightWgsl,
} from './conv-winograd.wgsl.js';
import { type GemmTiling, gemmGrid, tilingKey } from './gemm.wgsl.js';

/** Whether a convolution has the window F(2×2, 3×3) computes: 3×3, stride 1, dilation 1 (any padding). */
export function winogradEligible(g: ConvGeometry): boolean {
  return g.R === 3 && g.S === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1;
}

/** Output tiles of 2×2: the GEMMs' m extent. */
export function winogradTiles(g: ConvGeometry): number {
  return g.N * Math.ceil(g.P / 2) * Math.ceil(g.Q / 2);
}

const codeCache = new Map<string, string>();
function cached(key: string, make: () => string): string {
  let code = codeCache.get(key);
  if (!code) {
    code = make();
    codeCache.set(key, code);
  }
  return code;
}

/**
 * y = epilogue(conv(x, w)) by Winograd: `images` are the image's parts (channel counts `channels`), `extra` the
 * epilogue's vectors (bias, or scale and shift). Writes y, which the caller made.
 */
export function convForwardWinograd(
  images: Tensor[],
  channels: readonly number[],
  w: Tensor,
  extra: GPUBuffer[],
  y: Tensor,
  g: ConvGeometry,
  tiling: GemmTiling,
  epilogue: ConvEpilogue,
): void {
  if (!winogradEligible(g))
    throw new Error(
      `conv2d (winograd): needs a 3×3 window at stride 1 and dilation 1, got ${g.R}×${g.S} stride ${g.sh}×${g.sw} dilation ${g.dh}×${g.dw}`,
    );
  const rt = runtime();
  const T = winogradTiles(g);
  const window = `${g.ph},${g.pw}`;
  const parts = images.length;
  const tilesN = Math.ceil(g.K / tiling.BN);
  const words = sizeWords(g, tilesN, 0, channels);
  const V = Tensor.empty([16, g.C, T], 'f32', 'conv2d_winograd');
  const U = Tensor.empty([16, g.K, g.C], 'f32', 'conv2d_winograd');
  const M = Tensor.empty([16, g.K, T], 'f32', 'conv2d_winograd');
  rt.dispatch({
    name: 'conv2d_winograd_input',
    code: cached(`i|${window}|${parts}`, () => winogradInputWgsl(g, parts)),
    buffers: [...images.map((t) => t.buffer), V.buffer],
    uniforms: words,
    workgroups: grid1d(g.C * T),
  });
  rt.dispatch({
    name: 'conv2d_winograd_weight',
    code: cached(`w|${window}`, () => winogradWeightWgsl(g)),
    buffers: [w.buffer, U.buffer],
    uniforms: words,
    workgroups: grid1d(g.K * g.C),
  });
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  const grid = gemmGrid(Math.ceil(T / tiling.BM), 16 * tilesN, max);
  if (grid[1] > max || grid[2] > max)
    throw new Error(`conv2d (winograd): ${T} tiles × ${g.K} channels exceed the dispatch limits`);
  rt.dispatch({
    name: 'conv2d_winograd_gemm',
    code: cached(`g|${window}|${tilingKey(tiling)}`, () => winogradGemmWgsl(g, tiling)),
    buffers: [V.buffer, U.buffer, M.buffer],
    uniforms: words,
    workgroups: grid,
  });
  rt.dispatch({
    name: 'conv2d_winograd_output',
    code: cached(`o|${window}|${epilogue}`, () => winogradOutputWgsl(g, epilogue)),
    buffers: [M.buffer, ...extra, y.buffer],
    uniforms: words,
    workgroups: grid1d(g.K * T),
  });
  for (const t of [V, U, M]) t.dispose();
}
