// Single-file bundle of the CLI for boxes without node_modules (only the native `webgpu` stays external), plus
// the data package's worker script beside it: dist/cli.bundle.mjs and dist/cli.worker.mjs.
// Usage: node bundle.mjs [outdir]   (default: dist)
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, 'dist'));
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  external: ['webgpu'],
  logLevel: 'warning',
  // Class names are stored in checkpoints (schedulers): keep them as written.
  keepNames: true,
  // Some bundled CommonJS code calls require() for Node built-ins.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
};
await build({ ...common, entryPoints: [join(here, 'src/bin.ts')], outfile: join(outdir, 'cli.bundle.mjs') });
await build({
  ...common,
  entryPoints: [join(here, 'node_modules/@mriseg/data/src/worker.ts')],
  outfile: join(outdir, 'cli.worker.mjs'),
});
console.log(`wrote ${join(outdir, 'cli.bundle.mjs')} and ${join(outdir, 'cli.worker.mjs')}`);
