/**
 * `npm i @mriseg/models` in another project: the packed tarballs (with their workspace dependencies) install into a
 * fresh folder, the README's example runs there under plain Node, and the package bundles for a browser.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'mriseg-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Runs a command and resolves with its stdout. Asynchronous on purpose: a minute of `spawnSync` would block the
 * test worker, whose messages to vitest then time out on a loaded machine.
 */
function sh(cmd: string, args: string[], cwd: string, timeout = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd, encoding: 'utf8', timeout, env: process.env, maxBuffer: 64 << 20 },
      (e, stdout, stderr) => {
        if (e)
          reject(
            new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${stdout}\n${stderr}`),
          );
        else resolve(stdout);
      },
    );
  });
}

describe('@mriseg/models as an npm package', () => {
  it('packs, installs into a new project, runs the README example in Node and bundles for a browser', async () => {
    await sh('pnpm', ['--filter', '@mriseg/models...', 'run', 'build'], root);
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    for (const p of ['tensor-wgsl', 'nn', 'models'])
      await sh('pnpm', ['pack', '--pack-destination', tarballs], join(root, 'packages', p));
    const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'));
    expect(files.sort()).toEqual([
      'mriseg-models-0.1.0.tgz',
      'mriseg-nn-0.1.0.tgz',
      'mriseg-tensor-wgsl-0.1.0.tgz',
    ]);

    const proj = join(work, 'project');
    mkdirSync(proj);
    writeFileSync(
      join(proj, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await sh(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files.map((f) => join(tarballs, f))],
      proj,
    );
    const installed = JSON.parse(
      readFileSync(join(proj, 'node_modules/@mriseg/models/package.json'), 'utf8'),
    );
    expect(JSON.stringify(installed.exports)).not.toContain('src/');
    // Each installed package carries the MIT licence its package.json names.
    for (const p of ['tensor-wgsl', 'nn', 'models']) {
      const dir = join(proj, 'node_modules/@mriseg', p);
      expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).license, p).toBe('MIT');
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8'), p).toMatch(
        /^MIT License\n\nCopyright \(c\) \d{4} mriseg contributors/,
      );
    }

    // Weights for the example, written through the installed package itself.
    writeFileSync(
      join(proj, 'make-weights.mjs'),
      "import { createModel, initDevice } from '@mriseg/models';\nimport { saveModel } from '@mriseg/models/node';\n" +
        "await initDevice();\nawait saveModel('unet.safetensors', createModel('unet', { features: 2 }));\n",
    );
    await sh('node', ['make-weights.mjs'], proj);
    const readme = readFileSync(join(root, 'packages/models/README.md'), 'utf8');
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    if (!example) throw new Error('packages/models/README.md has no ```js example');
    expect(example.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(10);
    writeFileSync(join(proj, 'example.mjs'), example);
    expect(await sh('node', ['example.mjs'], proj)).toMatch(/^unet: \d+ tumour pixels$/m);

    writeFileSync(
      join(proj, 'browser.mjs'),
      "import { createModel, initDevice, predictVolume } from '@mriseg/models';\n" +
        "await initDevice();\nconst m = createModel('unet', { features: 2 });\n" +
        'console.log(await predictVolume(m, { data: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] }));\n',
    );
    await sh(
      join(root, 'node_modules/.bin/esbuild'),
      [
        'browser.mjs',
        '--bundle',
        '--platform=browser',
        '--format=esm',
        '--outfile=out.js',
        '--log-level=error',
      ],
      proj,
    );
    const bundle = readFileSync(join(proj, 'out.js'), 'utf8');
    expect(bundle).not.toMatch(/from\s*["']node:/);
    expect(bundle).toContain('navigator');
  }, 600_000);
});
