import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Every entry under `dir` (links recorded as links, not followed) with its type, mode and, for files, size, mtime
 * and sha256: two equal snapshots mean the tree is byte-identical and nothing was added, removed or touched.
 */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) out.set(rel, `link ${readlinkSync(p)}`);
      else if (s.isDirectory()) {
        out.set(rel, `dir ${s.mode.toString(8)}`);
        walk(p);
      } else {
        const hash = createHash('sha256').update(readFileSync(p)).digest('hex');
        out.set(rel, `file ${s.mode.toString(8)} ${s.size} ${s.mtimeMs} ${hash}`);
      }
    }
  };
  walk(dir);
  return out;
}

/** The first differences between two snapshots, or null when they are equal. */
export function diffTrees(before: Map<string, string>, after: Map<string, string>): string | null {
  const diffs: string[] = [];
  for (const [k, v] of before) {
    if (!after.has(k)) diffs.push(`removed ${k}`);
    else if (after.get(k) !== v) diffs.push(`changed ${k}`);
  }
  for (const k of after.keys()) if (!before.has(k)) diffs.push(`added ${k}`);
  if (diffs.length === 0) return null;
  return diffs.slice(0, 3).join(', ') + (diffs.length > 3 ? ` (+${diffs.length - 3} more)` : '');
}
