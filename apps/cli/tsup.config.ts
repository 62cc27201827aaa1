import { defineConfig } from 'tsup';

// The CLI ships as one file per entry with the workspace packages bundled in; `webgpu` (a native addon) and
// Node built-ins stay external.
export default defineConfig({
  // The data package's worker script, emitted beside bin.js as cli.worker.js (src/env.ts finds it there).
  entry: { bin: 'src/bin.ts', 'cli.worker': '../../packages/data/src/worker.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  noExternal: [/^@mriseg\//, 'utif', 'fast-png', 'pako', 'iobuffer'],
  external: ['webgpu'],
  // Bundled CommonJS code (dicom-parser's UMD build) calls require() for Node built-ins.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  // Bundle the workspace packages from their sources, so the CLI build needs no other build first.
  esbuildOptions(options) {
    options.conditions = ['source'];
    // Class names are stored in checkpoints (schedulers): keep them as written.
    options.keepNames = true;
  },
});
