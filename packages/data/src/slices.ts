/**
 * The naming rules of a patient's slice files, shared by the folder scan (Node) and the viewer's file picker
 * (browser): `<patient>_<n>.tif|png` and `<patient>_<n>_mask.tif|png`. Everything that would silently give a
 * wrong volume is an error naming the file: two patients' files in one set (they would be stacked into one
 * volume), a slice number that is not an exact integer (`_99999999999999999999`), a number given twice (`_7` and
 * `_07`), a gap in the numbers (slices would be stacked next to each other that are not neighbours, and the
 * reference's "drop the first and last slice" would drop the wrong ones), mixed formats, unpaired masks.
 */
import { DataError } from './errors.js';

export type ImageFormat = 'tif' | 'png';

const SLICE_NAME = /^(.+)_(\d+)(_mask)?\.(tif|tiff|png)$/i;

export interface SliceName {
  prefix: string;
  /** The digits as written (for messages). */
  digits: string;
  number: number;
  mask: boolean;
  format: ImageFormat;
}

/** The parts of a slice or mask file name, or null when the name does not follow the layout. */
export function parseSliceName(name: string): SliceName | null {
  const m = SLICE_NAME.exec(name);
  if (!m) return null;
  const [, prefix, digits, mask, ext] = m;
  return {
    prefix,
    digits,
    number: Number(digits),
    mask: mask !== undefined,
    format: ext.toLowerCase() === 'png' ? 'png' : 'tif',
  };
}

export interface GroupOptions {
  /** What errors name when no single file is to blame (the folder's path, or "selection"). */
  set: string;
  /** The patient every file must belong to (the folder name); by default the one prefix all files share. */
  id?: string;
  /** 'required': every image has a mask; 'optional': all images have masks or none has. */
  masks: 'required' | 'optional';
  /** Names that are not slices: 'fail' (a patient folder) or 'skip' (files picked in a browser). */
  others: 'fail' | 'skip';
  /** Gaps in the slice numbers: 'fail' (default) or 'allow' (stacked in order, as if adjacent). */
  gaps?: 'fail' | 'allow';
}

export interface SliceGroup<T> {
  id: string;
  format: ImageFormat;
  /** In slice-number order. */
  slices: { number: number; image: T; mask: T | null }[];
  hasMasks: boolean;
}

/**
 * Groups named items (files on disk, or bytes picked in a browser) into one patient's slices by the rules above.
 * `where(item)` is what errors name (a path, or the file name). Hidden names (leading dot) are ignored.
 */
export function groupSlices<T>(
  items: readonly T[],
  nameOf: (item: T) => string,
  where: (item: T) => string,
  options: GroupOptions,
): SliceGroup<T> {
  const images = new Map<number, T>();
  const masks = new Map<number, T>();
  let id = options.id ?? null;
  let format: ImageFormat | null = null;
  for (const item of items) {
    const name = nameOf(item);
    if (name.startsWith('.')) continue;
    const s = parseSliceName(name);
    if (!s) {
      if (options.others === 'skip') continue;
      throw new DataError(where(item), 'file name does not parse as <patient>_<slice>[_mask].tif|png');
    }
    if (id === null) id = s.prefix;
    else if (s.prefix !== id) {
      throw new DataError(
        where(item),
        options.id !== undefined
          ? `file name prefix "${s.prefix}" is not the patient folder "${id}"`
          : `belongs to patient "${s.prefix}", not "${id}": one patient's slices at a time (they would be stacked into one volume)`,
      );
    }
    if (format !== null && s.format !== format) {
      throw new DataError(where(item), `mixes ${s.format} with ${format} files in one patient folder`);
    }
    format = s.format;
    if (!Number.isSafeInteger(s.number)) {
      throw new DataError(where(item), `slice number ${s.digits} is too large to be a slice number`);
    }
    const target = s.mask ? masks : images;
    const other = target.get(s.number);
    if (other !== undefined) {
      throw new DataError(where(item), `slice ${s.number} appears twice (also ${where(other)})`);
    }
    target.set(s.number, item);
  }
  if (images.size === 0 && masks.size === 0) {
    throw new DataError(options.set, 'no slice files (<patient>_<n>.tif|png)');
  }
  if (images.size === 0) throw new DataError(where([...masks.values()][0]), 'only masks, no images');
  const hasMasks = options.masks === 'required' || masks.size > 0;
  if (hasMasks) {
    for (const [n, item] of images) {
      if (!masks.has(n))
        throw new DataError(where(item), `image without mask (no ${id}_${n}_mask.${format})`);
    }
  }
  for (const [n, item] of masks) {
    if (!images.has(n)) throw new DataError(where(item), `mask without image (no ${id}_${n}.${format})`);
  }
  const numbers = [...images.keys()].sort((a, b) => a - b);
  if ((options.gaps ?? 'fail') === 'fail') {
    for (let i = 1; i < numbers.length; i++) {
      if (numbers[i] !== numbers[i - 1] + 1) {
        const missing =
          numbers[i] - numbers[i - 1] === 2
            ? `slice ${numbers[i - 1] + 1} is`
            : `slices ${numbers[i - 1] + 1}–${numbers[i] - 1} are`;
        throw new DataError(
          where(images.get(numbers[i])!),
          `slice numbers jump from ${numbers[i - 1]} to ${numbers[i]}: ${missing} missing ` +
            '(a volume with a gap would stack non-adjacent slices; restore them or pass gaps: "allow")',
        );
      }
    }
  }
  return {
    id: id!,
    format: format!,
    slices: numbers.map((n) => ({ number: n, image: images.get(n)!, mask: masks.get(n) ?? null })),
    hasMasks,
  };
}
