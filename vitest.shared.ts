import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Shared vitest settings: one forked process per package run (dawn.node reads the environment of the process
 * and wants one device per process) and the workspace packages' sources through the `source` export condition
 * (Vite's default conditions follow it). */
export function packageTestConfig(options: { include?: string[] } = {}) {
  return defineConfig({
    resolve: { conditions: ['source', 'module', 'browser', 'development|production'] },
    ssr: {
      resolve: {
        conditions: ['source', 'module', 'node', 'development|production'],
        externalConditions: ['source'],
      },
    },
    test: {
      pool: 'forks',
      poolOptions: { forks: { singleFork: true } },
      testTimeout: 300_000,
      hookTimeout: 120_000,
      include: options.include ?? ['test/**/*.test.ts'],
      globalSetup: [fileURLToPath(new URL('./vitest.dawn-notes.ts', import.meta.url))],
    },
  });
}
