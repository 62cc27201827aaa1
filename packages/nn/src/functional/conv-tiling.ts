/**
 * Which GEMM tiling each convolution kernel runs with: a table filled by the autotuner (conv-autotune.ts) or by
 * hand, else a default for the adapter (small register tiles on a CPU driver, where pipelines compile slowly;
 * register-blocked prefetching tiles on a GPU).
 */
import { hasRuntime, runtime } from '@mriseg/tensor-wgsl';
import type { ConvGeometry } from './conv.js';
import { winogradEligibleFor, winogradTransformFloats } from './conv-winograd.js';
import {
  type GemmTiling,
  type LoadOrder,
  parseTilingKey,
  pickGpuTiling,
  pickTiling,
  tilingKey,
  tilingProblem,
  workgroupStorageBytes,
} from './gemm.wgsl.js';

/** The three implicit GEMMs of a convolution (a transposed convolution runs them with roles swapped). */
export type ConvKernel = 'forward' | 'input_grad' | 'weight_grad';

/** One GEMM as a training step launches it. */
export interface ConvProblem {
  kernel: ConvKernel;
  geometry: ConvGeometry;
  bias: boolean;
}

/** Load orders of A and B in each kernel (conv.wgsl.ts): they decide which tilings can be generated. */
export const LOAD_ORDERS: Record<ConvKernel, [LoadOrder, LoadOrder]> = {
  forward: ['mn', 'k'],
  input_grad: ['mn', 'k'],
  weight_grad: ['k', 'k'],
};

/** The extent M×N of C and the reduction length of a kernel's GEMM (per phase for the input gradient). */
export function gemmExtent(kernel: ConvKernel, g: ConvGeometry): { M: number; N: number; K: number } {
  if (kernel === 'forward') return { M: g.N * g.P * g.Q, N: g.K, K: g.C * g.R * g.S };
  if (kernel === 'input_grad')
    return {
      M: g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw),
      N: g.C,
      K: Math.ceil((g.K * g.R * g.S) / (g.sh * g.sw)),
    };
  return { M: g.K, N: g.C * g.R * g.S, K: g.N * g.P * g.Q };
}

const GEOMETRY_FIELDS = [
  'N',
  'C',
  'H',
  'W',
  'K',
  'P',
  'Q',
  'R',
  'S',
  'sh',
  'sw',
  'ph',
  'pw',
  'dh',
  'dw',
] as const;

export function problemKey(kernel: ConvKernel, g: ConvGeometry): string {
  return `${kernel}|${GEOMETRY_FIELDS.map((f) => g[f]).join(',')}`;
}

const chosen = new Map<string, GemmTiling>();
let recorder: Map<string, ConvProblem> | null = null;

/**
 * Why a tiling cannot run a kernel on this device (load orders, workgroup memory, Winograd's window when the
 * geometry is given), or null when it can.
 */
export function convTilingProblem(kernel: ConvKernel, t: GemmTiling, g?: ConvGeometry): string | null {
  if (t.splitTarget !== undefined && kernel !== 'weight_grad')
    return 'splitTarget applies to the weight gradient only';
  if (t.winograd && g && !winogradEligibleFor(kernel, g))
    return 'winograd needs a 3×3 window at stride 1 and dilation 1 (and padding ≤ 2 for the input gradient)';
  if (t.winograd && g) {
    // Its transformed input and products are [α², C, T] and [α², K, T] floats, each one storage binding.
    const bytes = 4 * winogradTransformFloats(kernel, g, t.winograd);
    const limit = runtime().limits.maxStorageBufferBindingSize;
    if (bytes > limit)
      return `winograd's transformed tensors (${bytes} bytes) exceed the device's binding limit ${limit}`;
  }
  const [a, b] = LOAD_ORDERS[kernel];
  const problem = tilingProblem(t, a, b);
  if (problem) return problem;
  const bytes = workgroupStorageBytes(t, a, b);
  const limit = runtime().limits.maxComputeWorkgroupStorageSize;
  return bytes > limit ? `${bytes} bytes of workgroup memory exceed the device's ${limit}` : null;
}

/** Default tiling for a kernel on the current adapter. */
export function defaultConvTiling(kernel: ConvKernel, g: ConvGeometry): GemmTiling {
  const { M, N } = gemmExtent(kernel, g);
  if (runtime().report.isCpu) return pickTiling(M, N);
  // The weight gradient splits its long reduction across workgroups (conv.ts), so its tiles need not be many.
  const t = pickGpuTiling(M, N, kernel === 'weight_grad' ? 1 : 256);
  return convTilingProblem(kernel, t) ? pickTiling(M, N) : t;
}

/** Default tilings by problem key, for the runtime they were chosen on (a launch looks its tiling up every step). */
const defaults = new Map<string, GemmTiling>();
let defaultsFor: unknown = null;

/** The tiling a launch uses (and, while problems are being recorded, notes the launch). */
export function convTiling(kernel: ConvKernel, g: ConvGeometry, bias: boolean): GemmTiling {
  const key = problemKey(kernel, g);
  if (recorder && !recorder.has(key)) recorder.set(key, { kernel, geometry: { ...g }, bias });
  const pinned = chosen.get(key);
  if (pinned) return pinned;
  const rt = runtime();
  if (defaultsFor !== rt) {
    defaults.clear();
    defaultsFor = rt;
  }
  let t = defaults.get(key);
  if (!t) {
    t = defaultConvTiling(kernel, g);
    defaults.set(key, t);
  }
  return t;
}

/** Captured steps launched the old kernels: they must capture again (tensor-wgsl StepGraph). */
function tilingsChanged(): void {
  if (hasRuntime()) runtime().invalidateGraphs();
}

/** Pins the tiling of one kernel and geometry (null restores the default). Throws if it cannot be generated. */
export function setConvTiling(kernel: ConvKernel, g: ConvGeometry, tiling: GemmTiling | null): void {
  const key = problemKey(kernel, g);
  if (!tiling) {
    if (chosen.delete(key)) tilingsChanged();
    return;
  }
  const problem = convTilingProblem(kernel, tiling, g);
  if (problem) throw new Error(`setConvTiling(${kernel}): ${problem}`);
  chosen.set(key, { ...tiling });
  tilingsChanged();
}

/** Whether a tiling is pinned (by hand or by the autotuner) for this kernel and geometry. */
export function hasConvTiling(kernel: ConvKernel, g: ConvGeometry): boolean {
  return chosen.has(problemKey(kernel, g));
}

/** Every pinned tiling as text (problem key → tiling key), to save and reuse on the same device. */
export function exportConvTilings(): Record<string, string> {
  return Object.fromEntries([...chosen].map(([k, t]) => [k, tilingKey(t)]));
}

const KERNELS: readonly ConvKernel[] = ['forward', 'input_grad', 'weight_grad'];

/**
 * Pins the tilings of an `exportConvTilings()` result; entries that are malformed or that this device cannot run
 * are skipped. Returns how many were pinned.
 */
export function importConvTilings(entries: Record<string, string>): number {
  let n = 0;
  for (const [key, value] of Object.entries(entries)) {
    const [kernel, dims] = key.split('|');
    const tiling = parseTilingKey(value);
    const sizes = (dims ?? '').split(',').map(Number);
    if (!KERNELS.includes(kernel as ConvKernel) || !tiling || sizes.length !== 15) continue;
    if (!sizes.every((v) => Number.isInteger(v) && v >= 0)) continue;
    const g = Object.fromEntries(GEOMETRY_FIELDS.map((f, i) => [f, sizes[i]])) as unknown as ConvGeometry;
    if (convTilingProblem(kernel as ConvKernel, tiling, g)) continue;
    chosen.set(key, tiling);
    n++;
  }
  if (n > 0) tilingsChanged();
  return n;
}

/** What makes two convolution GEMMs the same layer at another batch or image size: all but N, H, W, P, Q. */
const layerKey = (kernel: string, g: ConvGeometry) =>
  `${kernel}|${g.C},${g.K},${g.R},${g.S},${g.sh},${g.sw},${g.ph},${g.pw},${g.dh},${g.dw}`;

/**
 * Pins, for each of `problems` (as `recordConvProblems` returns them), the tiling an `exportConvTilings()` result
 * chose for the same layer (kernel, channels, window) at whatever batch and image size it was tuned — of several,
 * the one of the nearest image height — so that a smaller run launches the kinds of kernels (Winograd, split-K,
 * register tiles) a tuned run chose. Returns how many problems got a tiling.
 */
export function importConvTilingsByLayer(
  entries: Record<string, string>,
  problems: readonly ConvProblem[],
): number {
  const byLayer = new Map<string, { H: number; tiling: GemmTiling }[]>();
  for (const [key, value] of Object.entries(entries)) {
    const [kernel, dims] = key.split('|');
    const tiling = parseTilingKey(value);
    const sizes = (dims ?? '').split(',').map(Number);
    if (!KERNELS.includes(kernel as ConvKernel) || !tiling || sizes.length !== 15) continue;
    const g = Object.fromEntries(GEOMETRY_FIELDS.map((f, i) => [f, sizes[i]])) as unknown as ConvGeometry;
    const k = layerKey(kernel, g);
    byLayer.set(k, [...(byLayer.get(k) ?? []), { H: g.H, tiling }]);
  }
  let n = 0;
  for (const p of problems) {
    const found = byLayer.get(layerKey(p.kernel, p.geometry));
    if (!found) continue;
    const nearest = found.reduce((a, b) =>
      Math.abs(Math.log(b.H / p.geometry.H)) < Math.abs(Math.log(a.H / p.geometry.H)) ? b : a,
    );
    if (convTilingProblem(p.kernel, nearest.tiling, p.geometry)) continue;
    chosen.set(problemKey(p.kernel, p.geometry), nearest.tiling);
    n++;
  }
  if (n > 0) tilingsChanged();
  return n;
}

/** Forgets every pinned or tuned tiling. */
export function clearConvTilings(): void {
  if (chosen.size > 0) tilingsChanged();
  chosen.clear();
}

/** Runs `fn` and returns the distinct convolution GEMMs it launched, in launch order. */
export function recordConvProblems(fn: () => void): ConvProblem[] {
  if (recorder) throw new Error('recordConvProblems: already recording');
  recorder = new Map();
  try {
    fn();
    return [...recorder.values()];
  } finally {
    recorder = null;
  }
}
