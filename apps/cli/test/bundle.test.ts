import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyDataset, tinyTrainArgs } from './fixture.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
// Inside the app's node_modules so that the one external import, `webgpu`, resolves as on a prepared box.
const outDir = join(appDir, 'node_modules', '.cache', 'mriseg-bundle-test');
let fx: ReturnType<typeof tinyDataset>;

function run(args: string[], onStdout?: (text: string, kill: () => void) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [join(outDir, 'cli.bundle.mjs'), ...args], {
      cwd: fx.root,
      env: { ...process.env, MRISEG_CACHE: fx.cache },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout, () => child.kill('SIGINT'));
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  fx = tinyDataset();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  execFileSync(process.execPath, [join(appDir, 'bundle.mjs'), outDir], { stdio: 'pipe' });
});

describe('single-file bundle', () => {
  it('is two files that run train with data worker threads; SIGINT stops with a resumable checkpoint', async () => {
    expect(existsSync(join(outDir, 'cli.bundle.mjs'))).toBe(true);
    expect(existsSync(join(outDir, 'cli.worker.mjs'))).toBe(true);
    const run1 = join(fx.root, 'bundle-run');
    const r = await run(['train', ...tinyTrainArgs(fx.data, run1, ['--workers', '1'])]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Best validation mean DSC: \d\.\d{4}/);
    const env = JSON.parse(readFileSync(join(run1, 'environment.json'), 'utf8'));
    expect(env.dataWorkers).toBe('workers, 1');

    // A real Ctrl-C (SIGINT) once the first epoch is done: exit 130, a checkpoint to resume from.
    const run2 = join(fx.root, 'bundle-sigint');
    let sent = false;
    const s = await run(['train', ...tinyTrainArgs(fx.data, run2, ['--epochs', '40'])], (text, kill) => {
      if (!sent && text.includes('epoch 1/40:')) {
        sent = true;
        kill();
      }
    });
    expect(sent).toBe(true);
    expect(s.code, s.stderr).toBe(130);
    expect(s.stdout).toContain(`--resume ${run2}`);
    const again = await run(['train', '--resume', run2, '--epochs', '3']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/resuming .* at epoch [23], batch \d+/);
    const lines = readFileSync(join(run2, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).epoch)).toEqual([1, 2, 3]);
  });
});
