/**
 * Batched matrix product C[b] = op(A[b]) · op(B[b]) with op = identity or transpose, 16×16 output tiles staged
 * through workgroup memory. Uniforms: M, N, K and the batch strides of A, B (0 = broadcast) and C.
 */
import type { KernelSpec } from '../kernel.js';

export function matmulSpec(transA: boolean, transB: boolean): KernelSpec {
  const loadA = transA ? 'A[bz * params.strideA + k * M + r]' : 'A[bz * params.strideA + r * K + k]';
  const loadB = transB ? 'B[bz * params.strideB + c * K + k]' : 'B[bz * params.strideB + k * N + c]';
  return {
    name: 'matmul',
    storage: [{ name: 'A' }, { name: 'B' }, { name: 'C', access: 'read_write' }],
    uniforms: { M: 'u32', N: 'u32', K: 'u32', strideA: 'u32', strideB: 'u32', strideC: 'u32' },
    workgroupSize: [16, 16],
    code: `var<workgroup> As: array<array<f32, 16>, 16>;
var<workgroup> Bs: array<array<f32, 16>, 16>;
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = params.M; let N = params.N; let K = params.K;
  let bz = wid.z;
  let row = wid.y * 16u + lid.y;
  let col = wid.x * 16u + lid.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    {
      let r = row; let k = k0 + lid.x;
      var v = 0.0;
      if (r < M && k < K) { v = ${loadA}; }
      As[lid.y][lid.x] = v;
    }
    {
      let k = k0 + lid.y; let c = col;
      var v = 0.0;
      if (k < K && c < N) { v = ${loadB}; }
      Bs[lid.y][lid.x] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) { acc += As[lid.y][k] * Bs[k][lid.x]; }
    workgroupBarrier();
  }
  if (row < M && col < N) { C[bz * params.strideC + row * N + col] = acc; }
}`,
  };
}
