/**
 * Splits by patient for the commands, from a `--split` text: errors say what to give instead in the CLI's own
 * terms (the data package's messages speak of its API).
 */
import {
  makeSplit,
  REFERENCE_VALIDATION_IDS,
  type Split,
  type SplitSpec,
  tumourVolumes,
  type Volume,
} from '@mriseg/data';
import { UsageError } from '../errors.js';
import { parseSplitSpec } from '../options/specs.js';
import { shownPath } from './paths.js';
import { plural } from './words.js';

/**
 * The split `text` names over the patients `ids` of the data folder `root`. k-fold splits are stratified by
 * tumour volume, so they need the loaded volumes; without them a k-fold spec is only checked against the count.
 */
export function makePatientSplit(
  text: string,
  ids: readonly string[],
  root: string,
  command: string,
  volumes?: readonly Volume[],
): Split {
  let spec: SplitSpec = parseSplitSpec(text);
  const where = `--split ${text}`;
  const n = ids.length;
  switch (spec.kind) {
    case 'reference': {
      const have = new Set(ids);
      const missing = REFERENCE_VALIDATION_IDS.filter((id) => !have.has(id));
      if (missing.length > 0)
        throw new UsageError(
          `${where}: ${missing.length} of the reference's 10 validation patients are not in ${shownPath(root)} (${missing.slice(0, 2).join(', ')}${missing.length > 2 ? ', …' : ''}); give random:SEED:N (N validation patients drawn with SEED), kfold:K:I or file:PATH`,
          command,
        );
      break;
    }
    case 'random':
      if (spec.validation >= n)
        throw new UsageError(
          `${where}: ${plural(spec.validation, 'validation patient')} asked for, but ${shownPath(root)} holds ${plural(n, 'patient')} (N must be 1 to ${n - 1})`,
          command,
        );
      break;
    case 'kfold':
      if (spec.k > n)
        throw new UsageError(
          `${where}: ${spec.k} folds of ${plural(n, 'patient')}; K must be 2 to ${n}`,
          command,
        );
      if (volumes) spec = { ...spec, volumes: tumourVolumes(volumes) };
      break;
    case 'file':
      break;
  }
  try {
    return makeSplit(ids, spec);
  } catch (e) {
    throw new UsageError(`${where}: ${(e as Error).message}`, command);
  }
}

/** The volumes of both sides of a split of loaded data. */
export function selectSplit(
  text: string,
  volumes: readonly Volume[],
  root: string,
  command: string,
): { split: Split; train: Volume[]; validation: Volume[] } {
  const split = makePatientSplit(
    text,
    volumes.map((v) => v.id),
    root,
    command,
    volumes,
  );
  const byId = new Map(volumes.map((v) => [v.id, v]));
  return {
    split,
    train: split.train.map((id) => byId.get(id)!),
    validation: split.validation.map((id) => byId.get(id)!),
  };
}
