import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyDataset, tinyTrainArgs } from './fixture.js';

const appDir = fileURLToPath(new URL('..', import.meta.url));
// Inside the app's node_modules so that the one external import, `webgpu`, resolves as on a prepared box.
const outDir = join(appDir, 'node_modules', '.cache', 'mriseg-bundle-test');
let fx: ReturnType<typeof tinyDataset>;

/**
 * Runs the bundle in fx.root. `stderrFile`: stderr goes to that file opened for appending (as `2>>file`), where
 * Dawn's notes are filtered out; a Node parent's pipe is a socket, which that filter leaves alone.
 */
function run(args: string[], onStdout?: (text: string, kill: () => void) => void, stderrFile?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const errFd = stderrFile ? openSync(stderrFile, 'a') : null;
    const child = spawn(process.execPath, [join(outDir, 'cli.bundle.mjs'), ...args], {
      cwd: fx.root,
      env: { ...process.env, MRISEG_CACHE: fx.cache },
      stdio: ['ignore', 'pipe', errFd ?? 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout, () => child.kill('SIGINT'));
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (errFd !== null) {
        closeSync(errFd);
        stderr = readFileSync(stderrFile!, 'utf8');
      }
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  fx = tinyDataset();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  execFileSync(process.execPath, [join(appDir, 'bundle.mjs'), outDir], { stdio: 'pipe' });
});

describe('single-file bundle', () => {
  it("bench --backend null measures the host's cost of a replayed step without running it", async () => {
    const r = await run([
      'bench',
      '--backend',
      'null',
      '--model',
      'unet',
      '--features',
      '4',
      '--batch-size',
      '1',
      '--image-size',
      '64',
      '--warmup',
      '3',
      '--iters',
      '3',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout);
    expect(b.nullBackend).toBe(true);
    expect(b.adapter).toMatch(/null/i);
    expect(b.replayTrain).toMatch(/^replayed \(\d+ dispatches a step\)$/);
    expect(b.trainDispatches).toBeGreaterThan(100);
    expect(b.trainHostMs).toBeGreaterThan(0);
    // The null backend's timestamps time nothing: no GPU figure is reported.
    expect(b.trainGpuMs).toBeUndefined();
    const profiled = await run(['bench', '--backend', 'null', '--profile']);
    expect(profiled.code).toBe(2);
    expect(profiled.stderr).toMatch(/--profile times kernels on the device; the null backend runs none/);
  });

  it('is two files that run train with data worker threads; SIGINT stops with a resumable checkpoint', async () => {
    expect(existsSync(join(outDir, 'cli.bundle.mjs'))).toBe(true);
    expect(existsSync(join(outDir, 'cli.worker.mjs'))).toBe(true);
    // A relative run folder, as a user would type it (the child runs in fx.root).
    const run1 = join(fx.root, 'bundle-run');
    const r = await run(
      ['train', ...tinyTrainArgs(fx.data, 'bundle-run', ['--workers', '1'])],
      undefined,
      join(fx.root, 'train.stderr'),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Best validation mean DSC: \d\.\d{4}/);
    const env = JSON.parse(readFileSync(join(run1, 'environment.json'), 'utf8'));
    expect(env.dataWorkers).toBe('workers, 1');
    // stderr has the progress lines but not Dawn's two notes about lavapipe's limits.
    expect(r.stderr).toContain('epoch 2/2 [');
    expect(r.stderr).not.toContain('artificially reduced');
    // The command it prints runs as printed, pasted into a shell where the user is.
    const printed = /evaluate it: (.+)$/m.exec(r.stdout)![1];
    expect(printed).toMatch(/^node \S+cli\.bundle\.mjs evaluate /);
    expect(printed).toContain('--checkpoint bundle-run/best.safetensors');
    const pasted = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'sh',
        ['-c', printed],
        { cwd: fx.root, env: { ...process.env, MRISEG_CACHE: fx.cache } },
        (e, stdout, stderr) => resolve({ status: e ? Number(e.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(pasted.status, pasted.stderr).toBe(0);
    expect(pasted.stdout).toContain('wrote bundle-run/evaluation/patients.csv');
    // Errors: one line, no stack trace, exit 2 (usage) or 1 (a missing file).
    const bad = await run(['evaluate', '--checkpoint', 'nope.safetensors', '--tta', 'x']);
    expect([bad.code, bad.stderr.trim().split('\n').length]).toEqual([2, 1]);
    const missing = await run(['evaluate', '--checkpoint', 'nope.safetensors']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^mriseg: --checkpoint nope\.safetensors: no such file[^\n]*$/);

    // A real Ctrl-C (SIGINT) once the first epoch is done: exit 130, a checkpoint to resume from.
    const run2 = join(fx.root, 'bundle-sigint');
    let sent = false;
    const s = await run(
      ['train', ...tinyTrainArgs(fx.data, 'bundle-sigint', ['--epochs', '40'])],
      (text, kill) => {
        if (!sent && text.includes('epoch 1/40:')) {
          sent = true;
          kill();
        }
      },
    );
    expect(sent).toBe(true);
    expect(s.code, s.stderr).toBe(130);
    expect(s.stdout).toContain('--resume bundle-sigint');
    const again = await run(['train', '--resume', 'bundle-sigint', '--epochs', '3']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/resuming .* at epoch [23], batch \d+/);
    const lines = readFileSync(join(run2, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).epoch)).toEqual([1, 2, 3]);
  });
});
