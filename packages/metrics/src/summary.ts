/**
 * Percentile of already sorted (ascending) values by linear interpolation between closest ranks — NumPy's default
 * (`np.percentile(x, q)`, method "linear"): position (n − 1)·q/100, interpolated with NumPy's two-sided lerp so
 * results match it to the last bit where possible. NaN for no values.
 */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile: q must be within [0, 100], got ${q}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * (q / 100);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return lerp(sorted[lo], sorted[hi], pos - lo);
}

function lerp(a: number, b: number, t: number): number {
  if (t === 0 || a === b) return a;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/**
 * Reorders `a` so that a[k] holds the k-th smallest value, everything before it is ≤ and everything after it
 * ≥ (quickselect, Hoare partition around a median of three): O(n) on average instead of a full sort.
 */
function selectInPlace(a: Float64Array, k: number): void {
  let left = 0;
  let right = a.length - 1;
  while (right > left) {
    const mid = (left + right) >>> 1;
    if (a[mid] < a[left]) swap(a, left, mid);
    if (a[right] < a[left]) swap(a, left, right);
    if (a[right] < a[mid]) swap(a, mid, right);
    const pivot = a[mid];
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    // Now a[left..j] ≤ pivot ≤ a[i..right], and everything strictly between j and i equals the pivot.
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/**
 * Percentile (NumPy "linear") of unsorted values without sorting them: selection of the one or two order
 * statistics needed. `values` is reordered in place. NaN for no values; the values must not contain NaN.
 */
export function percentileInPlace(values: Float64Array, q: number): number {
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile: q must be within [0, 100], got ${q}`);
  const n = values.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * (q / 100);
  const lo = Math.floor(pos);
  selectInPlace(values, lo);
  const a = values[lo];
  if (lo + 1 >= n || pos === lo) return a;
  // After selection everything past `lo` is ≥ a; the next order statistic is their minimum.
  let b = values[lo + 1];
  for (let i = lo + 2; i < n; i++) if (values[i] < b) b = values[i];
  return lerp(a, b, pos - lo);
}

/**
 * Percentile (NumPy "linear") of `n` values known through their order statistics: `orderStat(k)` is the k-th
 * smallest (0-based); at most ranks ⌊pos⌋ and ⌊pos⌋ + 1 are read. The same arithmetic as
 * {@link percentileInPlace}, so the same two order statistics give the same result bit for bit.
 */
export function percentileFromOrder(n: number, q: number, orderStat: (k: number) => number): number {
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile: q must be within [0, 100], got ${q}`);
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * (q / 100);
  const lo = Math.floor(pos);
  const a = orderStat(lo);
  if (lo + 1 >= n || pos === lo) return a;
  return lerp(a, orderStat(lo + 1), pos - lo);
}

/** Percentile (NumPy "linear") of unsorted values (left unchanged); NaN values are not allowed. */
export function percentile(values: ArrayLike<number>, q: number): number {
  const copy = Float64Array.from(values);
  for (let i = 0; i < copy.length; i++) {
    if (Number.isNaN(copy[i])) throw new Error('percentile: values contain NaN');
  }
  return percentileInPlace(copy, q);
}

/**
 * Descriptive statistics of per-patient values. NaN values are left out (and counted in `missing`); Infinity is
 * kept (it makes the mean infinite but leaves median and quartiles meaningful). Quartiles and the median use
 * NumPy's default linear interpolation; `std` is the population standard deviation (NumPy `ddof=0`).
 */
export interface Summary {
  count: number;
  missing: number;
  mean: number;
  std: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  iqr: number;
  max: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const kept: number[] = [];
  let missing = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) missing++;
    else kept.push(values[i]);
  }
  const sorted = Float64Array.from(kept).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = n > 0 ? sum / n : Number.NaN;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) * (v - mean);
  const q1 = percentileSorted(sorted, 25);
  const q3 = percentileSorted(sorted, 75);
  return {
    count: n,
    missing,
    mean,
    std: n > 0 ? Math.sqrt(ss / n) : Number.NaN,
    min: n > 0 ? sorted[0] : Number.NaN,
    q1,
    median: percentileSorted(sorted, 50),
    q3,
    iqr: q3 - q1,
    max: n > 0 ? sorted[n - 1] : Number.NaN,
  };
}
