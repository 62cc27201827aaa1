import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative asset URLs: the built site works from any folder (and from the e2e test's static server).
  base: './',
  resolve: {
    // The workspace packages are bundled from their TypeScript sources.
    conditions: ['source', 'module', 'browser', 'development|production'],
    // @mriseg/data's decoders inflate with node:zlib (bounded by maxOutputLength): pako in the browser. dicom-parser's
    // UMD build asks for `zlib` (used only for deflated transfer syntaxes, which @mriseg/data refuses): the same.
    alias: {
      'node:zlib': fileURLToPath(new URL('./src/zlib-browser.ts', import.meta.url)),
      zlib: fileURLToPath(new URL('./src/zlib-browser.ts', import.meta.url)),
    },
  },
  // Node-side runs (scripts/make-demo.ts through vite-node) also read the packages' sources.
  ssr: {
    resolve: {
      conditions: ['source', 'module', 'node', 'development|production'],
      externalConditions: ['source'],
    },
  },
  // The decode worker (src/decode-worker.ts) is a module worker, like the page's own scripts.
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
});
