/**
 * Which GEMM tiling each convolution kernel runs with: a table filled by the autotuner (autotune.ts) or by
 * hand, else a default for the adapter (small register tiles on a CPU driver, where pipelines compile slowly;
 * register-blocked prefetching tiles on a GPU).
 */
import { hasRuntime, runtime } from '@mriseg/tensor-wgsl';
import {
  type GemmTiling,
  parseTilingKey,
  tilingKey,
  tilingProblem,
  workgroupStorageBytes,
} from '../gemm.wgsl.js';
import { pickGpuTiling, pickTiling } from '../gemm-tilings.js';
import {
  type ConvGeometry,
  type ConvKernel,
  type ConvProblem,
  GEOMETRY_FIELDS,
  gemmExtent,
  LOAD_ORDERS,
  problemKey,
  winogradEligibleFor,
  winogradTransformFloats,
} from './geometry.js';

/**
 * A device's tilings by problem key: those pinned (by hand, a tilings file or the autotuner) and the defaults
 * chosen so far. Tilings belong to the device they were chosen for, so each runtime has its own table.
 */
interface TilingTable {
  pinned: Map<string, GemmTiling>;
  defaults: Map<string, GemmTiling>;
}

const tables = new WeakMap<object, TilingTable>();

function table(): TilingTable {
  const rt = runtime();
  let t = tables.get(rt);
  if (!t) {
    t = { pinned: new Map(), defaults: new Map() };
    tables.set(rt, t);
  }
  return t;
}
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
  // The weight gradient splits its long reduction across workgroups (direct.ts), so its tiles need not be many.
  const t = pickGpuTiling(M, N, kernel === 'weight_grad' ? 1 : 256);
  return convTilingProblem(kernel, t) ? pickTiling(M, N) : t;
}

/** The tiling a launch uses (and, while problems are being recorded, notes the launch). */
export function convTiling(kernel: ConvKernel, g: ConvGeometry, bias: boolean): GemmTiling {
  const key = problemKey(kernel, g);
  if (recorder && !recorder.has(key)) recorder.set(key, { kernel, geometry: { ...g }, bias });
  const { pinned, defaults } = table();
  const chosen = pinned.get(key);
  if (chosen) return chosen;
  // Remembered: a launch looks its tiling up every step.
  let t = defaults.get(key);
  if (!t) {
    t = defaultConvTiling(kernel, g);
    defaults.set(key, t);
  }
  return t;
}

/** Captured steps launched the old kernels: they must capture again (tensor-wgsl StepGraph). */
function tilingsChanged(): void {
  runtime().invalidateGraphs();
}

/** Pins the tiling of one kernel and geometry (null restores the default). Throws if it cannot be generated. */
export function setConvTiling(kernel: ConvKernel, g: ConvGeometry, tiling: GemmTiling | null): void {
  const key = problemKey(kernel, g);
  if (!tiling) {
    if (table().pinned.delete(key)) tilingsChanged();
    return;
  }
  const problem = convTilingProblem(kernel, tiling, g);
  if (problem) throw new Error(`setConvTiling(${kernel}): ${problem}`);
  table().pinned.set(key, { ...tiling });
  tilingsChanged();
}

/** Whether a tiling is pinned (by hand or by the autotuner) for this kernel and geometry. */
export function hasConvTiling(kernel: ConvKernel, g: ConvGeometry): boolean {
  return table().pinned.has(problemKey(kernel, g));
}

/** Every pinned tiling as text (problem key → tiling key), to save and reuse on the same device. */
export function exportConvTilings(): Record<string, string> {
  return Object.fromEntries([...table().pinned].map(([k, t]) => [k, tilingKey(t)]));
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
    table().pinned.set(key, tiling);
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
    table().pinned.set(problemKey(p.kernel, p.geometry), nearest.tiling);
    n++;
  }
  if (n > 0) tilingsChanged();
  return n;
}

/** Forgets every pinned or tuned tiling. */
export function clearConvTilings(): void {
  if (!hasRuntime()) return;
  const { pinned } = table();
  if (pinned.size > 0) tilingsChanged();
  pinned.clear();
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
