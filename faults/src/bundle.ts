/**
 * Bundles the suite's entry points from TypeScript sources (the workspace packages through their `source` export
 * condition, as vitest reads them, with their npm dependencies) into node_modules/.cache of this package. Only the
 * native `webgpu` stays external, resolved from this package's own dependencies.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/** Bundles src/<entry>.ts for each entry; returns the output paths by entry name. */
export async function bundleSuite(
  packageDir: string,
  entries: readonly string[],
): Promise<Record<string, string>> {
  const outdir = join(packageDir, 'node_modules', '.cache', 'mriseg-faults');
  mkdirSync(outdir, { recursive: true });
  const entryPoints = Object.fromEntries(entries.map((e) => [e, join(packageDir, 'src', `${e}.ts`)]));
  // .mjs names: Node reads them as modules wherever they lie.
  const output = { outdir, outExtension: { '.js': '.mjs' }, logLevel: 'warning' } as const;
  const node = { platform: 'node', target: 'node20', format: 'esm' } as const;
  await build({
    entryPoints,
    ...node,
    ...output,
    bundle: true,
    conditions: ['source'],
    external: ['webgpu'],
    // Bundled CommonJS (dicom-parser's UMD build) calls require() for Node built-ins.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  });
  return Object.fromEntries(entries.map((e) => [e, join(outdir, `${e}.mjs`)]));
}
