/**
 * Voxel-to-world geometry of scanner volumes: 4×4 affines (row-major, voxel (i, j, k) → RAS+ millimetres, as
 * nibabel's `img.affine`), the quaternion form NIfTI's qform stores, and which voxel axis points where.
 */

/** A 4×4 matrix as four rows. */
export type Affine = number[][];

export function identityAffine(): Affine {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

/** Length of each of the first three columns: the voxel spacing along i, j and k. */
export function affineSpacing(a: Affine): [number, number, number] {
  const col = (c: number) => Math.hypot(a[0][c], a[1][c], a[2][c]);
  return [col(0), col(1), col(2)];
}

function det3(a: Affine): number {
  return (
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
    a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
    a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
  );
}

/**
 * The quaternion parameters of NIfTI's qform for an affine (nifti_mat44_to_quatern: the rotation closest to the
 * normalised columns, qfac −1 for a left-handed grid). Shears are dropped, as the qform cannot hold them; the
 * sform keeps the exact affine.
 */
export function affineToQuaternion(a: Affine): {
  quatern: [number, number, number];
  offset: [number, number, number];
  pixdim: [number, number, number];
  qfac: 1 | -1;
} {
  const pixdim = affineSpacing(a).map((s) => (s > 0 ? s : 1)) as [number, number, number];
  const r = [0, 1, 2].map((row) => [0, 1, 2].map((c) => a[row][c] / pixdim[c]));
  let qfac: 1 | -1 = 1;
  if (det3(r) < 0) {
    qfac = -1;
    for (let row = 0; row < 3; row++) r[row][2] = -r[row][2];
  }
  // Orthogonalise (the polar decomposition's rotation, by a few Newton steps), as nifti_mat33_polar does.
  let m = r;
  for (let it = 0; it < 30; it++) {
    const inv = invert3(m);
    if (!inv) break;
    const next = m.map((row, i) => row.map((v, j) => 0.5 * (v + inv[j][i])));
    let diff = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) diff += Math.abs(next[i][j] - m[i][j]);
    m = next;
    if (diff < 1e-12) break;
  }
  const [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]] = m;
  let qa = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (qa > 0.5) {
    qa = 0.5 * Math.sqrt(qa);
    b = (0.25 * (r32 - r23)) / qa;
    c = (0.25 * (r13 - r31)) / qa;
    d = (0.25 * (r21 - r12)) / qa;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      qa = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      qa = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      qa = (0.25 * (r21 - r12)) / d;
    }
    if (qa < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quatern: [b, c, d], offset: [a[0][3], a[1][3], a[2][3]], pixdim, qfac };
}

function invert3(m: number[][]): number[][] | null {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return null;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/**
 * For each voxel axis (i, j, k), the world axis (0 = x/R–L, 1 = y/A–P, 2 = z/S–I) it runs closest to and the sign
 * of that direction (nibabel's `io_orientation`: greedy on the largest remaining component, so every voxel axis
 * gets a different world axis even for oblique grids).
 */
export function axisCodes(a: Affine): { world: [number, number, number]; sign: [number, number, number] } {
  const cols = [0, 1, 2].map((c) => [0, 1, 2].map((r) => a[r][c]));
  const world: number[] = [-1, -1, -1];
  const sign: number[] = [1, 1, 1];
  const usedWorld = new Set<number>();
  for (let n = 0; n < 3; n++) {
    let best = -1;
    let bestVoxel = -1;
    let bestWorld = -1;
    for (let v = 0; v < 3; v++) {
      if (world[v] >= 0) continue;
      for (let w = 0; w < 3; w++) {
        if (usedWorld.has(w)) continue;
        const mag = Math.abs(cols[v][w]) / (Math.hypot(...cols[v]) || 1);
        if (mag > best) {
          best = mag;
          bestVoxel = v;
          bestWorld = w;
        }
      }
    }
    world[bestVoxel] = bestWorld;
    sign[bestVoxel] = cols[bestVoxel][bestWorld] < 0 ? -1 : 1;
    usedWorld.add(bestWorld);
  }
  return {
    world: world as [number, number, number],
    sign: sign as [number, number, number],
  };
}

/** nibabel-style orientation letters of the voxel axes, e.g. "RAS", "LPS". */
export function orientationCode(a: Affine): string {
  const { world, sign } = axisCodes(a);
  const letters = [
    ['L', 'R'],
    ['P', 'A'],
    ['I', 'S'],
  ];
  return world.map((w, v) => letters[w][sign[v] > 0 ? 1 : 0]).join('');
}

/** The largest absolute difference between two affines' entries. */
export function affineDifference(a: Affine, b: Affine): number {
  let d = 0;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) d = Math.max(d, Math.abs(a[r][c] - b[r][c]));
  return d;
}

export function formatAffine(a: Affine): string {
  return `[${a
    .slice(0, 3)
    .map((row) => row.map((v) => Number(v.toFixed(4))).join(' '))
    .join('; ')}]`;
}
