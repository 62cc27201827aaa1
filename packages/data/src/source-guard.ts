import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { DataError } from './errors.js';

/**
 * The real path of `path` with every symbolic link resolved; for a path that does not exist yet, the real path of
 * its nearest existing ancestor joined with the rest (where a folder would be created).
 */
export function realPathOf(path: string): string {
  const rest: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(realpathSync(at), ...rest.reverse());
    } catch {
      const up = dirname(at);
      if (up === at) return join(at, ...rest.reverse());
      rest.push(basename(at));
      at = up;
    }
  }
}

/** Whether `inner` is `outer` or lies below it (both real paths). */
export function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Refuses a folder that something would write into when it is, through any symbolic link, inside the source data:
 * the data root or any patient folder (which may itself be a link to elsewhere). `what` says what the folder is for.
 */
export function assertOutsideSource(target: string, sources: readonly string[], what: string): void {
  const real = realPathOf(target);
  for (const source of sources) {
    const src = realPathOf(source);
    if (isWithin(real, src)) {
      const via = real === resolve(target) ? '' : ` (it resolves to ${real})`;
      throw new DataError(
        target,
        `the ${what} must not be inside the source data ${source}${via}: source data are only ever read`,
      );
    }
  }
}
