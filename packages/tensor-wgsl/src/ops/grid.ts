/** Workgroup grids for one-thread-per-element kernels that may exceed 65,535 workgroups in one dimension. */
import { runtime } from '../device.js';

/** Workgroups (x, y) covering `n` threads of `wgSize`; the kernel's linear index is `GRID_INDEX`. */
export function grid1d(n: number, wgSize = 256): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wgSize));
  const max = runtime().limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** WGSL for the linear thread index over a `grid1d` dispatch (needs `gid` and `nwg` builtins). */
export const gridIndex = (wgSize = 256) => `gid.x + gid.y * (nwg.x * ${wgSize}u)`;

/** WGSL parameters of an entry point that uses `gridIndex`. */
export const gridParams =
  '@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>';

/** WGSL declaration of the uniform parameter words and their accessor `mi(i)`. */
export function metaDecl(binding: number, words: number): string {
  const vecs = Math.max(1, Math.ceil(words / 4));
  return (
    `@group(0) @binding(${binding}) var<uniform> params: array<vec4<u32>, ${vecs}>;\n` +
    'fn mi(i: u32) -> u32 { return params[i >> 2u][i & 3u]; }\n'
  );
}

/** Packs parameter words; floats are stored as their bit patterns. */
export function packMeta(words: number[], floats: Record<number, number> = {}): Uint32Array {
  const out = new Uint32Array(Math.max(4, Math.ceil(words.length / 4) * 4));
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  words.forEach((w, i) => {
    if (i in floats) {
      f[0] = floats[i];
      out[i] = u[0];
    } else out[i] = w >>> 0;
  });
  return out;
}
