import { defineConfig } from 'tsup';

// The CLI ships as one file per entry with the workspace packages bundled in; `webgpu` (a native addon) and
// Node built-ins stay external.
export default defineConfig({
  entry: ['src/bin.ts'],
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  noExternal: [/^@mriseg\//, 'utif', 'fast-png', 'pako', 'iobuffer'],
  external: ['webgpu'],
  // Bundle the workspace packages from their sources, so the CLI build needs no other build first.
  esbuildOptions(options) {
    options.conditions = ['source'];
  },
});
