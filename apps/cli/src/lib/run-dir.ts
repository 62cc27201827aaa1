/** Names of the folders commands write into by default. */

/** A sortable UTC time stamp for folder names: 20261204-165200. */
export function runStamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}
