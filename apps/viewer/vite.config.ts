import { defineConfig } from 'vite';

export default defineConfig({
  // The workspace packages are bundled from their TypeScript sources.
  resolve: { conditions: ['source', 'module', 'browser', 'development|production'] },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
});
