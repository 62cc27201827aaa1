import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const PKG = fileURLToPath(new URL('../', import.meta.url));

export function tempDir(label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `mriseg-data-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let workerFile: Promise<string> | null = null;

/** Bare imports (npm packages, Node built-ins) stay external, except the workspace's own @mriseg/* packages. */
const npmExternal: Plugin = {
  name: 'npm-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@mriseg/') ? undefined : { path: args.path, external: true },
    );
  },
};

/**
 * Bundles src/worker.ts the way tsup does (npm dependencies external), into node_modules/.cache so Node resolves
 * utif and fast-png from this package. Tests run the real worker-thread path with it. Workspace packages
 * (@mriseg/tensor-wgsl) are bundled from their sources (the `source` export condition, as vitest resolves them), so
 * the test needs no other package built first.
 */
export function builtWorker(): Promise<string> {
  workerFile ??= (async () => {
    const dir = join(PKG, 'node_modules/.cache/mriseg-data-test');
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, 'worker.mjs');
    await build({
      entryPoints: [join(PKG, 'src/worker.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['source'],
      plugins: [npmExternal],
      outfile,
      logLevel: 'silent',
    });
    return outfile;
  })();
  return workerFile;
}
