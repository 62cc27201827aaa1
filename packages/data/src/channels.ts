/**
 * Sequences → the models' three input channels (pre-contrast, FLAIR, post-contrast, the Kaggle slices' order):
 * a `pre=…,flair=…,post=…` mapping, a 4-D file with one sequence a frame, or FLAIR alone (used for all three
 * channels, as the data set's FLAIR-only patients are stored).
 */
import { DataError } from './errors.js';
import { frameOf, type ScanVolume } from './scan-volume.js';

export const CHANNEL_KEYS = ['pre', 'flair', 'post'] as const;
export type ChannelKey = (typeof CHANNEL_KEYS)[number];

/** Other spellings of the channel names. */
const ALIASES: Record<string, ChannelKey> = {
  pre: 'pre',
  t1: 'pre',
  'pre-contrast': 'pre',
  t1w: 'pre',
  flair: 'flair',
  t2flair: 'flair',
  't2-flair': 'flair',
  post: 'post',
  t1c: 'post',
  t1ce: 'post',
  t1gd: 'post',
  'post-contrast': 'post',
};

export type ChannelMap = Partial<Record<ChannelKey, string>>;

/**
 * Parses `pre=t1.nii.gz,flair=flair.nii.gz,post=t1c.nii.gz` (also t1/t1c/t1ce/t1gd/pre-contrast/post-contrast).
 * FLAIR is required; a missing pre- or post-contrast is filled with FLAIR by `channelsFrom`. Errors are RangeErrors
 * whose message says what is wrong with the text.
 */
export function parseChannelMap(text: string): ChannelMap {
  const map: ChannelMap = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1)
      throw new RangeError(`"${part}" is not NAME=VALUE (names: pre, flair, post)`);
    const name = part.slice(0, eq).trim().toLowerCase();
    const key = ALIASES[name];
    if (!key) throw new RangeError(`unknown channel "${name}" (pre, flair, post; or t1, t1c, t1ce)`);
    if (map[key] !== undefined) throw new RangeError(`channel ${key} given twice`);
    map[key] = part.slice(eq + 1).trim();
  }
  if (map.flair === undefined)
    throw new RangeError('flair=… is required (the models segment the FLAIR abnormality)');
  return map;
}

/**
 * A mapping guessed from file names without their extensions that end in a sequence name — `case_flair`, `case_t1`,
 * `case_t1ce` (BraTS), `sub-01_FLAIR`: FLAIR required, each channel once (else null). Names that end in nothing
 * known (a T2, a mask) are left out of the mapping.
 */
export function guessChannelMap(stems: readonly string[]): ChannelMap | null {
  const map: ChannelMap = {};
  for (const stem of stems) {
    const key =
      ALIASES[
        stem
          .toLowerCase()
          .split(/[_\-. ]+/)
          .pop() ?? ''
      ];
    if (!key) continue;
    if (map[key] !== undefined) return null;
    map[key] = stem;
  }
  return map.flair === undefined ? null : map;
}

/** True when a SeriesDescription matches a pattern: case-insensitive, `*` any text, otherwise a substring. */
export function matchesDescription(description: string, pattern: string): boolean {
  const p = pattern.toLowerCase();
  const d = description.toLowerCase();
  if (!p.includes('*')) return d.includes(p);
  const re = new RegExp(
    `^${p
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(d);
}

export interface Channels {
  /** pre-contrast, FLAIR, post-contrast. */
  volumes: [ScanVolume, ScanVolume, ScanVolume];
  notes: string[];
}

/** Channels from volumes named by the mapping (missing pre/post replaced by FLAIR, said in a note). */
export function channelsFrom(map: Partial<Record<ChannelKey, ScanVolume>>): Channels {
  const flair = map.flair;
  if (!flair) throw new RangeError('channelsFrom: no FLAIR volume');
  const notes: string[] = [];
  const pick = (k: 'pre' | 'post') => {
    const v = map[k];
    if (v) return single(v, k);
    notes.push(
      `no ${k}-contrast sequence given: FLAIR is used in its place (as the data set's FLAIR-only patients)`,
    );
    return single(flair, 'flair');
  };
  return { volumes: [pick('pre'), single(flair, 'flair'), pick('post')], notes };
}

function single(v: ScanVolume, key: string): ScanVolume {
  if (v.frames !== 1)
    throw new DataError(
      v.source,
      `a 4-D volume (${v.frames} frames) given as the ${key} channel; give a 3-D volume a sequence`,
    );
  return v;
}

/**
 * Channels from one volume: a 4-D file with three frames is pre-contrast, FLAIR, post-contrast in that order; a
 * 3-D file is taken as FLAIR for all three channels (with a note). Other frame counts are an error.
 */
export function channelsFromOne(v: ScanVolume): Channels {
  if (v.frames === 3) return { volumes: [frameOf(v, 0), frameOf(v, 1), frameOf(v, 2)], notes: [] };
  if (v.frames === 1)
    return {
      volumes: [v, v, v],
      notes: [
        `${v.source}: one sequence, taken as FLAIR for all three channels (as the data set's FLAIR-only patients); map sequences with pre=…,flair=…,post=… for all three`,
      ],
    };
  throw new DataError(
    v.source,
    `${v.frames} frames: a 4-D input must hold 3 (pre-contrast, FLAIR, post-contrast in that order); or map 3-D files with pre=…,flair=…,post=…`,
  );
}
