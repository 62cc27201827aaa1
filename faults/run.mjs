// Launcher of the fault suite (scripts/fault-suite.sh): bundles src/bundle.ts, which bundles the suite itself from
// its TypeScript sources, then runs it. Arguments are passed on (see src/main.ts).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const cache = join(here, 'node_modules', '.cache', 'mriseg-faults');
mkdirSync(cache, { recursive: true });
const bundler = join(cache, 'bundle.mjs');
await build({
  entryPoints: [join(here, 'src', 'bundle.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  outfile: bundler,
  logLevel: 'warning',
});
const { bundleSuite } = await import(pathToFileURL(bundler).href);
const out = await bundleSuite(here, ['main', 'child']);
process.argv.push('--child', out.child);
await import(pathToFileURL(out.main).href);
