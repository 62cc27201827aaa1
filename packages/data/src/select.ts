/**
 * The q-th percentile with NumPy's default ("linear") method: sorted[i] + (sorted[i+1] − sorted[i])·f with
 * i + f = q/100·(n − 1). Uses selection (three-way quickselect: MRI volumes are half zeros) on a copy. (A histogram
 * pre-pass was tried and is slower here: p10 falls among the zeros, which fill one bin.)
 */
export function percentiles(values: Float64Array, qs: readonly number[]): number[] {
  if (values.length === 0) throw new Error('percentiles of an empty array');
  const a = values.slice();
  const n = a.length;
  return qs.map((q) => {
    const pos = (q / 100) * (n - 1);
    const lo = Math.floor(pos);
    const frac = pos - lo;
    const vLo = select(a, lo);
    if (frac === 0 || lo + 1 >= n) return vLo;
    // After select(lo), everything right of lo is ≥ a[lo]: the next order statistic is their minimum.
    let vHi = Number.POSITIVE_INFINITY;
    for (let i = lo + 1; i < n; i++) if (a[i] < vHi) vHi = a[i];
    return vLo + (vHi - vLo) * frac;
  });
}

/** Rearranges `a` so that a[k] holds the k-th smallest value, smaller ones left of it, larger or equal right. */
export function select(a: Float64Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  let seed = 12345;
  while (right > left) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const pivot = a[left + (seed % (right - left + 1))];
    // Dutch-flag partition: [left, lt) < pivot, [lt, i) == pivot, (gt, right] > pivot.
    let lt = left;
    let gt = right;
    let i = left;
    while (i <= gt) {
      const v = a[i];
      if (v < pivot) {
        a[i] = a[lt];
        a[lt] = v;
        lt++;
        i++;
      } else if (v > pivot) {
        a[i] = a[gt];
        a[gt] = v;
        gt--;
      } else i++;
    }
    if (k < lt) right = lt - 1;
    else if (k > gt) left = gt + 1;
    else return a[k];
  }
  return a[k];
}
