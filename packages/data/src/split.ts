import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Rng } from '@mriseg/tensor-wgsl';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import { DataError } from './errors.js';

/**
 * The reference validation patients: Python's `random.seed(42); random.sample(sorted(all 110 IDs), 10)`, as the
 * reference program draws them. A documented constant (the `Rng` of @mriseg/tensor-wgsl is not Python's).
 */
export const REFERENCE_VALIDATION_IDS: readonly string[] = [
  'TCGA_HT_7616_19940813',
  'TCGA_CS_6668_20011025',
  'TCGA_CS_4944_20010208',
  'TCGA_HT_7879_19981009',
  'TCGA_DU_7014_19860618',
  'TCGA_DU_6408_19860521',
  'TCGA_DU_6404_19850629',
  'TCGA_DU_5851_19950428',
  'TCGA_CS_6667_20011105',
  'TCGA_HT_7692_19960724',
];

export type SplitSpec =
  /** The reference's 10 validation IDs; all must be present unless `partial` (then those present). */
  | { kind: 'reference'; partial?: boolean }
  /** `validation` patients drawn with the seeded `Rng` of @mriseg/tensor-wgsl. */
  | { kind: 'random'; validation: number; seed: number }
  /** Fold `fold` (0-based) of `k`; stratified by tumour volume when `volumes` (ID → voxels) is given. */
  | { kind: 'kfold'; k: number; fold: number; seed: number; volumes?: Readonly<Record<string, number>> }
  /** Validation IDs from a file: one a line (# comments, blank lines ignored), or a split manifest JSON. */
  | { kind: 'file'; path: string };

export interface Split {
  spec: SplitSpec;
  train: string[];
  validation: string[];
  /** sha256 of the sorted train and validation ID lists. */
  hash: string;
}

/** Splits patients (never slices). `ids` are all available patient IDs. */
export function makeSplit(ids: readonly string[], spec: SplitSpec): Split {
  const all = [...new Set(ids)].sort();
  if (all.length !== ids.length) throw new Error('makeSplit: duplicate patient IDs');
  let validation: string[];
  switch (spec.kind) {
    case 'reference': {
      const have = new Set(all);
      const missing = REFERENCE_VALIDATION_IDS.filter((id) => !have.has(id));
      if (missing.length > 0 && !spec.partial) {
        throw new Error(
          `reference split: ${missing.length} of its 10 validation patients are not in the data (${missing.slice(0, 3).join(', ')}…); use a random or k-fold split, or { partial: true }`,
        );
      }
      validation = REFERENCE_VALIDATION_IDS.filter((id) => have.has(id));
      break;
    }
    case 'random': {
      if (!Number.isInteger(spec.validation) || spec.validation < 1 || spec.validation >= all.length) {
        throw new Error(`random split: validation count ${spec.validation} must be in 1..${all.length - 1}`);
      }
      validation = new Rng(spec.seed).shuffle([...all]).slice(0, spec.validation);
      break;
    }
    case 'kfold':
      validation = kfold(all, spec);
      break;
    case 'file':
      validation = readIdFile(spec.path, new Set(all));
      break;
  }
  const v = new Set(validation);
  const train = all.filter((id) => !v.has(id));
  const sortedVal = [...validation].sort();
  const hash = createHash('sha256')
    .update(JSON.stringify({ train, validation: sortedVal }))
    .digest('hex');
  return { spec, train, validation: sortedVal, hash };
}

function kfold(all: string[], spec: Extract<SplitSpec, { kind: 'kfold' }>): string[] {
  const { k, fold } = spec;
  if (!Number.isInteger(k) || k < 2 || k > all.length)
    throw new Error(`k-fold: k = ${k} must be in 2..${all.length}`);
  if (!Number.isInteger(fold) || fold < 0 || fold >= k)
    throw new Error(`k-fold: fold ${fold} must be in 0..${k - 1}`);
  const rng = new Rng(spec.seed);
  const assign = new Map<string, number>();
  if (spec.volumes) {
    const vols = spec.volumes;
    for (const id of all) if (vols[id] === undefined) throw new Error(`k-fold: no tumour volume for ${id}`);
    // Consecutive groups of k by volume, each group spread over the k folds in a random order.
    const byVolume = rng.shuffle([...all]).sort((a, b) => vols[a] - vols[b]);
    for (let g = 0; g < byVolume.length; g += k) {
      const order = rng.shuffle(Array.from({ length: k }, (_, i) => i));
      byVolume.slice(g, g + k).forEach((id, i) => {
        assign.set(id, order[i]);
      });
    }
  } else {
    rng.shuffle([...all]).forEach((id, i) => {
      assign.set(id, i % k);
    });
  }
  return all.filter((id) => assign.get(id) === fold);
}

function readIdFile(path: string, have: Set<string>): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(path, `cannot read the split file (${(e as Error).message})`);
  }
  let ids: string[];
  if (text.trimStart().startsWith('{')) {
    const parsed = JSON.parse(text) as { validation?: unknown };
    if (!Array.isArray(parsed.validation))
      throw new DataError(path, 'JSON split file has no "validation" array');
    ids = parsed.validation.map(String);
  } else {
    ids = text
      .split(/\r?\n/)
      .map((l) => l.replace(/#.*/, '').trim())
      .filter((l) => l.length > 0);
  }
  if (ids.length === 0) throw new DataError(path, 'split file lists no patient IDs');
  for (const id of ids) if (!have.has(id)) throw new DataError(path, `patient ${id} is not in the data`);
  if (new Set(ids).size !== ids.length) throw new DataError(path, 'split file lists a patient twice');
  if (ids.length >= have.size) throw new DataError(path, 'split file leaves no training patients');
  return ids;
}

/** Tumour voxels a patient (for a stratified k-fold): ID → sum of the preprocessed mask. */
export function tumourVolumes(volumes: readonly { id: string; mask: Uint8Array }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of volumes) {
    let s = 0;
    for (let i = 0; i < v.mask.length; i++) s += v.mask[i];
    out[v.id] = s;
  }
  return out;
}

/** Writes the split manifest (spec, IDs, hash) as JSON; readable back with { kind: 'file' }. */
export function writeSplitManifest(path: string, split: Split): void {
  const body = {
    hash: split.hash,
    spec:
      split.spec.kind === 'kfold' && split.spec.volumes ? { ...split.spec, volumes: '(given)' } : split.spec,
    train: split.train,
    validation: split.validation,
  };
  writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(body, null, 2)}\n`));
}
