/** Node's side of the pretrained registry: a cache folder (atomic writes) and downloads from http(s) or files. */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import type { ModelStore } from './download.js';

/**
 * The default cache folder: `$MRISEG_CACHE_DIR`, else `$XDG_CACHE_HOME/mriseg/models`, else
 * `~/.cache/mriseg/models` (as torch.hub keeps `~/.cache/torch/hub/checkpoints`).
 */
export function defaultCacheDir(): string {
  const env = process.env;
  if (env.MRISEG_CACHE_DIR) return resolve(env.MRISEG_CACHE_DIR);
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mriseg', 'models');
}

/** A folder as a ModelStore: files appear whole or not at all (written to a temporary name, then renamed). */
export function folderStore(dir: string): ModelStore {
  const path = (key: string) => join(dir, key);
  return {
    where: dir,
    async read(key) {
      const p = path(key);
      return existsSync(p) ? new Uint8Array(readFileSync(p)) : null;
    },
    async write(key, bytes) {
      mkdirSync(dir, { recursive: true });
      writeFileAtomic(path(key), bytes);
    },
    async remove(key) {
      rmSync(path(key), { force: true });
    },
  };
}

/** A URL for `url`: http(s) and file: URLs as they are, a local path as a file: URL. */
export function downloadUrl(url: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(url) && !/^[a-z]:[\\/]/i.test(url)
    ? url
    : pathToFileURL(isAbsolute(url) ? url : resolve(url)).href;
}

/** fetch, plus file: URLs (Node's fetch has none): a missing file reads as a 404 naming it. */
export const fetchWithFiles: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (!url.startsWith('file:')) return fetch(input, init);
  const path = fileURLToPath(url);
  if (!existsSync(path)) return new Response(null, { status: 404, statusText: `no file ${path}` });
  return new Response(readFileSync(path));
};
