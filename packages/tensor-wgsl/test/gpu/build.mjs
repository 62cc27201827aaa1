/**
 * Prepares this package's GPU-relevant test files for a bare NVIDIA box (Node.js and node_modules absent there):
 * bundles them with a small vitest stand-in into packages/tensor-wgsl/.gpu/tests.mjs and stages Node.js, the
 * Vulkan loader and the `webgpu` package from ../shared/gpu beside it (see /work/shared/gpu/README.md).
 *
 *   node packages/tensor-wgsl/test/gpu/build.mjs            (here, after pnpm install)
 *   bash packages/tensor-wgsl/.gpu/run.sh node packages/tensor-wgsl/.gpu/tests.mjs     (there, from the repo root)
 *
 * The golden fixture travels along and is looked for under /tmp/mriseg/w/shared/golden on the box.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..', '..');
const out = join(pkg, '.gpu');
const shared = join(pkg, '..', '..', '..', 'shared');
const FILES = [
  'reference',
  'random',
  'safetensors',
  'elementwise',
  'reduce',
  'layout',
  'matmul-creation',
  'autograd',
  'memory',
  'api',
  'golden',
];

mkdirSync(out, { recursive: true });
const entry = [
  "import { runFile, summary } from './vitest-shim.ts';",
  "import { adapterInfo } from '../../src/index.ts';",
  'console.log(JSON.stringify(await adapterInfo()));',
  ...FILES.map((f) => `await runFile('${f}', () => import('../${f}.test.ts'));`),
  'process.exit(summary() === 0 ? 0 : 1);',
].join('\n');
buildSync({
  stdin: { contents: entry, resolveDir: here, loader: 'ts', sourcefile: 'gpu-entry.ts' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: join(out, 'tests.mjs'),
  external: ['webgpu'],
  alias: { vitest: join(here, 'vitest-shim.ts') },
  define: { 'import.meta.url': JSON.stringify('file:///tmp/mriseg/w/main/packages/tensor-wgsl/test/x.ts') },
  logLevel: 'warning',
});
copyFileSync(
  join(shared, 'golden', 'ops', 'cat_relu_sigmoid.safetensors'),
  join(out, 'cat_relu_sigmoid.safetensors'),
);
for (const f of readdirSync(join(shared, 'gpu')))
  if (f.endsWith('.deb') || f.endsWith('.xz') || f === 'run.sh')
    copyFileSync(join(shared, 'gpu', f), join(out, f));
const webgpu = dirname(createRequire(join(pkg, 'package.json')).resolve('webgpu/package.json'));
execFileSync('tar', [
  'czf',
  join(out, 'webgpu.tgz'),
  '-C',
  dirname(webgpu),
  '--exclude=dist/darwin*',
  '--exclude=dist/win32*',
  '--exclude=dist/linux-arm64',
  'webgpu',
]);
console.log(`staged ${out}`);
