/**
 * Fine-tuning steps/s and inference slices/s in the page, in headless Chromium (Debian's, WebGPU on SwiftShader
 * without a GPU): builds the viewer, serves it with `vite preview` on 127.0.0.1, loads the demo (or a checkpoint
 * given as BENCH_CHECKPOINT), and presses "Measure speed" (the model worker's `bench`: a fresh copy of the
 * checkpoint's architecture trained on random batches, then inference). Prints one JSON line.
 *
 *   pnpm --filter @mriseg/viewer bench-page                     # demo U-Net (f 4, 64²), batch 4
 *   BENCH_CHECKPOINT=../../../shared/models/unet-lgg-f32.safetensors BENCH_BATCH=1 BENCH_STEPS=3 \
 *     pnpm --filter @mriseg/viewer bench-page                   # the reference U-Net (f 32, 256²)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const ARGS = [...CHROMIUM_ARGS, ...(process.env.BENCH_CHROMIUM_ARGS ?? '').split(' ').filter(Boolean)];
const vite = resolve(root, 'node_modules/vite/bin/vite.js');

async function main(): Promise<void> {
  const outDir = resolve(root, 'dist');
  if (process.env.BENCH_NO_BUILD !== '1') {
    execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  }
  const port = 4000 + Math.floor(Math.random() * 1000);
  const server: ChildProcess = spawn(
    process.execPath,
    [vite, 'preview', '--outDir', outDir, '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    { cwd: root, stdio: 'ignore' },
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ARGS,
    ignoreDefaultArgs: ['--headless'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    for (let i = 0; ; i++) {
      try {
        await page.goto(`http://127.0.0.1:${port}/`);
        break;
      } catch (e) {
        if (i > 50) throw e;
        await new Promise((ok) => setTimeout(ok, 200));
      }
    }
    await page.waitForFunction(
      () => /WebGPU adapter/.test(document.getElementById('gpu-status')!.textContent ?? ''),
      undefined,
      {
        timeout: 60_000,
      },
    );
    const checkpoint = process.env.BENCH_CHECKPOINT;
    if (checkpoint) await page.locator('#ckpt-input').setInputFiles(resolve(checkpoint));
    else {
      // The demo's checkpoint without running the demo's inference first.
      await page.locator('#ckpt-input').setInputFiles(resolve(root, 'public/demo/demo-unet.safetensors'));
    }
    await page.locator('#ft-steps').fill(process.env.BENCH_STEPS ?? '10');
    await page.locator('#ft-batch').fill(process.env.BENCH_BATCH ?? '4');
    await page.getByRole('button', { name: 'Measure speed' }).click();
    await page.waitForFunction(
      () => document.body.dataset.bench !== undefined || !document.getElementById('error')!.hidden,
      undefined,
      { timeout: 3_600_000 },
    );
    const error = await page.locator('#error').textContent();
    if (error) throw new Error(error);
    const result = JSON.parse((await page.evaluate(() => document.body.dataset.bench)) ?? '{}') as Record<
      string,
      unknown
    >;
    const version = await browser.version();
    console.log(
      JSON.stringify({ browser: `Chromium ${version}`, checkpoint: checkpoint ?? 'demo', ...result }),
    );
  } finally {
    await browser.close();
    server.kill();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
