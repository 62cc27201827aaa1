/**
 * A patient from files picked in the browser (or fetched): names checked with the rules of @mriseg/data's folder
 * scan (`<patient>_<slice>[_mask].tif|png`, one patient, one format, no slice twice), every slice decoded and
 * validated by the data package's decoders, masks optional (all or none). Errors are DataErrors naming the file.
 */
import { DataError, decodePng, decodeTiff, type Raster, type RawPatient } from '@mriseg/data/browser';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface LoadedPatient {
  raw: RawPatient;
  hasMask: boolean;
}

const SLICE_NAME = /^(.+)_(\d+)(_mask)?\.(tif|tiff|png)$/i;

/** Whether a file name looks like a slice or mask (others, e.g. README.md or data.csv, are skipped). */
export function isSliceName(name: string): boolean {
  return SLICE_NAME.test(name);
}

function decode(f: NamedBytes): Raster {
  return /\.png$/i.test(f.name) ? decodePng(f.bytes, f.name) : decodeTiff(f.bytes, f.name);
}

export function patientFromFiles(files: readonly NamedBytes[]): LoadedPatient {
  const slices = files.filter((f) => !f.name.startsWith('.') && isSliceName(f.name));
  if (slices.length === 0) {
    const what =
      files.length === 0 ? 'no files' : `${files.length} file(s), none named <patient>_<n>.tif|png`;
    throw new DataError('selection', `no slices found (${what})`);
  }
  const images = new Map<number, NamedBytes>();
  const masks = new Map<number, NamedBytes>();
  let id: string | null = null;
  let format: 'png' | 'tif' | null = null;
  for (const f of slices) {
    const [, prefix, num, isMask, ext] = SLICE_NAME.exec(f.name)!;
    if (id !== null && prefix !== id) {
      throw new DataError(f.name, `belongs to patient "${prefix}", not "${id}": open one patient at a time`);
    }
    id = prefix;
    const fmt = ext.toLowerCase() === 'png' ? 'png' : 'tif';
    if (format !== null && fmt !== format) {
      throw new DataError(f.name, `mixes ${fmt} with ${format} files in one patient folder`);
    }
    format = fmt;
    const n = Number.parseInt(num, 10);
    const target = isMask ? masks : images;
    const other = target.get(n);
    if (other) throw new DataError(f.name, `slice ${n} appears twice (also ${other.name})`);
    target.set(n, f);
  }
  if (images.size === 0) throw new DataError(id!, 'only masks were given, no images');
  const hasMask = masks.size > 0;
  if (hasMask) {
    for (const [n, f] of images) {
      if (!masks.has(n)) throw new DataError(f.name, `image without mask (no ${id}_${n}_mask.${format})`);
    }
    for (const [n, f] of masks) {
      if (!images.has(n)) throw new DataError(f.name, `mask without image (no ${id}_${n}.${format})`);
    }
  }
  const numbers = [...images.keys()].sort((a, b) => a - b);
  const first = decode(images.get(numbers[0])!);
  const { width, height } = first;
  const depth = numbers.length;
  const plane = width * height;
  const image = new Uint8Array(depth * plane * 3);
  const mask = new Uint8Array(depth * plane);
  numbers.forEach((n, z) => {
    const f = images.get(n)!;
    const img = z === 0 ? first : decode(f);
    check(img, f.name, width, height, 3);
    image.set(img.data, z * plane * 3);
    const mf = masks.get(n);
    if (mf) {
      const m = decode(mf);
      check(m, mf.name, width, height, 1);
      for (let i = 0; i < plane; i++) mask[z * plane + i] = m.data[i] >= 128 ? 1 : 0;
    }
  });
  return { raw: { id: id!, sliceNumbers: numbers, depth, height, width, image, mask }, hasMask };
}

function check(r: Raster, name: string, w: number, h: number, channels: number): void {
  if (r.width !== w || r.height !== h) {
    throw new DataError(
      name,
      `wrong size ${r.width}×${r.height}, ${w}×${h} expected (the patient's first slice)`,
    );
  }
  if (r.channels !== channels) {
    throw new DataError(
      name,
      `wrong channel count ${r.channels}, ${channels} expected (${channels === 3 ? 'RGB image' : 'grey mask'})`,
    );
  }
}
