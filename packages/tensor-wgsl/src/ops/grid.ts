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
