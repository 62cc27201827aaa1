/**
 * How a patient's mask files encode tumour, decided over all of them before any is binarised. The data set stores
 * 0/255; many tools write 0/1. Binarising 0/1 masks at 128 would erase every tumour without a word, so:
 *
 * - all masks 0/255 (or empty): tumour = 255 (values ≥ 128);
 * - all masks 0/1 (or empty): tumour = 1, with a note, since that is what they mean;
 * - 0/1 files next to 0/255 files in one patient: an error naming one of each (one of them is wrong);
 * - other values (anti-aliased or resampled masks): binarised at 128 with a warning, or an error with
 *   `maskValues: 'fail'`; but when every value is below 128 (labels 0/1/2…) nothing would survive, so that is
 *   an error too.
 */
import { DataError } from './errors.js';

type Kind = 'empty' | '255' | '01' | 'other';

export interface MaskDecision {
  /** Values at or above this are tumour. */
  threshold: number;
  /** A note or warning for the user, or null. */
  warning: string | null;
}

export class MaskValueTally {
  private readonly first = new Map<Kind, string>();
  private readonly files = new Map<Kind, number>();
  /** Pixels of the first file with other values that are neither 0 nor its majority value. */
  private firstOddPixels = 0;
  private maxValue = 0;

  /** Records one mask file's values. */
  add(file: string, values: Uint8Array): void {
    let ones = 0;
    let full = 0;
    let odd = 0;
    let max = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === 0) continue;
      if (v > max) max = v;
      if (v === 255) full++;
      else if (v === 1) ones++;
      else odd++;
    }
    const kind: Kind =
      odd > 0 || (ones > 0 && full > 0) ? 'other' : full > 0 ? '255' : ones > 0 ? '01' : 'empty';
    if (kind === 'other' && !this.first.has('other')) this.firstOddPixels = odd + Math.min(ones, full);
    if (max > this.maxValue) this.maxValue = max;
    if (!this.first.has(kind)) this.first.set(kind, file);
    this.files.set(kind, (this.files.get(kind) ?? 0) + 1);
  }

  /** The rule for this patient (see the module comment); throws a DataError naming a file when there is none. */
  decide(patient: string, policy: 'binarise' | 'fail' = 'binarise'): MaskDecision {
    const ones = this.first.get('01');
    const full = this.first.get('255');
    const other = this.first.get('other');
    if (other !== undefined) {
      const n = this.files.get('other')!;
      if (policy === 'fail') {
        throw new DataError(
          other,
          `mask has ${this.firstOddPixels} pixels with values other than 0 and 255 (${n} such mask file(s) in ${patient})`,
        );
      }
      if (this.maxValue < 128) {
        throw new DataError(
          other,
          `mask values are all below 128 (largest ${this.maxValue}): binarising at 128 would erase every label; ` +
            'masks must be 0/255 or 0/1',
        );
      }
      return {
        threshold: 128,
        warning: `${other}: mask values other than 0/255 (in ${n} mask file(s) of ${patient}); binarised at 128`,
      };
    }
    if (ones !== undefined && full !== undefined) {
      throw new DataError(
        ones,
        `mask stored as 0/1 while other masks of ${patient} use 0/255 (e.g. ${full}): one of the two is wrong`,
      );
    }
    if (ones !== undefined) {
      return { threshold: 1, warning: `${patient}: masks stored as 0/1 (not 0/255); 1 is read as tumour` };
    }
    return { threshold: 128, warning: null };
  }
}

/** Binarises raw mask values in place with the decided threshold (→ 0/1). */
export function binariseMask(values: Uint8Array, threshold: number): void {
  for (let i = 0; i < values.length; i++) values[i] = values[i] >= threshold ? 1 : 0;
}
