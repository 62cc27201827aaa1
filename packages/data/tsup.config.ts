import { defineConfig } from 'tsup';

export default defineConfig({
  // worker.ts is its own entry: the pool starts threads on dist/worker.js.
  entry: ['src/index.ts', 'src/worker.ts', 'src/browser.ts'],
  format: ['esm'],
  dts: { entry: ['src/index.ts', 'src/browser.ts'] },
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
