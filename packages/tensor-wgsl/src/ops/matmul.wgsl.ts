/**
 * Batched matrix product C[b] = op(A[b]) · op(B[b]) with op = identity or transpose, 16×16 output tiles staged
 * through workgroup memory. Meta words: M, N, K, batch stride of A, of B (0 = broadcast), of C.
 */
import { metaDecl } from './grid.js';

export function matmulWgsl(transA: boolean, transB: boolean): string {
  const loadA = transA ? 'A[bz * mi(3u) + k * M + r]' : 'A[bz * mi(3u) + r * K + k]';
  const loadB = transB ? 'B[bz * mi(4u) + c * K + k]' : 'B[bz * mi(4u) + k * N + c]';
  return `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
${metaDecl(3, 6)}
var<workgroup> As: array<array<f32, 16>, 16>;
var<workgroup> Bs: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = mi(0u); let N = mi(1u); let K = mi(2u);
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
  if (row < M && col < N) { C[bz * mi(5u) + row * N + col] = acc; }
}`;
}
