/**
 * Fast skipping of background. Masks of this dataset are mostly zeros (a tumour fills a few percent of a volume),
 * so whole-volume passes spend their time proving rows empty; reading four bytes at a time makes that ~4× cheaper.
 */

/** A Uint32 view over the same bytes when the array is 4-byte aligned (word k = bytes 4k … 4k+3), else null. */
export function wordView(data: Uint8Array): Uint32Array | null {
  return data.byteOffset % 4 === 0 ? new Uint32Array(data.buffer, data.byteOffset, data.length >> 2) : null;
}

/** Index of the first non-zero byte of data[start, end), or -1. `words` is {@link wordView}(data). */
export function firstNonZero(
  data: Uint8Array,
  words: Uint32Array | null,
  start: number,
  end: number,
): number {
  let i = start;
  if (words !== null) {
    while (i < end && (i & 3) !== 0) {
      if (data[i] !== 0) return i;
      i++;
    }
    if (i >= end) return -1;
    let w = i >> 2;
    const wEnd = end >> 2;
    while (w < wEnd && words[w] === 0) w++;
    i = w << 2;
  }
  for (; i < end; i++) if (data[i] !== 0) return i;
  return -1;
}

/** Index of the last non-zero byte of data[start, end), or -1. */
export function lastNonZero(data: Uint8Array, words: Uint32Array | null, start: number, end: number): number {
  let i = end - 1;
  if (words !== null) {
    while (i >= start && ((i + 1) & 3) !== 0) {
      if (data[i] !== 0) return i;
      i--;
    }
    if (i < start) return -1;
    // Now i + 1 is a multiple of 4: words below (i + 1) >> 2 end at or before i.
    let w = ((i + 1) >> 2) - 1;
    const wStart = (start + 3) >> 2;
    while (w >= wStart && words[w] === 0) w--;
    i = Math.min(i, ((w + 1) << 2) - 1);
  }
  for (; i >= start; i--) if (data[i] !== 0) return i;
  return -1;
}

/**
 * Index of the first zero byte of data[start, end), or `end` if there is none: where a run of foreground that
 * starts before it ends. Whole words without a zero byte are stepped over, so a solid tumour row costs a quarter.
 */
export function firstZero(data: Uint8Array, words: Uint32Array | null, start: number, end: number): number {
  let i = start;
  if (words !== null) {
    while (i < end && (i & 3) !== 0) {
      if (data[i] === 0) return i;
      i++;
    }
    let w = i >> 2;
    const wEnd = end >> 2;
    // A word has a zero byte exactly when (w − 0x01010101) & ~w & 0x80808080 is non-zero.
    while (w < wEnd) {
      const x = words[w];
      if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
      w++;
    }
    if (w << 2 > i) i = w << 2;
  }
  for (; i < end; i++) if (data[i] === 0) return i;
  return end;
}
