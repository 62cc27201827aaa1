/**
 * Strip compressors for `encodeTiff`, so that every compression the reader accepts can also be written (tests and
 * crafted fault fixtures need LZW and PackBits files; the data set itself is uncompressed).
 */

/** TIFF LZW as libtiff writes it: a Clear code first, 9–12-bit codes with early change, a Clear before the
 * table fills, the end code last. */
export function compressLzw(data: Uint8Array): Uint8Array {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  let width = 9;
  const put = (code: number) => {
    acc = (acc << width) | code;
    bits += width;
    while (bits >= 8) {
      bytes.push((acc >>> (bits - 8)) & 255);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  };
  let table = new Map<number, number>();
  let next = 258;
  put(256);
  let w = -1;
  for (const c of data) {
    if (w < 0) {
      w = c;
      continue;
    }
    const key = w * 256 + c;
    const hit = table.get(key);
    if (hit !== undefined) {
      w = hit;
      continue;
    }
    put(w);
    table.set(key, next++);
    // The reader adds this entry one code later and widens when its next code + 1 reaches 2^width.
    if (next === 1 << width && width < 12) width++;
    if (next === 4094) {
      put(256);
      table = new Map();
      next = 258;
      width = 9;
    }
    w = c;
  }
  if (w >= 0) {
    put(w);
    if (next + 1 === 1 << width && width < 12) width++;
  }
  put(257);
  if (bits > 0) bytes.push((acc << (8 - bits)) & 255);
  return Uint8Array.from(bytes);
}

/** PackBits: runs of 3 or more equal bytes as repeat records, the rest as literal records (at most 128 each). */
export function compressPackBits(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    let run = 1;
    while (i + run < data.length && run < 128 && data[i + run] === data[i]) run++;
    if (run >= 3) {
      out.push(257 - run, data[i]);
      i += run;
      continue;
    }
    let lit = 1;
    while (
      i + lit < data.length &&
      lit < 128 &&
      !(
        i + lit + 2 < data.length &&
        data[i + lit] === data[i + lit + 1] &&
        data[i + lit] === data[i + lit + 2]
      )
    )
      lit++;
    out.push(lit - 1, ...data.subarray(i, i + lit));
    i += lit;
  }
  return Uint8Array.from(out);
}

/** Applies TIFF predictor 2 (horizontal differencing) to 8-bit rows, as a writer does before compressing. */
export function applyHorizontalPredictor(data: Uint8Array, rowBytes: number, channels: number): Uint8Array {
  const out = data.slice();
  for (let row = 0; row < data.length; row += rowBytes) {
    for (let i = row + rowBytes - 1; i >= row + channels; i--) out[i] = (data[i] - data[i - channels]) & 255;
  }
  return out;
}
