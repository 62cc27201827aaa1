/**
 * The pretrained registry against a local HTTP server on 127.0.0.1 serving the shared reference model (no test
 * reaches the internet): download, integrity, cache, the error cases, and the weights it loads.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '@mriseg/nn/node';
import { initDevice } from '@mriseg/tensor-wgsl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cacheKey,
  fetchPretrained,
  PRETRAINED,
  PretrainedError,
  pretrainedHalfPrecision,
  pretrainedManifest,
  sha256Hex,
} from '../src/index.js';
import { downloadPretrained, loadPretrained } from '../src/node.js';

const SHARED = join(__dirname, '..', '..', '..', '..', 'shared', 'models', 'unet-lgg-f32.safetensors');
const manifest = pretrainedManifest('unet-lgg');
const f32 = new Uint8Array(readFileSync(SHARED));
const damaged = f32.slice();
damaged[damaged.length - 5] ^= 0x01; // one bit of a weight: same size, another hash

let server: Server;
let base = '';
let requests: string[] = [];
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mriseg-pretrained-'));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body =
      req.url === '/models/unet-lgg-f32.safetensors'
        ? f32
        : req.url === '/damaged/unet-lgg-f32.safetensors'
          ? damaged
          : req.url === '/short/unet-lgg-f32.safetensors'
            ? f32.subarray(0, 1 << 20)
            : null;
    if (!body) {
      res.writeHead(404, 'Not Found').end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  rmSync(dir, { recursive: true, force: true });
});

/** A port nothing listens on: one the OS just gave out and took back. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as AddressInfo).port;
  await new Promise((ok) => s.close(ok));
  return port;
}

/** The first index where two arrays differ (-1: equal, including the length). */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const fresh = (name: string) => mkdtempSync(join(dir, `${name}-`));

describe('pretrained manifest', () => {
  it('describes the shared file exactly, and names the known models when asked for another', async () => {
    expect(Object.keys(PRETRAINED)).toEqual(['unet-lgg']);
    expect(manifest.files.f32.bytes).toBe(f32.byteLength);
    expect(manifest.files.f32.sha256).toBe(await sha256Hex(f32));
    expect(manifest.inference).toMatchObject({
      inputSize: 256,
      channels: ['pre-contrast', 'FLAIR', 'post-contrast'],
    });
    expect(manifest.inference.preprocess.name).toBe('reference');
    for (const field of ['licence', 'provenance', 'citation'] as const)
      expect(manifest[field].length).toBeGreaterThan(40);
    expect(manifest.metrics[0]).toMatchObject({ name: 'mean DSC', value: 0.805 });
    expect(() => pretrainedManifest('resnet50')).toThrow(
      /unknown pretrained model "resnet50" \(known: unet-lgg\)/,
    );
  });

  it('the f16 file is the deterministic half-precision copy of the f32 one', async () => {
    const half = pretrainedHalfPrecision(manifest, f32, SHARED);
    expect(half.bytes.byteLength).toBe(manifest.files.f16.bytes);
    expect(await sha256Hex(half.bytes)).toBe(manifest.files.f16.sha256);
    // Kernels only: 18 3×3 convolutions, 4 transposed ones and the final 1×1.
    expect(half.converted).toHaveLength(23);
    expect(half.converted.every((k) => k.endsWith('.weight') && !k.includes('norm'))).toBe(true);
    expect(half.maxRelativeError).toBeLessThanOrEqual(2 ** -11);
  });
});

describe('downloading and caching', () => {
  it('downloads, verifies and caches atomically; then loads from the cache with no network at all', async () => {
    const cacheDir = fresh('cache');
    requests = [];
    const progress: number[] = [];
    const got = await downloadPretrained('unet-lgg', {
      url: `${base}/models/unet-lgg-f32.safetensors`,
      cacheDir,
      onProgress: (n) => progress.push(n),
    });
    expect(got.from).toBe('download');
    expect(requests).toEqual(['/models/unet-lgg-f32.safetensors']);
    expect(progress.at(-1)).toBe(f32.byteLength);
    expect(readdirSync(cacheDir)).toEqual([cacheKey(manifest.files.f32)]); // no temporary file left behind
    expect(got.path).toBe(join(cacheDir, 'unet-lgg-f32-f1a2fb8d65ff.safetensors'));
    expect(Buffer.compare(readFileSync(got.path!), f32)).toBe(0);

    // Cache hit: no URL (none is published), or one that cannot be reached: no request is made.
    const port = await closedPort();
    for (const url of [undefined, `http://127.0.0.1:${port}/unet-lgg-f32.safetensors`]) {
      const hit = await downloadPretrained('unet-lgg', { url, cacheDir });
      expect(hit.from).toBe('cache');
      expect(hit.location).toBe(got.path);
      expect(await sha256Hex(hit.bytes)).toBe(manifest.files.f32.sha256);
    }
    expect(requests).toHaveLength(1);
  });

  it('refuses a file whose hash differs and caches nothing', async () => {
    const cacheDir = fresh('mismatch');
    const url = `${base}/damaged/unet-lgg-f32.safetensors`;
    await expect(downloadPretrained('unet-lgg', { url, cacheDir })).rejects.toThrow(
      new RegExp(
        `unet-lgg: ${url} has sha256 [0-9a-f]{64}, but unet-lgg-f32.safetensors has ${manifest.files.f32.sha256}: refused`,
      ),
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('names the URL and the HTTP status of a 404, and a download cut short', async () => {
    const cacheDir = fresh('404');
    await expect(
      downloadPretrained('unet-lgg', { url: `${base}/nowhere/unet-lgg-f32.safetensors`, cacheDir }),
    ).rejects.toThrow(
      `unet-lgg: cannot download ${base}/nowhere/unet-lgg-f32.safetensors: HTTP 404 Not Found`,
    );
    await expect(
      downloadPretrained('unet-lgg', { url: `${base}/short/unet-lgg-f32.safetensors`, cacheDir }),
    ).rejects.toThrow(
      /got 1048576 of the 31087612 bytes of unet-lgg-f32.safetensors \(the download was cut short\)/,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('offline (connection refused) with nothing cached is one clear error', async () => {
    const cacheDir = fresh('offline');
    const url = `http://127.0.0.1:${await closedPort()}/unet-lgg-f32.safetensors`;
    const err = await downloadPretrained('unet-lgg', { url, cacheDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PretrainedError);
    expect((err as Error).message).toBe(
      `unet-lgg: cannot download ${url}: connection refused (offline, or the server is down), and no verified copy is cached in ${cacheDir}`,
    );
    // Nothing cached and no URL: says what to pass.
    await expect(downloadPretrained('unet-lgg', { cacheDir })).rejects.toThrow(
      /no verified copy of unet-lgg-f32.safetensors is cached in .* and no download address is known for it: pass \{ url \}/,
    );
  });

  it('a damaged cached copy is fetched again when it can be, and refused clearly when it cannot', async () => {
    const cacheDir = fresh('corrupt');
    const cached = join(cacheDir, cacheKey(manifest.files.f32));
    writeFileSync(cached, damaged);
    await expect(downloadPretrained('unet-lgg', { cacheDir })).rejects.toThrow(
      /the cached copy .*unet-lgg-f32-f1a2fb8d65ff.safetensors is damaged \(31087612 bytes, sha256 [0-9a-f]{64}; expected 31087612 bytes, f1a2fb8d.*\); removed it, and no download address/,
    );
    expect(existsSync(cached)).toBe(false);

    writeFileSync(cached, f32.subarray(0, 1000)); // a truncated copy, as a killed writer without rename would leave
    const warnings: string[] = [];
    const got = await downloadPretrained('unet-lgg', {
      url: `${base}/models/unet-lgg-f32.safetensors`,
      cacheDir,
      onWarning: (w) => warnings.push(w),
    });
    expect(got.from).toBe('download');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/is damaged \(1000 bytes.*removed it and downloading http:\/\/127\.0\.0\.1/);
    expect(Buffer.compare(readFileSync(cached), f32)).toBe(0);
  });

  it('reads a local path or file: URL, and the browser-side fetch with no store downloads every time', async () => {
    const got = await downloadPretrained('unet-lgg', { url: SHARED, cacheDir: null });
    expect(got).toMatchObject({ from: 'download', path: null });
    await expect(
      downloadPretrained('unet-lgg', { url: join(dir, 'absent.safetensors'), cacheDir: null }),
    ).rejects.toThrow(/HTTP 404 no file .*absent\.safetensors/);
    requests = [];
    for (let i = 0; i < 2; i++)
      expect(
        (await fetchPretrained('unet-lgg', { url: `${base}/models/unet-lgg-f32.safetensors` })).from,
      ).toBe('download');
    expect(requests).toHaveLength(2);
  });
});

describe('loading the model', () => {
  beforeAll(async () => {
    await initDevice();
  });

  it('gives the weights of the file read directly, f32 exactly and f16 within half-precision rounding', async () => {
    const cacheDir = fresh('load');
    const direct = loadCheckpoint(SHARED).model;
    const p = await loadPretrained('unet-lgg', { url: `${base}/models/unet-lgg-f32.safetensors`, cacheDir });
    expect(p.model.architecture).toBe('unet');
    expect(p.model.training).toBe(false);
    expect(p.model.numParameters()).toBe(manifest.parameters);
    expect(p.inference).toEqual(manifest.inference);
    const state = p.model.stateDict();
    expect([...state.keys()].sort()).toEqual([...direct.keys()].sort());
    // Compared element by element: toEqual on million-element arrays takes minutes.
    for (const [k, t] of state) expect(firstDifference(await t.data(), direct.get(k)!.data), k).toBe(-1);
    p.model.dispose();

    // The f16 copy, served as a file: kernels within 2^-11 of their largest value, everything else equal.
    const halfPath = join(dir, manifest.files.f16.file);
    writeFileSync(halfPath, pretrainedHalfPrecision(manifest, f32, SHARED).bytes);
    const h = await loadPretrained('unet-lgg', { url: halfPath, dtype: 'f16', cacheDir });
    expect(h.inference).toEqual(manifest.inference); // recorded in the f16 file itself
    for (const [k, t] of h.model.stateDict()) {
      const want = direct.get(k)!.data;
      const got = await t.data();
      if (t.shape.length < 2) expect(firstDifference(got, want), k).toBe(-1);
      else {
        let max = 0;
        let err = 0;
        for (let i = 0; i < want.length; i++) {
          max = Math.max(max, Math.abs(want[i]));
          err = Math.max(err, Math.abs(got[i] - want[i]));
        }
        expect(err, k).toBeLessThanOrEqual(max * 2 ** -11);
      }
    }
    h.model.dispose();
    expect(readdirSync(cacheDir).sort()).toEqual(
      [cacheKey(manifest.files.f16), cacheKey(manifest.files.f32)].sort(),
    );
  });
});
