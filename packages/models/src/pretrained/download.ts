/**
 * Getting a pretrained model's file: from a cache when a copy there has the manifest's SHA-256, else downloaded,
 * checked (size and SHA-256) and only then cached. Browser-safe: the cache is a `ModelStore` (a folder in Node,
 * the Cache API in a browser) and hashing is Web Crypto's, which Node has too.
 */
import {
  type PretrainedDtype,
  type PretrainedFile,
  type PretrainedManifest,
  pretrainedManifest,
} from './manifest.js';

export class PretrainedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PretrainedError';
  }
}

/** Where verified files are kept between runs. Keys are file names that include the start of the hash. */
export interface ModelStore {
  /** The place, for messages ("/home/u/.cache/mriseg/models", "the browser's Cache Storage 'mriseg-models'"). */
  readonly where: string;
  read(key: string): Promise<Uint8Array | null>;
  write(key: string, bytes: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
}

export interface FetchPretrainedOptions {
  /** Where to download the file from (default: the manifest's `baseUrl` + file name, when it has one). */
  url?: string;
  /** Which stored precision (default 'f32'); the model computes in f32 either way. */
  dtype?: PretrainedDtype;
  /** The cache; null: none (always download). */
  store?: ModelStore | null;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Called as bytes arrive (total: the manifest's size). */
  onProgress?: (received: number, total: number) => void;
  /** Told when a cached copy is found corrupt and fetched again. */
  onWarning?: (message: string) => void;
}

export interface PretrainedBytes {
  manifest: PretrainedManifest;
  file: PretrainedFile;
  bytes: Uint8Array;
  /** 'cache': a verified cached copy; 'download': fetched now (and cached when there is a store). */
  from: 'cache' | 'download';
  /** The URL it was downloaded from, or the cache entry it was read from. */
  location: string;
}

/** The cache key of a file: its name with the first 12 hex digits of its hash (as torch.hub names its files). */
export function cacheKey(file: PretrainedFile): string {
  return file.file.replace(/(\.[^.]+)$/, `-${file.sha256.slice(0, 12)}$1`);
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What went wrong in a failed fetch, in words (Node puts the system error in `cause`). */
function networkProblem(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (e as { code?: string }).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'connection timed out';
  return cause?.message ?? (e as Error).message ?? String(e);
}

async function readBody(
  res: Response,
  file: PretrainedFile,
  url: string,
  onProgress?: (received: number, total: number) => void,
): Promise<Uint8Array> {
  const out = new Uint8Array(file.bytes);
  let at = 0;
  if (!res.body) throw new PretrainedError(`${url}: the response has no body`);
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.byteLength > file.bytes) {
      await reader.cancel();
      throw new PretrainedError(
        `${url}: the server sent more than the ${file.bytes} bytes of ${file.file}: not the file the manifest describes`,
      );
    }
    out.set(value, at);
    at += value.byteLength;
    onProgress?.(at, file.bytes);
  }
  if (at !== file.bytes)
    throw new PretrainedError(
      `${url}: got ${at} of the ${file.bytes} bytes of ${file.file} (the download was cut short)`,
    );
  return out;
}

/** The file of pretrained model `name`, verified against its manifest, from the cache or downloaded. */
export async function fetchPretrained(
  name: string,
  options: FetchPretrainedOptions = {},
): Promise<PretrainedBytes> {
  const manifest = pretrainedManifest(name);
  const dtype = options.dtype ?? 'f32';
  const file = manifest.files[dtype];
  if (!file)
    throw new PretrainedError(`${name}: no ${dtype} file (have: ${Object.keys(manifest.files).join(', ')})`);
  const store = options.store ?? null;
  const key = cacheKey(file);
  const url = options.url ?? (manifest.baseUrl ? new URL(file.file, manifest.baseUrl).href : null);
  let corrupt = '';
  if (store) {
    const cached = await store.read(key);
    if (cached) {
      const hash = await sha256Hex(cached);
      if (hash === file.sha256)
        return { manifest, file, bytes: cached, from: 'cache', location: `${store.where}/${key}` };
      corrupt = `the cached copy ${store.where}/${key} is damaged (${cached.byteLength} bytes, sha256 ${hash}; expected ${file.bytes} bytes, ${file.sha256})`;
      await store.remove(key);
      if (url) options.onWarning?.(`${corrupt}: removed it and downloading ${url} again`);
    }
  }
  if (!url) {
    const place = store ? `in ${store.where}` : '(no cache given)';
    throw new PretrainedError(
      `${corrupt ? `${corrupt}; removed it, and` : `${name}: no verified copy of ${file.file} is cached ${place} and`} ` +
        `no download address is known for it: pass { url } pointing at a copy of ${file.file} (sha256 ${file.sha256})`,
    );
  }
  const get = options.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await get(url);
  } catch (e) {
    throw new PretrainedError(
      `${name}: cannot download ${url}: ${networkProblem(e)} (offline, or the server is down)` +
        (store ? `, and no verified copy is cached in ${store.where}` : ''),
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new PretrainedError(
      `${name}: cannot download ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd(),
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readBody(res, file, url, options.onProgress);
  } catch (e) {
    if (e instanceof PretrainedError) throw e;
    throw new PretrainedError(`${name}: the download of ${url} failed: ${networkProblem(e)}`);
  }
  const hash = await sha256Hex(bytes);
  if (hash !== file.sha256) {
    throw new PretrainedError(
      `${name}: ${url} has sha256 ${hash}, but ${file.file} has ${file.sha256}: refused (a different or damaged file), nothing cached`,
    );
  }
  await store?.write(key, bytes);
  return { manifest, file, bytes, from: 'download', location: url };
}
